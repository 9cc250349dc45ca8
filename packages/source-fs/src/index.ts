/**
 * @daemoneye/source-fs — the filesystem event source: fanotify (filesystem marks reporting names,
 * with the acting process, its name and uid) or recursive inotify within a watch budget; globs,
 * modify coalescing, SHA-256 on close-after-write, and a rescan after every kernel queue overflow.
 */

export { fsSourceDefinition } from './definition.ts';
export type { FsErrorCode } from './errors.ts';
export { fsErrors } from './errors.ts';
export type { FsSourceStats } from './fs-event-source.ts';
export { createFsSource, FsEventSource } from './fs-event-source.ts';
export type { FsBackendChoice, FsOperationName, FsSourceOptions, ResolvedFsSourceOptions } from './options.ts';
export { fsSourceSchema, resolveFsSourceOptions } from './options.ts';
