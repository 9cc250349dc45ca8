/**
 * How an event becomes a row: for each kind, the columns of its table after the common ones and a
 * function reading them from the event; for process and filesystem events, the compact
 * `process_rows` and `filesystem_rows` rows ({@link processRow}, {@link filesystemRow}) whose repeated
 * strings are ids from a {@link StringIds}. `INSERT OR IGNORE` on the
 * sequence number makes a write of a record already stored (after a crash and a replay, say) a
 * no-op. No database access except through the `StringIds` given.
 */
import type { CollectionEvent, EventKind, FilesystemEvent, ProcessEvent } from '@daemoneye/core';
import { FILESYSTEM_FLAGS, KIND_TABLES, PROCESS_FLAGS, STORAGE_TABLES } from './schema.ts';

/** A SQLite value. */
export type SqlValue = number | string | null;

type Columns<K extends EventKind> = {
  readonly names: readonly string[];
  readonly values: (e: Extract<CollectionEvent, { kind: K }>) => SqlValue[];
};

const opt = (v: number | string | undefined): SqlValue => (v === undefined ? null : v);

/**
 * A value its column cannot be without. Missing, it throws {@link InvalidEventError}: `INSERT OR
 * IGNORE` would otherwise skip the row without a word, and the write would count it as a duplicate.
 */
const need = (v: number | string | undefined | null, field: string): SqlValue => {
  if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) return v;
  throw new InvalidEventError(`event without a valid ${field}`);
};

const KIND_COLUMNS: { readonly [K in EventKind]: Columns<K> } = {
  process: {
    names: [
      'subtype',
      'pid',
      'ppid',
      'name',
      'executable_path',
      'command_line',
      'start_time',
      'cpu_usage',
      'memory_usage',
      'executable_hash',
      'user_id',
      'user_name',
      'exit_code',
      'cwd',
      'cgroup',
      'container_id',
    ],
    values: (e) => [
      e.subtype,
      e.pid,
      opt(e.ppid),
      e.name,
      opt(e.executablePath),
      e.commandLine.length > 0 ? e.commandLine.join(' ') : null,
      opt(e.startTime),
      opt(e.cpuUsage),
      opt(e.memoryUsage),
      opt(e.executableHash),
      opt(e.userId),
      opt(e.userName),
      opt(e.exitCode),
      opt(e.cwd),
      opt(e.cgroup),
      opt(e.containerId),
    ],
  },
  network: {
    names: ['connection_id', 'pid', 'protocol', 'state', 'source_addr', 'dest_addr', 'bytes_sent', 'bytes_received'],
    values: (e) => [
      need(e.connectionId, 'connectionId'),
      opt(e.pid),
      need(e.protocol, 'protocol'),
      need(e.state, 'state'),
      need(e.sourceAddr, 'sourceAddr'),
      need(e.destAddr, 'destAddr'),
      opt(e.bytesSent),
      opt(e.bytesReceived),
    ],
  },
  filesystem: {
    names: ['path', 'operation', 'pid', 'size', 'permissions', 'file_hash'],
    values: (e) => [
      need(e.path, 'path'),
      need(e.operation, 'operation'),
      opt(e.pid),
      opt(e.size),
      opt(e.permissions),
      opt(e.fileHash),
    ],
  },
  performance: {
    names: ['metric_name', 'component', 'value', 'unit', 'pid'],
    values: (e) => [
      need(e.metricName, 'metricName'),
      need(e.component, 'component'),
      need(e.value, 'value'),
      need(e.unit, 'unit'),
      opt(e.pid),
    ],
  },
  trigger_request: {
    names: ['trigger_id', 'analysis_type', 'priority', 'target_pid', 'target_path', 'correlation_id'],
    values: (e) => [
      need(e.triggerId, 'triggerId'),
      need(e.analysisType, 'analysisType'),
      need(e.priority, 'priority'),
      opt(e.targetPid),
      opt(e.targetPath),
      need(e.correlationId, 'correlationId'),
    ],
  },
  analysis_result: {
    names: ['analysis_type', 'trigger_id', 'correlation_id', 'success', 'error'],
    values: (e) => [
      need(e.analysisType, 'analysisType'),
      opt(e.triggerId),
      opt(e.correlationId),
      e.success ? 1 : 0,
      opt(e.error),
    ],
  },
};

