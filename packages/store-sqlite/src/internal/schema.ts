/**
 * The store's layout and its history: one table per event kind with the columns people query, the
 * whole event as JSON, keyed by the record's sequence number; a `runs` table with the run id and the
 * host identity; convenience views. `MIGRATIONS[n]` turns a store of version `n` into version `n + 1`
 * (the version is SQLite's `user_version`), so a newer collector opens any older store. This module
 * only describes SQL; the writer applies it.
 */
import type Database from 'better-sqlite3';

/** The schema version this code writes. */
export const SCHEMA_VERSION = 2;

/** The table each event kind is stored in. */
export const KIND_TABLES = {
  process: 'process_events',
  network: 'network_events',
  filesystem: 'filesystem_events',
  performance: 'performance_events',
  trigger_request: 'trigger_requests',
  analysis_result: 'analysis_results',
} as const;

/** Every event table, in a stable order. */
export const EVENT_TABLES = Object.values(KIND_TABLES);

/**
 * Columns every event table starts with (beside `event`, the JSON, at the end). `run` points into
 * `runs`; it is not declared as a foreign key because enforcing it costs a lookup per insert and the
 * writer is the only one to set it.
 */
const COMMON = `seq INTEGER PRIMARY KEY, run INTEGER NOT NULL, source TEXT NOT NULL,
  accepted_at INTEGER NOT NULL, time INTEGER NOT NULL, cause_seq INTEGER, depth INTEGER NOT NULL DEFAULT 0`;

/** Epoch milliseconds now, in SQL. */
const NOW_MS = `CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)`;

/** Version 0 → 1: the tables and indexes of the first release. */
const V1 = `
CREATE TABLE runs (run INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE, hostname TEXT NOT NULL,
  first_seen INTEGER NOT NULL);
CREATE TABLE process_events (${COMMON}, subtype TEXT NOT NULL, pid INTEGER NOT NULL, ppid INTEGER,
  name TEXT NOT NULL, executable_path TEXT, command_line TEXT, start_time INTEGER, cpu_usage REAL,
  memory_usage INTEGER, executable_hash TEXT, user_id TEXT, user_name TEXT, exit_code INTEGER, event TEXT NOT NULL);
CREATE INDEX process_events_time ON process_events(time);
CREATE INDEX process_events_pid ON process_events(pid, time);
CREATE INDEX process_events_name ON process_events(name);
CREATE INDEX process_events_path ON process_events(executable_path);
CREATE TABLE network_events (${COMMON}, connection_id TEXT NOT NULL, pid INTEGER, protocol TEXT NOT NULL,
  state TEXT NOT NULL, source_addr TEXT NOT NULL, dest_addr TEXT NOT NULL, bytes_sent INTEGER,
  bytes_received INTEGER, event TEXT NOT NULL);
CREATE INDEX network_events_time ON network_events(time);
CREATE INDEX network_events_pid ON network_events(pid, time);
CREATE TABLE filesystem_events (${COMMON}, path TEXT NOT NULL, operation TEXT NOT NULL, pid INTEGER,
  size INTEGER, permissions TEXT, file_hash TEXT, event TEXT NOT NULL);
CREATE INDEX filesystem_events_time ON filesystem_events(time);
CREATE INDEX filesystem_events_path ON filesystem_events(path);
CREATE INDEX filesystem_events_pid ON filesystem_events(pid, time);
CREATE TABLE performance_events (${COMMON}, metric_name TEXT NOT NULL, component TEXT NOT NULL,
  value REAL NOT NULL, unit TEXT NOT NULL, pid INTEGER, event TEXT NOT NULL);
CREATE INDEX performance_events_time ON performance_events(time);
CREATE INDEX performance_events_metric ON performance_events(metric_name, time);
CREATE INDEX performance_events_pid ON performance_events(pid, time);
CREATE TABLE trigger_requests (${COMMON}, trigger_id TEXT NOT NULL, analysis_type TEXT NOT NULL,
  priority INTEGER NOT NULL, target_pid INTEGER, target_path TEXT, correlation_id TEXT NOT NULL,
  event TEXT NOT NULL);
CREATE INDEX trigger_requests_time ON trigger_requests(time);
CREATE INDEX trigger_requests_pid ON trigger_requests(target_pid, time);
CREATE INDEX trigger_requests_path ON trigger_requests(target_path);
CREATE TABLE analysis_results (${COMMON}, analysis_type TEXT NOT NULL, trigger_id TEXT, correlation_id TEXT,
  success INTEGER NOT NULL, error TEXT, event TEXT NOT NULL);
CREATE INDEX analysis_results_time ON analysis_results(time);
`;

