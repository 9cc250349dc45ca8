/**
 * The store's layout and its history: one table per event kind with the columns people query, the
 * whole event as JSON, keyed by the record's sequence number; a `runs` table with the run id and the
 * host identity; convenience views. Since version 3 process events, the bulk of a host's events, are
 * stored compactly in `process_rows` (repeated strings as ids into `strings`, no JSON beyond the
 * fields without a column, two indexes) and read through the `process_events` view, which has the
 * columns and the `event` JSON of version 2; since version 4 filesystem events, the bulk under file churn,
 * are stored the same way in `filesystem_rows`, read through the `filesystem_events` view. `MIGRATIONS[n]` turns a store of version `n` into version `n + 1`
 * (the version is SQLite's `user_version`), so a newer collector opens any older store. This module
 * only describes SQL; the writer applies it.
 */
import type Database from 'better-sqlite3';

/** The schema version this code writes. */
export const SCHEMA_VERSION = 4;

/** The table each event kind is stored in. */
export const KIND_TABLES = {
  process: 'process_events',
  network: 'network_events',
  filesystem: 'filesystem_events',
  performance: 'performance_events',
  trigger_request: 'trigger_requests',
  analysis_result: 'analysis_results',
} as const;

/** Every event table (a view for process events), in a stable order. */
export const EVENT_TABLES = Object.values(KIND_TABLES);

/**
 * The table each event kind's rows are written to (`process_events` and `filesystem_events` are views
 * over `process_rows` and `filesystem_rows`).
 */
export const STORAGE_TABLES = { ...KIND_TABLES, process: 'process_rows', filesystem: 'filesystem_rows' } as const;

/** Every table holding event rows, in a stable order. */
export const STORAGE_TABLE_LIST = Object.values(STORAGE_TABLES);

/**
 * Bits of `process_rows.flags`: the event's `accessible` and `fileExists`, and whether each was absent
 * (so the rebuilt JSON leaves it out, as the event did).
 */
export const PROCESS_FLAGS = { accessible: 1, fileExists: 2, noAccessible: 4, noFileExists: 8 } as const;

/**
 * Bits of `filesystem_rows.flags`: the event's `isDirectory` and `rescan` when true, and when present
 * and false (absent, neither bit is set and the rebuilt JSON leaves the field out).
 */
export const FILESYSTEM_FLAGS = { directory: 1, notDirectory: 2, rescan: 4, notRescan: 8 } as const;

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

/** `strings.value` of the id in column `col` of the row `p`. */
const str = (col: string, p = 'p'): string => `(SELECT value FROM strings WHERE id = ${p}.${col})`;

/**
 * The `event` JSON of a `process_rows` row `p`: the columns, with the fields that were absent left
 * out (`json_patch` onto `{}` drops nulls), merged with `extra` (the fields without a column).
 * `commandLine` is `command_line` split at spaces unless `argv` holds it (an argument had a space).
 */
const PROCESS_EVENT_JSON = `json_patch(json_patch('{}', json_object('kind', 'process', 'subtype', ${str('subtype')},
    'pid', p.pid, 'ppid', p.ppid, 'name', ${str('name')}, 'executablePath', ${str('executable_path')},
    'commandLine', CASE WHEN p.argv IS NOT NULL THEN json(p.argv) WHEN p.command_line IS NULL THEN json_array()
      ELSE json('[' || replace(json_quote(p.command_line), ' ', '","') || ']') END,
    'startTime', p.start_time, 'cpuUsage', p.cpu_usage, 'memoryUsage', p.memory_usage,
    'executableHash', ${str('executable_hash')}, 'userId', ${str('user_id')}, 'userName', ${str('user_name')},
    'accessible', CASE WHEN p.flags & 4 THEN NULL WHEN p.flags & 1 THEN json('true') ELSE json('false') END,
    'fileExists', CASE WHEN p.flags & 8 THEN NULL WHEN p.flags & 2 THEN json('true') ELSE json('false') END,
    'exitCode', p.exit_code, 'cwd', ${str('cwd')}, 'cgroup', ${str('cgroup')}, 'containerId', ${str('container_id')},
    'timestamp', p.time)), coalesce(p.extra, '{}'))`;