const COMMON_NAMES = ['seq', 'run', 'source', 'accepted_at', 'time', 'cause_seq', 'depth'] as const;

/** The `INSERT OR IGNORE` statement of a kind's table, for `rows` rows in one statement (default 1). */
export function insertSql(kind: EventKind, rows = 1): string {
  const names = [...COMMON_NAMES, ...KIND_COLUMNS[kind].names, 'event'];
  const one = `(${names.map(() => '?').join(', ')})`;
  return `INSERT OR IGNORE INTO ${KIND_TABLES[kind]} (${names.join(', ')}) VALUES ${Array(rows).fill(one).join(', ')}`;
}

/** How many parameters one row of `insertSql(kind)` takes. */
export function rowWidth(kind: EventKind): number {
  return COMMON_NAMES.length + KIND_COLUMNS[kind].names.length + 1;
}

/** The record fields of one row. */
export interface RowRecord {
  readonly seq: number;
  readonly run: number;
  readonly source: string;
  readonly acceptedAt: number;
  readonly cause: number | null;
  readonly depth: number;
}

/** The parameters of `insertSql(e.kind)` for an event and its record, appended to `out` (default a new array). */
export function rowValues(e: CollectionEvent, r: RowRecord, out: SqlValue[] = []): SqlValue[] {
  const own = (KIND_COLUMNS[e.kind] as Columns<EventKind>).values(e as never);
  out.push(r.seq, r.run, r.source, r.acceptedAt, need(e.timestamp, 'timestamp'), r.cause, r.depth);
  for (const v of own) out.push(v);
  out.push(JSON.stringify(e));
  return out;
}

/** Gives the id of a string in the `strings` table, adding it when new. */
export interface StringIds {
  id(value: string): number;
}

/** Columns of `process_rows`, in table order. */
export const PROCESS_ROW_COLUMNS = [
  ...COMMON_NAMES,
  'subtype',
  'pid',
  'ppid',
  'name',
  'executable_path',
  'command_line',
  'argv',
  'start_time',
  'cpu_usage',
  'memory_usage',
  'executable_hash',
  'user_id',
  'user_name',
  'exit_code',
  'cwd',
  'cgroup',
  'container_id',
  'flags',
  'extra',
] as const;

/** Columns of `filesystem_rows`, in table order. */
export const FILESYSTEM_ROW_COLUMNS = [
  ...COMMON_NAMES,
  'path',
  'operation',
  'pid',
  'size',
  'permissions',
  'file_hash',
  'old_path',
  'process_name',
  'uid',
  'owner_uid',
  'owner_gid',
  'modify_count',
  'hash_algorithm',
  'lost_count',
  'flags',
  'extra',
] as const;

/** `INSERT OR IGNORE` of `rows` rows of a compact table (`process_rows`, `filesystem_rows`) in one statement. */
export function compactInsertSql(table: string, columns: readonly string[], rows: number): string {
  const one = `(${columns.map(() => '?').join(', ')})`;
  return `INSERT OR IGNORE INTO ${table} (${columns.join(', ')}) VALUES ${Array(rows).fill(one).join(', ')}`;
}

/** `INSERT OR IGNORE` of `rows` process rows in one statement. */
export function processInsertSql(rows: number): string {
  return compactInsertSql(STORAGE_TABLES.process, PROCESS_ROW_COLUMNS, rows);
}

/** The record's columns every compact row starts with ({@link COMMON_NAMES}), the source as a string id. */
function pushRecord(out: SqlValue[], r: RowRecord, sourceId: number, timestamp: number): void {
  out.push(r.seq, r.run, sourceId, r.acceptedAt, timestamp, r.cause, r.depth);
}

/** Thrown for an event that cannot be a row (a required field missing or of the wrong type). */
export class InvalidEventError extends Error {}

const invalid = (field: string, kind = 'process'): never => {
  throw new InvalidEventError(`${kind} event without a valid ${field}`);
};

/**
 * The collector of the fields without a column of their own (or of another type than their
 * column's), for `extra`, and the readers of typed fields that send a value of the wrong type there.
 */
