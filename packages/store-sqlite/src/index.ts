/**
 * @daemoneye/store-sqlite — the embedded event store: `openEventStore` (a SQLite database written
 * from a worker thread, with migrations and retention), the collector sink over it
 * (`createStoreSink`, `storeSinkDefinition` for `[sinks.store]`), and read-only, time-limited SQL
 * (`runQuery`, `checkReadOnlySql`).
 */

export { storeSinkDefinition, storeSinkSchema } from './definition.ts';
export type { StoreErrorCode } from './errors.ts';
export { storeErrors } from './errors.ts';
export type {
  EventStore,
  EventStoreOptions,
  PruneReport,
  RetentionOptions,
  StoreStats,
  StoreWriteResult,
} from './event-store.ts';
export { DEFAULT_RETENTION, openEventStore } from './event-store.ts';
export { EVENT_TABLES, KIND_TABLES, SCHEMA_VERSION } from './internal/schema.ts';
export type { QueryOptions } from './query.ts';
export { DEFAULT_QUERY_TIMEOUT_MS, runQuery } from './query.ts';
export { checkReadOnlySql } from './sql-guard.ts';
export type { StoreSink, StoreSinkOptions, StoreSinkStats } from './store-sink.ts';
export { createStoreSink, DEFAULT_STORE_FILE, resolveStorePath } from './store-sink.ts';