/**
 * Version 1 → 2: the host's machine id on runs; working directory, cgroup and container id on process
 * events (filled in from the stored JSON for rows written by version 1) with an index on the
 * container; the convenience views.
 */
const V2 = `
ALTER TABLE runs ADD COLUMN machine_id TEXT;
ALTER TABLE process_events ADD COLUMN cwd TEXT;
ALTER TABLE process_events ADD COLUMN cgroup TEXT;
ALTER TABLE process_events ADD COLUMN container_id TEXT;
UPDATE process_events SET cwd = json_extract(event, '$.cwd'), cgroup = json_extract(event, '$.cgroup'),
  container_id = json_extract(event, '$.containerId');
CREATE INDEX process_events_container ON process_events(container_id) WHERE container_id IS NOT NULL;
CREATE VIEW events AS
  SELECT e.seq, 'process' AS kind, e.time, e.pid, e.source, r.run_id, r.hostname, e.event FROM process_events e JOIN runs r USING (run)
  UNION ALL SELECT e.seq, 'network', e.time, e.pid, e.source, r.run_id, r.hostname, e.event FROM network_events e JOIN runs r USING (run)
  UNION ALL SELECT e.seq, 'filesystem', e.time, e.pid, e.source, r.run_id, r.hostname, e.event FROM filesystem_events e JOIN runs r USING (run)
  UNION ALL SELECT e.seq, 'performance', e.time, e.pid, e.source, r.run_id, r.hostname, e.event FROM performance_events e JOIN runs r USING (run)
  UNION ALL SELECT e.seq, 'trigger_request', e.time, e.target_pid, e.source, r.run_id, r.hostname, e.event FROM trigger_requests e JOIN runs r USING (run)
  UNION ALL SELECT e.seq, 'analysis_result', e.time, NULL, e.source, r.run_id, r.hostname, e.event FROM analysis_results e JOIN runs r USING (run);
CREATE VIEW processes_last_hour AS
  SELECT p.seq, p.time, p.subtype, p.pid, p.ppid, p.name, p.command_line, p.executable_path, p.user_name,
    p.container_id,
    (SELECT q.name FROM process_events q WHERE q.pid = p.ppid AND q.time <= p.time ORDER BY q.time DESC LIMIT 1) AS parent_name,
    (SELECT q.command_line FROM process_events q WHERE q.pid = p.ppid AND q.time <= p.time ORDER BY q.time DESC LIMIT 1) AS parent_command_line
  FROM process_events p
  WHERE p.subtype IN ('start', 'exec') AND p.time >= ${NOW_MS} - 3600000;
CREATE VIEW connections_per_process AS
  SELECT n.pid,
    (SELECT q.name FROM process_events q WHERE q.pid = n.pid ORDER BY q.time DESC LIMIT 1) AS name,
    count(DISTINCT n.connection_id) AS connections, sum(n.state = 'ESTABLISHED') AS established_events,
    min(n.time) AS first_seen, max(n.time) AS last_seen
  FROM network_events n WHERE n.pid IS NOT NULL GROUP BY n.pid;
`;

/** `MIGRATIONS[n]` upgrades version `n` to `n + 1`. */
export const MIGRATIONS: readonly string[] = [V1, V2];

/**
 * Brings `db` to `target` (default {@link SCHEMA_VERSION}), one version per transaction. Returns the
 * version found. Throws an `Error` with `newer: true` for a store written by a newer collector.
 */
export function migrate(db: Database.Database, target: number = SCHEMA_VERSION): number {
  const found = db.pragma('user_version', { simple: true }) as number;
  if (found > SCHEMA_VERSION) {
    throw Object.assign(new Error(`the store has schema version ${found}, newer than ${SCHEMA_VERSION}`), {
      newer: true,
    });
  }
  if (found === 0) {
    // Incremental vacuum lets retention give freed pages back; it can only be chosen before any table.
    db.pragma('auto_vacuum = INCREMENTAL');
  }
  for (let v = found; v < target; v++) {
    const sql = MIGRATIONS[v];
    if (sql === undefined) break;
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return found;
}