/** The latest `col` of the parent of `p` recorded before `p` (by sequence number), through the pid index. */
const parentOf = (col: string): string =>
  `(SELECT ${col} FROM process_rows q WHERE q.pid = p.ppid AND q.seq < p.seq ORDER BY q.seq DESC LIMIT 1)`;

/** The view of every event, kind by kind (version 3 on; created again when a table becomes a view). */
const EVENTS_VIEW = `
CREATE VIEW events AS
  SELECT e.seq, 'process' AS kind, e.time, e.pid, e.source, r.run_id, r.hostname, e.event FROM process_events e JOIN runs r USING (run)
  UNION ALL SELECT e.seq, 'network', e.time, e.pid, e.source, r.run_id, r.hostname, e.event FROM network_events e JOIN runs r USING (run)
  UNION ALL SELECT e.seq, 'filesystem', e.time, e.pid, e.source, r.run_id, r.hostname, e.event FROM filesystem_events e JOIN runs r USING (run)
  UNION ALL SELECT e.seq, 'performance', e.time, e.pid, e.source, r.run_id, r.hostname, e.event FROM performance_events e JOIN runs r USING (run)
  UNION ALL SELECT e.seq, 'trigger_request', e.time, e.target_pid, e.source, r.run_id, r.hostname, e.event FROM trigger_requests e JOIN runs r USING (run)
  UNION ALL SELECT e.seq, 'analysis_result', e.time, NULL, e.source, r.run_id, r.hostname, e.event FROM analysis_results e JOIN runs r USING (run);`;

/** Views of version 3 (dropped and created again by the migration). */
const V3_VIEWS = `
CREATE VIEW process_events AS
  SELECT p.seq, p.run, ${str('source')} AS source, p.accepted_at, p.time, p.cause_seq, p.depth,
    ${str('subtype')} AS subtype, p.pid, p.ppid, ${str('name')} AS name, ${str('executable_path')} AS executable_path,
    p.command_line, p.start_time, p.cpu_usage, p.memory_usage, ${str('executable_hash')} AS executable_hash,
    ${str('user_id')} AS user_id, ${str('user_name')} AS user_name, p.exit_code, ${PROCESS_EVENT_JSON} AS event,
    ${str('cwd')} AS cwd, ${str('cgroup')} AS cgroup, ${str('container_id')} AS container_id
  FROM process_rows p;
${EVENTS_VIEW}
CREATE VIEW processes_last_hour AS
  SELECT p.seq, p.time, ${str('subtype')} AS subtype, p.pid, p.ppid, ${str('name')} AS name, p.command_line,
    ${str('executable_path')} AS executable_path, ${str('user_name')} AS user_name, ${str('container_id')} AS container_id,
    (SELECT value FROM strings WHERE id = ${parentOf('q.name')}) AS parent_name,
    ${parentOf('q.command_line')} AS parent_command_line
  FROM process_rows p
  WHERE p.subtype IN (SELECT id FROM strings WHERE value IN ('start', 'exec')) AND p.time >= ${NOW_MS} - 3600000;
CREATE VIEW connections_per_process AS
  SELECT n.pid,
    (SELECT value FROM strings WHERE id = (SELECT q.name FROM process_rows q WHERE q.pid = n.pid ORDER BY q.seq DESC LIMIT 1)) AS name,
    count(DISTINCT n.connection_id) AS connections, sum(n.state = 'ESTABLISHED') AS established_events,
    min(n.time) AS first_seen, max(n.time) AS last_seen
  FROM network_events n WHERE n.pid IS NOT NULL GROUP BY n.pid;
`;

