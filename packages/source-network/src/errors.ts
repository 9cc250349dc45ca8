/**
 * The error codes of `@daemoneye/source-network`, declared through core's catalog so no other
 * package reuses them and docs/errors.md lists them. Configuration mistakes use core's
 * `ERR_CONFIG_INVALID`; these cover what only this source can run into.
 */
import { defineErrorCatalog } from '@daemoneye/core';

/** The network source's error catalog. */
export const networkErrors = defineErrorCatalog('@daemoneye/source-network', [
  'ERR_NETWORK_BACKEND_UNAVAILABLE',
  'ERR_NETWORK_DUMP_FAILED',
]);

/** A code of the network source. */
export type NetworkErrorCode = (typeof networkErrors.codes)[number];