class Extra {
  fields: Record<string, unknown> | undefined;
  constructor(readonly ids: StringIds) {}
  put(k: string, v: unknown): null {
    if (v === undefined) return null;
    this.fields ??= {};
    this.fields[k] = v;
    return null;
  }
  num(k: string, v: unknown): SqlValue {
    return typeof v === 'number' ? v : this.put(k, v);
  }
  text(k: string, v: unknown): SqlValue {
    return typeof v === 'string' ? v : this.put(k, v);
  }
  id(k: string, v: unknown): SqlValue {
    return typeof v === 'string' ? this.ids.id(v) : this.put(k, v);
  }
  /**
   * Adds every field of `e` not in `columns`, and gives `extra` as JSON (null when empty). A value
   * JSON cannot hold (a BigInt, say) makes the event one the store cannot hold.
   */
  json(e: object, columns: ReadonlySet<string>): string | null {
    for (const k in e) {
      if (!columns.has(k)) this.put(k, (e as Record<string, unknown>)[k]);
    }
    if (this.fields === undefined) return null;
    try {
      return JSON.stringify(this.fields);
    } catch {
      throw new InvalidEventError('event with a value JSON cannot hold');
    }
  }
}

/**
 * Appends the `process_rows` values of `e` (see {@link PROCESS_ROW_COLUMNS}) to `out`. Strings become
 * ids; a field of another type than its column's, and a field without a column, go to `extra`, so
 * the `event` JSON of the view is the event's. Throws {@link InvalidEventError} when `pid`, `name`,
 * `subtype`, `commandLine` or `timestamp` is missing or of the wrong type, or a value JSON cannot
 * hold; `out` is then unchanged.
 */
export function processRow(e: ProcessEvent, r: RowRecord, ids: StringIds, sourceId: number, out: SqlValue[]): void {
  const { pid, name, subtype, commandLine, timestamp } = e;
  if (typeof pid !== 'number') invalid('pid');
  if (typeof name !== 'string') invalid('name');
  if (typeof subtype !== 'string') invalid('subtype');
  if (!Array.isArray(commandLine)) invalid('commandLine');
  if (typeof timestamp !== 'number') invalid('timestamp');
  const x = new Extra(ids);
  let commandText: string | null = null;
  let argv: string | null = null;
  const n = commandLine.length;
  if (n > 0) {
    let plain = true;
    for (let i = 0; i < n; i++) {
      const a = commandLine[i];
      if (typeof a !== 'string') invalid('commandLine');
      if (plain && a.includes(' ')) plain = false;
    }
    commandText = commandLine.join(' ');
    if (!plain) argv = JSON.stringify(commandLine);
  }
  const { accessible, fileExists } = e;
  let flags = 0;
  if (accessible === true) flags |= PROCESS_FLAGS.accessible;
  else if (accessible !== false) {
    flags |= PROCESS_FLAGS.noAccessible;
    x.put('accessible', accessible);
  }
  if (fileExists === true) flags |= PROCESS_FLAGS.fileExists;
  else if (fileExists !== false) {
    flags |= PROCESS_FLAGS.noFileExists;
    x.put('fileExists', fileExists);
  }
  const ppid = x.num('ppid', e.ppid);
  const path = x.id('executablePath', e.executablePath);
  const startTime = x.num('startTime', e.startTime);
  const cpu = x.num('cpuUsage', e.cpuUsage);
  const memory = x.num('memoryUsage', e.memoryUsage);
  const hash = x.id('executableHash', e.executableHash);
  const userId = x.id('userId', e.userId);
  const userName = x.id('userName', e.userName);
  const exitCode = x.num('exitCode', e.exitCode);
  const cwd = x.id('cwd', e.cwd);
  const cgroup = x.id('cgroup', e.cgroup);
  const container = x.id('containerId', e.containerId);
  const extra = x.json(e, PROCESS_COLUMN_FIELDS);
  pushRecord(out, r, sourceId, timestamp);
  out.push(
    ids.id(subtype),
    pid,
    ppid,
    ids.id(name),
    path,
    commandText,
    argv,
    startTime,
    cpu,
    memory,
    hash,
    userId,
    userName,
    exitCode,
    cwd,
    cgroup,
    container,
    flags,
    extra,
  );
}