/** The string columns of `process_rows` that hold ids into `strings`. */
export const PROCESS_STRING_COLUMNS = [
  'source',
  'subtype',
  'name',
  'executable_path',
  'executable_hash',
  'user_id',
  'user_name',
  'cwd',
  'cgroup',
  'container_id',
] as const;

/** The fields of a process event that have a column of their own (the rest go to `extra`). */
const PROCESS_FIELDS = `'$.kind', '$.subtype', '$.pid', '$.ppid', '$.name', '$.executablePath', '$.commandLine',
  '$.startTime', '$.cpuUsage', '$.memoryUsage', '$.executableHash', '$.userId', '$.userName', '$.accessible',
  '$.fileExists', '$.exitCode', '$.cwd', '$.cgroup', '$.containerId', '$.timestamp'`;

/**
 * Version 2 → 3: process events move to `process_rows`, with their strings interned in `strings`,
 * `argv` only when the command line cannot be split back at spaces, `flags` for the two booleans and
 * `extra` for the fields without a column (from the stored JSON); indexes on time and pid only (name
 * and path are found through `strings`). `process_events` becomes a view with the same columns and
 * the same `event`, and the views are created again over it.
 */
const V3 = `
DROP VIEW events;
DROP VIEW processes_last_hour;
DROP VIEW connections_per_process;
CREATE TABLE strings (id INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE);
CREATE TABLE process_rows (seq INTEGER PRIMARY KEY, run INTEGER NOT NULL, source INTEGER NOT NULL,
  accepted_at INTEGER NOT NULL, time INTEGER NOT NULL, cause_seq INTEGER, depth INTEGER NOT NULL DEFAULT 0,
  subtype INTEGER NOT NULL, pid INTEGER NOT NULL, ppid INTEGER, name INTEGER NOT NULL, executable_path INTEGER,
  command_line TEXT, argv TEXT, start_time INTEGER, cpu_usage REAL, memory_usage INTEGER, executable_hash INTEGER,
  user_id INTEGER, user_name INTEGER, exit_code INTEGER, cwd INTEGER, cgroup INTEGER, container_id INTEGER,
  flags INTEGER NOT NULL, extra TEXT);
INSERT OR IGNORE INTO strings (value)
  SELECT source FROM process_events UNION SELECT subtype FROM process_events UNION SELECT name FROM process_events
  UNION SELECT executable_path FROM process_events WHERE executable_path IS NOT NULL
  UNION SELECT executable_hash FROM process_events WHERE executable_hash IS NOT NULL
  UNION SELECT user_id FROM process_events WHERE user_id IS NOT NULL
  UNION SELECT user_name FROM process_events WHERE user_name IS NOT NULL
  UNION SELECT cwd FROM process_events WHERE cwd IS NOT NULL
  UNION SELECT cgroup FROM process_events WHERE cgroup IS NOT NULL
  UNION SELECT container_id FROM process_events WHERE container_id IS NOT NULL;
INSERT INTO process_rows
  SELECT seq, run, (SELECT id FROM strings WHERE value = e.source), accepted_at, time, cause_seq, depth,
    (SELECT id FROM strings WHERE value = e.subtype), pid, ppid, (SELECT id FROM strings WHERE value = e.name),
    (SELECT id FROM strings WHERE value = e.executable_path), command_line,
    CASE WHEN json_type(event, '$.commandLine') = 'array' AND EXISTS (SELECT 1 FROM json_each(event, '$.commandLine')
      WHERE instr(value, ' ') > 0) THEN json_extract(event, '$.commandLine') END,
    start_time, cpu_usage, memory_usage, (SELECT id FROM strings WHERE value = e.executable_hash),
    (SELECT id FROM strings WHERE value = e.user_id), (SELECT id FROM strings WHERE value = e.user_name), exit_code,
    (SELECT id FROM strings WHERE value = e.cwd), (SELECT id FROM strings WHERE value = e.cgroup),
    (SELECT id FROM strings WHERE value = e.container_id),
    CASE json_type(event, '$.accessible') WHEN 'true' THEN 1 WHEN 'false' THEN 0 ELSE 4 END
      | CASE json_type(event, '$.fileExists') WHEN 'true' THEN 2 WHEN 'false' THEN 0 ELSE 8 END,
    nullif(json_remove(event, ${PROCESS_FIELDS}), '{}')
  FROM process_events e;
DROP TABLE process_events;
CREATE INDEX process_rows_time ON process_rows(time);
CREATE INDEX process_rows_pid ON process_rows(pid);
CREATE INDEX process_rows_container ON process_rows(container_id) WHERE container_id IS NOT NULL;
${V3_VIEWS}`;

