/**
 * How an event becomes a row: for each kind, the columns of its table after the common ones and a
 * function reading them from the event. `INSERT OR IGNORE` on the sequence number makes a write of a
 * record already stored (after a crash and a replay, say) a no-op. Pure: no database access.
 */
import type { CollectionEvent, EventKind } from '@daemoneye/core';
import { KIND_TABLES } from './schema.ts';

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