/** The fields of a process event stored in a column of their own (or implied, as `kind`). */
const PROCESS_COLUMN_FIELDS: ReadonlySet<string> = new Set([
  'kind',
  'subtype',
  'pid',
  'ppid',
  'name',
  'executablePath',
  'commandLine',
  'startTime',
  'cpuUsage',
  'memoryUsage',
  'executableHash',
  'userId',
  'userName',
  'accessible',
  'fileExists',
  'exitCode',
  'cwd',
  'cgroup',
  'containerId',
  'timestamp',
]);

/** The fields of a filesystem event stored in a column of their own (or implied, as `kind`). */
const FILESYSTEM_COLUMN_FIELDS: ReadonlySet<string> = new Set([
  'kind',
  'path',
  'operation',
  'pid',
  'size',
  'permissions',
  'fileHash',
  'timestamp',
  'oldPath',
  'processName',
  'uid',
  'ownerUid',
  'ownerGid',
  'isDirectory',
  'modifyCount',
  'hashAlgorithm',
  'rescan',
  'lostCount',
]);

/**
 * Appends the `filesystem_rows` values of `e` (see {@link FILESYSTEM_ROW_COLUMNS}) to `out`, as
 * {@link processRow} does for process events: the operation, permissions, process name and hash
 * algorithm as string ids; a field of another type than its column's, and a field without a column,
 * in `extra`. Throws {@link InvalidEventError} when `path`, `operation` or `timestamp` is missing or
 * of the wrong type, or a value JSON cannot hold; `out` is then unchanged.
 */
export function filesystemRow(
  e: FilesystemEvent,
  r: RowRecord,
  ids: StringIds,
  sourceId: number,
  out: SqlValue[],
): void {
  const { path, operation, timestamp } = e;
  if (typeof path !== 'string') invalid('path', 'filesystem');
  if (typeof operation !== 'string') invalid('operation', 'filesystem');
  if (typeof timestamp !== 'number') invalid('timestamp', 'filesystem');
  const x = new Extra(ids);
  let flags = 0;
  const { isDirectory, rescan } = e;
  if (isDirectory === true) flags |= FILESYSTEM_FLAGS.directory;
  else if (isDirectory === false) flags |= FILESYSTEM_FLAGS.notDirectory;
  else x.put('isDirectory', isDirectory);
  if (rescan === true) flags |= FILESYSTEM_FLAGS.rescan;
  else if (rescan === false) flags |= FILESYSTEM_FLAGS.notRescan;
  else x.put('rescan', rescan);
  const pid = x.num('pid', e.pid);
  const size = x.num('size', e.size);
  const permissions = x.id('permissions', e.permissions);
  const fileHash = x.text('fileHash', e.fileHash);
  const oldPath = x.text('oldPath', e.oldPath);
  const processName = x.id('processName', e.processName);
  const uid = x.num('uid', e.uid);
  const ownerUid = x.num('ownerUid', e.ownerUid);
  const ownerGid = x.num('ownerGid', e.ownerGid);
  const modifyCount = x.num('modifyCount', e.modifyCount);
  const hashAlgorithm = x.id('hashAlgorithm', e.hashAlgorithm);
  const lostCount = x.num('lostCount', e.lostCount);
  const extra = x.json(e, FILESYSTEM_COLUMN_FIELDS);
  pushRecord(out, r, sourceId, timestamp);
  out.push(
    path,
    ids.id(operation),
    pid,
    size,
    permissions,
    fileHash,
    oldPath,
    processName,
    uid,
    ownerUid,
    ownerGid,
    modifyCount,
    hashAlgorithm,
    lostCount,
    flags,
    extra,
  );
}

/** A kind stored as compact rows: its columns and the function that appends a row's values. */
export interface CompactRows {
  readonly columns: readonly string[];
  readonly append: (e: CollectionEvent, r: RowRecord, ids: StringIds, sourceId: number, out: SqlValue[]) => void;
}

/** The kinds stored as compact rows (in `STORAGE_TABLES[kind]`); the others use {@link rowValues}. */
export const COMPACT_ROWS: Partial<Record<EventKind, CompactRows>> = {
  process: {
    columns: PROCESS_ROW_COLUMNS,
    append: (e, r, ids, sourceId, out) => processRow(e as ProcessEvent, r, ids, sourceId, out),
  },
  filesystem: {
    columns: FILESYSTEM_ROW_COLUMNS,
    append: (e, r, ids, sourceId, out) => filesystemRow(e as FilesystemEvent, r, ids, sourceId, out),
  },
};