/** The string columns of `filesystem_rows` that hold ids into `strings`. */
export const FILESYSTEM_STRING_COLUMNS = [
  'source',
  'operation',
  'permissions',
  'process_name',
  'hash_algorithm',
] as const;

/** The tables whose rows refer to `strings`, with those columns (the string sweep marks them all). */
export const STRING_REFERENCES = [
  { table: 'process_rows', columns: PROCESS_STRING_COLUMNS },
  { table: 'filesystem_rows', columns: FILESYSTEM_STRING_COLUMNS },
] as const;

/**
 * The `event` JSON of a `filesystem_rows` row `f`: the columns, absent fields left out, merged with
 * `extra` (as for process rows).
 */
const FILESYSTEM_EVENT_JSON = `json_patch(json_patch('{}', json_object('kind', 'filesystem', 'path', f.path,
    'operation', ${str('operation', 'f')}, 'pid', f.pid, 'size', f.size, 'permissions', ${str('permissions', 'f')},
    'fileHash', f.file_hash, 'timestamp', f.time, 'oldPath', f.old_path, 'processName', ${str('process_name', 'f')},
    'uid', f.uid, 'ownerUid', f.owner_uid, 'ownerGid', f.owner_gid,
    'isDirectory', CASE WHEN f.flags & 1 THEN json('true') WHEN f.flags & 2 THEN json('false') END,
    'modifyCount', f.modify_count, 'hashAlgorithm', ${str('hash_algorithm', 'f')},
    'rescan', CASE WHEN f.flags & 4 THEN json('true') WHEN f.flags & 8 THEN json('false') END,
    'lostCount', f.lost_count)), coalesce(f.extra, '{}'))`;

/** A JSON field of `e.event` when its JSON type is one of `types`, else NULL (it then stays in `extra`). */
const field = (name: string, ...types: string[]): string =>
  `CASE WHEN json_type(e.event, '$.${name}') IN (${types.map((t) => `'${t}'`).join(', ')}) THEN json_extract(e.event, '$.${name}') END`;

/**
 * The path of a JSON field for `json_remove` when it has a column (its type fits), else `$[0]`, which
 * matches nothing in an object.
 */
const moved = (name: string, ...types: string[]): string =>
  `CASE WHEN json_type(e.event, '$.${name}') IN (${types.map((t) => `'${t}'`).join(', ')}) THEN '$.${name}' ELSE '$[0]' END`;

const NUM = ['integer', 'real'];
/** The fields of a filesystem event with a column of their own, by the JSON type the column holds. */
const FS_NUMBER_FIELDS = ['pid', 'size', 'uid', 'ownerUid', 'ownerGid', 'modifyCount', 'lostCount'];
const FS_TEXT_FIELDS = ['oldPath', 'fileHash'];
const FS_INTERNED_FIELDS = ['permissions', 'processName', 'hashAlgorithm'];

/**
 * Version 3 → 4: filesystem events move to `filesystem_rows`, every field of the event in a column of
 * its own (the few repeated strings as ids into `strings`, the two booleans in `flags`), `extra` only
 * for fields without a column or of another type than their column's; indexes on time, path and pid.
 * `filesystem_events` becomes a view with the columns and the `event` of version 3.
 */
