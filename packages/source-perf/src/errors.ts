/**
 * The error codes of `@daemoneye/source-perf`, declared through core's catalog so no other package
 * reuses them and docs/errors.md lists them.
 */
import { defineErrorCatalog } from '@daemoneye/core';

/** The performance source's error catalog. */
export const perfErrors = defineErrorCatalog('@daemoneye/source-perf', ['ERR_PERF_THRESHOLD_INVALID']);

/** A code of the performance source. */
export type PerfErrorCode = (typeof perfErrors.codes)[number];
