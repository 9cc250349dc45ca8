/**
 * The store sink's plug-in definition, `[sinks.store]`: the file (relative to `data_dir`) and the
 * retention limits, turned into a {@link createStoreSink}. The `daemoneye-collector` command has it
 * in its default list, so `run` stores every event. It adds no behaviour of its own.
 */
import { defineSink, field } from '@daemoneye/core';
import { DEFAULT_RETENTION } from './event-store.ts';
import { createStoreSink, DEFAULT_STORE_FILE } from './store-sink.ts';

/** The `[sinks.store]` fields besides `enabled`, `queue_capacity` and `overflow`. */
export const storeSinkSchema = {
  file: field('string', DEFAULT_STORE_FILE, 'SQLite database file, absolute or relative to data_dir'),
  max_age: field('duration', DEFAULT_RETENTION.maxAgeMs, 'Events older than this are deleted (0: keep all)', {
    min: 0,
  }),
  max_size: field('bytes', DEFAULT_RETENTION.maxSizeBytes, 'Oldest events are deleted above this size (0: no limit)', {
    min: 0,
  }),
  max_rows: field('integer', DEFAULT_RETENTION.maxRows, 'Oldest events are deleted above this count (0: no limit)', {
    min: 0,
  }),
  prune_interval: field('duration', DEFAULT_RETENTION.intervalMs, 'How often retention runs in the background', {
    min: 100,
  }),
} as const;

/** `[sinks.store]`: every event in the embedded SQLite store. */
export const storeSinkDefinition = defineSink({
  key: 'store',
  description: 'Events in an embedded SQLite store in data_dir, queried with `daemoneye-collector query`',
  schema: storeSinkSchema,
  create: (o) =>
    createStoreSink({
      file: o.file,
      retention: { maxAgeMs: o.maxAge, maxSizeBytes: o.maxSize, maxRows: o.maxRows, intervalMs: o.pruneInterval },
    }),
});
