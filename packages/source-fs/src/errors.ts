/**
 * The error codes of `@daemoneye/source-fs`, declared through core's catalog so no other package
 * reuses them and docs/errors.md lists them. Configuration mistakes use core's `ERR_CONFIG_INVALID`.
 */
import { defineErrorCatalog } from '@daemoneye/core';

/** The filesystem source's error catalog. */
export const fsErrors = defineErrorCatalog('@daemoneye/source-fs', ['ERR_FS_BACKEND_UNAVAILABLE', 'ERR_FS_NO_PATHS']);

/** A code of the filesystem source. */
export type FsErrorCode = (typeof fsErrors.codes)[number];
