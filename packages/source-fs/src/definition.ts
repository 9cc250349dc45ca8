/**
 * The filesystem source's plug-in definition: the `[sources.filesystem]` section (from
 * `fsSourceSchema`) and a factory turning its typed values into an `FsEventSource`. The collector's
 * data directory is always excluded, so the store's own writes never come back as events.
 */
import { defineSource } from '@daemoneye/core';
import { createFsSource } from './fs-event-source.ts';
import { type FsBackendChoice, type FsOperationName, fsSourceSchema } from './options.ts';

/** `[sources.filesystem]`: the filesystem source. */
export const fsSourceDefinition = defineSource({
  key: 'filesystem',
  description:
    'File creates, modifies, deletes, renames and permission changes under chosen trees (fanotify or inotify)',
  schema: fsSourceSchema,
  create: (o, context) =>
    createFsSource({
      paths: o.paths,
      include: o.include,
      exclude: o.exclude,
      excludeTrees: context.dataDir === undefined ? [] : [context.dataDir],
      backend: o.backend as FsBackendChoice,
      fanotifyMark: o.fanotifyMark as 'filesystem' | 'mount',
      operations: o.operations as FsOperationName[],
      coalesceMs: o.coalesceWindow,
      hash: o.hash,
      hashMaxBytes: o.hashMaxSize,
      maxWatches: o.maxWatches,
      rateLimit: o.rateLimit,
      logger: context.logger,
    }),
});
