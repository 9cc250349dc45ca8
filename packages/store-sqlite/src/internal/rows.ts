/**
 * How an event becomes a row: for each kind, the columns of its table after the common ones and a
 * function reading them from the event; for process events, the compact `process_rows` row
 * ({@link processRow}) whose strings are ids from a {@link StringIds}. `INSERT OR IGNORE` on the
 * sequence number makes a write of a record already stored (after a crash and a replay, say) a
 * no-op. No database access except through the `StringIds` given.
 */
import type { CollectionEvent, EventKind, ProcessEvent } from '@daemoneye/core';
import { KIND_TABLES, PROCESS_FLAGS } from './schema.ts';

/** A SQLite value. */
export type SqlValue = number | string | null;

type Columns<K extends EventKind> = {
  readonly names: readonly string[];
  readonly values: (e: Extract<CollectionEvent, { kind: K }>) => SqlValue[];
};

const opt = (v: number | string | undefined): SqlValue => (v === undefined ? null : v);

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
      e.connectionId,
      opt(e.pid),
      e.protocol,
      e.state,
      e.sourceAddr,
      e.destAddr,
      e.bytesSent,
      e.bytesReceived,
    ],
  },
  filesystem: {
    names: ['path', 'operation', 'pid', 'size', 'permissions', 'file_hash'],
    values: (e) => [e.path, e.operation, opt(e.pid), opt(e.size), opt(e.permissions), opt(e.fileHash)],
  },
  performance: {
    names: ['metric_name', 'component', 'value', 'unit', 'pid'],
    values: (e) => [e.metricName, e.component, e.value, e.unit, opt(e.pid)],
  },
  trigger_request: {
    names: ['trigger_id', 'analysis_type', 'priority', 'target_pid', 'target_path', 'correlation_id'],
    values: (e) => [e.triggerId, e.analysisType, e.priority, opt(e.targetPid), opt(e.targetPath), e.correlationId],
  },
  analysis_result: {
    names: ['analysis_type', 'trigger_id', 'correlation_id', 'success', 'error'],
    values: (e) => [e.analysisType, opt(e.triggerId), opt(e.correlationId), e.success ? 1 : 0, opt(e.error)],
  },
};

const COMMON_NAMES = ['seq', 'run', 'source', 'accepted_at', 'time', 'cause_seq', 'depth'] as const;

/** The `INSERT OR IGNORE` statement of a kind's table. */
export function insertSql(kind: EventKind): string {
  const names = [...COMMON_NAMES, ...KIND_COLUMNS[kind].names, 'event'];
  return `INSERT OR IGNORE INTO ${KIND_TABLES[kind]} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`;
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

/** The parameters of `insertSql(e.kind)` for an event and its record. */
export function rowValues(e: CollectionEvent, r: RowRecord): SqlValue[] {
  const own = (KIND_COLUMNS[e.kind] as Columns<EventKind>).values(e as never);
  return [r.seq, r.run, r.source, r.acceptedAt, e.timestamp, r.cause, r.depth, ...own, JSON.stringify(e)];
}

/** Gives the id of a string in the `strings` table, adding it when new. */
export interface StringIds {
  id(value: string): number;
}

/** Columns of `process_rows`, in table order. */
export const PROCESS_ROW_COLUMNS = [
  'seq',
  'run',
  'source',
  'accepted_at',
  'time',
  'cause_seq',
  'depth',
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

/** `INSERT OR IGNORE` of `rows` process rows in one statement. */
export function processInsertSql(rows: number): string {
  const one = `(${PROCESS_ROW_COLUMNS.map(() => '?').join(', ')})`;
  return `INSERT OR IGNORE INTO process_rows (${PROCESS_ROW_COLUMNS.join(', ')}) VALUES ${Array(rows).fill(one).join(', ')}`;
}

/** Thrown for an event that cannot be a row (a required field missing or of the wrong type). */
export class InvalidEventError extends Error {}

const invalid = (field: string): never => {
  throw new InvalidEventError(`process event without a valid ${field}`);
};

/**
 * Appends the `process_rows` values of `e` (see {@link PROCESS_ROW_COLUMNS}) to `out`. Strings become
 * ids; a field of another type than its column's, and a field without a column, go to `extra`, so
 * the `event` JSON of the view is the event's. Throws {@link InvalidEventError} when `pid`, `name`,
 * `subtype`, `commandLine` or `timestamp` is missing or of the wrong type; `out` is then unchanged.
 */
export function processRow(e: ProcessEvent, r: RowRecord, ids: StringIds, sourceId: number, out: SqlValue[]): void {
  const { pid, name, subtype, commandLine, timestamp } = e;
  if (typeof pid !== 'number') invalid('pid');
  if (typeof name !== 'string') invalid('name');
  if (typeof subtype !== 'string') invalid('subtype');
  if (!Array.isArray(commandLine)) invalid('commandLine');
  if (typeof timestamp !== 'number') invalid('timestamp');
  let extra: Record<string, unknown> | undefined;
  const put = (k: string, v: unknown): null => {
    if (v === undefined) return null;
    extra ??= {};
    extra[k] = v;
    return null;
  };
  const num = (k: string, v: unknown): SqlValue => (typeof v === 'number' ? v : put(k, v));
  const text = (k: string, v: unknown): SqlValue => (typeof v === 'string' ? ids.id(v) : put(k, v));
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
    put('accessible', accessible);
  }
  if (fileExists === true) flags |= PROCESS_FLAGS.fileExists;
  else if (fileExists !== false) {
    flags |= PROCESS_FLAGS.noFileExists;
    put('fileExists', fileExists);
  }
  const ppid = num('ppid', e.ppid);
  const path = text('executablePath', e.executablePath);
  const startTime = num('startTime', e.startTime);
  const cpu = num('cpuUsage', e.cpuUsage);
  const memory = num('memoryUsage', e.memoryUsage);
  const hash = text('executableHash', e.executableHash);
  const userId = text('userId', e.userId);
  const userName = text('userName', e.userName);
  const exitCode = num('exitCode', e.exitCode);
  const cwd = text('cwd', e.cwd);
  const cgroup = text('cgroup', e.cgroup);
  const container = text('containerId', e.containerId);
  for (const k in e) {
    if (!PROCESS_COLUMN_FIELDS.has(k)) put(k, (e as unknown as Record<string, unknown>)[k]);
  }
  out.push(
    r.seq,
    r.run,
    sourceId,
    r.acceptedAt,
    timestamp,
    r.cause,
    r.depth,
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
    extra === undefined ? null : JSON.stringify(extra),
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
