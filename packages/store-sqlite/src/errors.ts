/**
 * The error codes of `@daemoneye/store-sqlite`, declared through core's catalog so no other package
 * reuses them and docs/errors.md lists them. A full disk or an I/O error while the collector runs is
 * not thrown to the collector: the store sink retries and reports it through its health.
 */
import { defineErrorCatalog } from '@daemoneye/core';

/** The store's error catalog. */
export const storeErrors = defineErrorCatalog('@daemoneye/store-sqlite', [
  'ERR_STORE_OPEN',
  'ERR_STORE_SCHEMA',
  'ERR_STORE_WRITE',
  'ERR_STORE_CLOSED',
  'ERR_QUERY_REFUSED',
  'ERR_QUERY_FAILED',
  'ERR_QUERY_TIMEOUT',
]);

/** A code of the store. */
export type StoreErrorCode = (typeof storeErrors.codes)[number];
