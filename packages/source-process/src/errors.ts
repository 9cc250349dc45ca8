/**
 * The error codes of `@daemoneye/source-process`. None is thrown today: each is a reason value in
 * `platformMetadata.hashError` of process events, saying why an executable has no hash. They are
 * declared through core's catalog so no other package can reuse them and docs/errors.md lists them.
 */
import { defineErrorCatalog } from '@daemoneye/core';

/** The process source's error catalog. */
export const processErrors = defineErrorCatalog('@daemoneye/source-process', [
  'ERR_PROCESS_GONE',
  'ERR_HASH_TOO_LARGE',
  'ERR_HASH_TIMEOUT',
]);

/** A code of the process source. */
export type ProcessErrorCode = (typeof processErrors.codes)[number];