const V4 = `
DROP VIEW events;
CREATE TABLE filesystem_rows (seq INTEGER PRIMARY KEY, run INTEGER NOT NULL, source INTEGER NOT NULL,
  accepted_at INTEGER NOT NULL, time INTEGER NOT NULL, cause_seq INTEGER, depth INTEGER NOT NULL DEFAULT 0,
  path TEXT NOT NULL, operation INTEGER NOT NULL, pid INTEGER, size INTEGER, permissions INTEGER, file_hash TEXT,
  old_path TEXT, process_name INTEGER, uid INTEGER, owner_uid INTEGER, owner_gid INTEGER, modify_count INTEGER,
  hash_algorithm INTEGER, lost_count INTEGER, flags INTEGER NOT NULL, extra TEXT);
INSERT OR IGNORE INTO strings (value)
  SELECT source FROM filesystem_events UNION SELECT operation FROM filesystem_events
  ${FS_INTERNED_FIELDS.map(
    (k) => `UNION SELECT ${field(k, 'text')} FROM filesystem_events e WHERE json_type(e.event, '$.${k}') = 'text'`,
  ).join('\n  ')};
INSERT INTO filesystem_rows
  SELECT seq, run, (SELECT id FROM strings WHERE value = e.source), accepted_at, time, cause_seq, depth, path,
    (SELECT id FROM strings WHERE value = e.operation), ${field('pid', ...NUM)}, ${field('size', ...NUM)},
    (SELECT id FROM strings WHERE value = ${field('permissions', 'text')}), ${field('fileHash', 'text')},
    ${field('oldPath', 'text')}, (SELECT id FROM strings WHERE value = ${field('processName', 'text')}),
    ${field('uid', ...NUM)}, ${field('ownerUid', ...NUM)}, ${field('ownerGid', ...NUM)}, ${field('modifyCount', ...NUM)},
    (SELECT id FROM strings WHERE value = ${field('hashAlgorithm', 'text')}), ${field('lostCount', ...NUM)},
    CASE json_type(e.event, '$.isDirectory') WHEN 'true' THEN 1 WHEN 'false' THEN 2 ELSE 0 END
      | CASE json_type(e.event, '$.rescan') WHEN 'true' THEN 4 WHEN 'false' THEN 8 ELSE 0 END,
    nullif(json_remove(e.event, '$.kind', '$.path', '$.operation', '$.timestamp',
      ${[
        ...FS_NUMBER_FIELDS.map((k) => moved(k, ...NUM)),
        ...[...FS_TEXT_FIELDS, ...FS_INTERNED_FIELDS].map((k) => moved(k, 'text')),
        moved('isDirectory', 'true', 'false'),
        moved('rescan', 'true', 'false'),
      ].join(',\n      ')}), '{}')
  FROM filesystem_events e;
DROP TABLE filesystem_events;
CREATE INDEX filesystem_rows_time ON filesystem_rows(time);
CREATE INDEX filesystem_rows_path ON filesystem_rows(path);
CREATE INDEX filesystem_rows_pid ON filesystem_rows(pid) WHERE pid IS NOT NULL;
CREATE VIEW filesystem_events AS
  SELECT f.seq, f.run, ${str('source', 'f')} AS source, f.accepted_at, f.time, f.cause_seq, f.depth, f.path,
    ${str('operation', 'f')} AS operation, f.pid, f.size, ${str('permissions', 'f')} AS permissions, f.file_hash,
    ${FILESYSTEM_EVENT_JSON} AS event
  FROM filesystem_rows f;
${EVENTS_VIEW}`;

/** `MIGRATIONS[n]` upgrades version `n` to `n + 1`. */
export const MIGRATIONS: readonly string[] = [V1, V2, V3, V4];

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
