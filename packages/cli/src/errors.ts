/**
 * The error codes of `@daemoneye/cli`: `ERR_CLI_USAGE` for a command line the command cannot run
 * (an unknown command or option, a missing option value, an extra argument),
 * `ERR_CLI_COLLECTOR_UNREACHABLE` when `status` finds no collector on its socket, and `ERR_CLI_NOT_RUNNING`
 * when `reload` finds no running collector (or it does not answer), `ERR_CLI_PRIVILEGES` when `run --user`
 * cannot drop privileges (not started as root, an unknown user, a step of the drop that failed),
 * `ERR_CLI_ALREADY_RUNNING` when `run` finds another collector running with its data directory. Declared through core's
 * catalog so no other package reuses the code and docs/errors.md lists it.
 */
import { defineErrorCatalog } from '@daemoneye/core';

/** The command's error catalog. */
export const cliErrors = defineErrorCatalog('@daemoneye/cli', [
  'ERR_CLI_USAGE',
  'ERR_CLI_COLLECTOR_UNREACHABLE',
  'ERR_CLI_NOT_RUNNING',
  'ERR_CLI_PRIVILEGES',
  'ERR_CLI_ALREADY_RUNNING',
]);
