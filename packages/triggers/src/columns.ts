/**
 * The columns a trigger condition can name: snake_case forms of the event fields, one table for every
 * kind of event (a column an event does not have is NULL, as in an outer join). Process lineage
 * (`parent_name`, `parent_executable_path`) is not part of the event: it comes from the
 * `LineageTable` the trigger manager keeps. Booleans are integers 0/1, as in SQLite. This module
 * describes and reads columns; it does not parse SQL.
 */
import type { CollectionEvent } from '@daemoneye/core';

/** A SQL value: text, a number, or NULL. */
export type SqlValue = string | number | null;

/** The static type of a column or an expression. */
export type SqlType = 'text' | 'integer' | 'real' | 'boolean' | 'null';

/** What a condition can look up beside the event. */
export interface EvalContext {
  /** The name and executable path of process `pid`, when known. */
  parentOf(pid: number): { readonly name: string; readonly executablePath: string | undefined } | undefined;
}

/** One column: its type and how to read it. */
export interface Column {
  readonly type: SqlType;
  readonly description: string;
  read(e: CollectionEvent, ctx: EvalContext): SqlValue;
  /** The same read as a JavaScript expression over `e`, inlined into generated conditions. */
  readonly js?: string;
}

const v = <T>(x: T | undefined): T | null => (x === undefined ? null : x);

// Many conditions read the joined command line of the same event in a row: join it once per event.
let lastArgv: readonly string[] | undefined;
let lastJoined = '';
function joined(argv: readonly string[]): string {
  if (argv !== lastArgv) {
    lastArgv = argv;
    lastJoined = argv.join(' ');
  }
  return lastJoined;
}
const b = (x: boolean | undefined): SqlValue => (x === undefined ? null : x ? 1 : 0);

function uidOf(userId: string | undefined): SqlValue {
  if (userId === undefined || userId.length === 0 || userId.length > 10) return null;
  let n = 0;
  for (let i = 0; i < userId.length; i++) {
    const d = userId.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return null;
    n = n * 10 + d;
  }
  return n;
}

/** Every column, by name. */
export const COLUMNS: Readonly<Record<string, Column>> = {
  kind: {
    type: 'text',
    description: 'event kind (process, network, filesystem, …)',
    read: (e) => e.kind,
    js: 'e.kind',
  },
  subtype: {
    type: 'text',
    description: 'process event subtype (snapshot, start, exec, exit, …)',
    read: (e) => (e.kind === 'process' ? e.subtype : null),
    js: "(e.kind === 'process' ? e.subtype : null)",
  },
  timestamp: { type: 'integer', description: 'event time, epoch ms', read: (e) => e.timestamp, js: 'e.timestamp' },
  pid: {
    type: 'integer',
    description: 'process id',
    read: (e) => (e.kind === 'trigger_request' ? v(e.targetPid) : e.kind === 'analysis_result' ? null : v(e.pid)),
    js: "(e.kind === 'trigger_request' ? (e.targetPid ?? null) : e.kind === 'analysis_result' ? null : (e.pid ?? null))",
  },
  ppid: {
    type: 'integer',
    description: 'parent process id',
    read: (e) => (e.kind === 'process' ? v(e.ppid) : null),
    js: "(e.kind === 'process' ? (e.ppid ?? null) : null)",
  },
  name: {
    type: 'text',
    description: 'process name',
    read: (e) => (e.kind === 'process' ? e.name : null),
    js: "(e.kind === 'process' ? e.name : null)",
  },
  executable_path: {
    type: 'text',
    description: 'executable path',
    read: (e) => (e.kind === 'process' ? v(e.executablePath) : null),
    js: "(e.kind === 'process' ? (e.executablePath ?? null) : null)",
  },
  command_line: {
    type: 'text',
    description: 'argv joined with single spaces',
    read: (e) => (e.kind === 'process' ? joined(e.commandLine) : null),
  },
  start_time: {
    type: 'integer',
    description: 'start time, epoch ms',
    read: (e) => (e.kind === 'process' ? v(e.startTime) : null),
    js: "(e.kind === 'process' ? (e.startTime ?? null) : null)",
  },
  cpu_usage: {
    type: 'real',
    description: 'CPU %',
    read: (e) => (e.kind === 'process' ? v(e.cpuUsage) : null),
    js: "(e.kind === 'process' ? (e.cpuUsage ?? null) : null)",
  },
  memory_usage: {
    type: 'integer',
    description: 'resident memory, bytes',
    read: (e) => (e.kind === 'process' ? v(e.memoryUsage) : null),
    js: "(e.kind === 'process' ? (e.memoryUsage ?? null) : null)",
  },
  executable_hash: {
    type: 'text',
    description: 'SHA-256 of the executable',
    read: (e) => (e.kind === 'process' ? v(e.executableHash) : null),
    js: "(e.kind === 'process' ? (e.executableHash ?? null) : null)",
  },
  uid: { type: 'integer', description: 'real user id', read: (e) => (e.kind === 'process' ? uidOf(e.userId) : null) },
  user_name: {
    type: 'text',
    description: 'user name',
    read: (e) => (e.kind === 'process' ? v(e.userName) : null),
    js: "(e.kind === 'process' ? (e.userName ?? null) : null)",
  },
  accessible: {
    type: 'boolean',
    description: '1 when /proc was readable',
    read: (e) => (e.kind === 'process' ? b(e.accessible) : null),
  },
  file_exists: {
    type: 'boolean',
    description: '1 when the executable exists on disk',
    read: (e) => (e.kind === 'process' ? b(e.fileExists) : null),
  },
  executable_deleted: {
    type: 'boolean',
    description: '1 when the running executable was deleted or replaced on disk',
    read: (e) => (e.kind === 'process' ? (e.platformMetadata?.executableDeleted === true ? 1 : 0) : null),
  },
  exit_code: {
    type: 'integer',
    description: 'exit code',
    read: (e) => (e.kind === 'process' ? v(e.exitCode) : null),
    js: "(e.kind === 'process' ? (e.exitCode ?? null) : null)",
  },
  thread_count: {
    type: 'integer',
    description: 'threads',
    read: (e) => (e.kind === 'process' ? v(e.threadCount) : null),
    js: "(e.kind === 'process' ? (e.threadCount ?? null) : null)",
  },
  cwd: {
    type: 'text',
    description: 'working directory',
    read: (e) => (e.kind === 'process' ? v(e.cwd) : null),
    js: "(e.kind === 'process' ? (e.cwd ?? null) : null)",
  },
  cgroup: {
    type: 'text',
    description: 'cgroup path',
    read: (e) => (e.kind === 'process' ? v(e.cgroup) : null),
    js: "(e.kind === 'process' ? (e.cgroup ?? null) : null)",
  },
  container_id: {
    type: 'text',
    description: 'container id (from the cgroup)',
    read: (e) => (e.kind === 'process' ? v(e.containerId) : null),
    js: "(e.kind === 'process' ? (e.containerId ?? null) : null)",
  },
  parent_name: {
    type: 'text',
    description: 'name of the parent process (lineage table)',
    read: (e, ctx) => (e.kind === 'process' && e.ppid !== undefined ? v(ctx.parentOf(e.ppid)?.name) : null),
  },
  parent_executable_path: {
    type: 'text',
    description: 'executable path of the parent process (lineage table)',
    read: (e, ctx) => (e.kind === 'process' && e.ppid !== undefined ? v(ctx.parentOf(e.ppid)?.executablePath) : null),
  },
  connection_id: {
    type: 'text',
    description: 'connection id',
    read: (e) => (e.kind === 'network' ? e.connectionId : null),
    js: "(e.kind === 'network' ? e.connectionId : null)",
  },
  source_addr: {
    type: 'text',
    description: 'local address ip:port',
    read: (e) => (e.kind === 'network' ? e.sourceAddr : null),
    js: "(e.kind === 'network' ? e.sourceAddr : null)",
  },
  dest_addr: {
    type: 'text',
    description: 'remote address ip:port',
    read: (e) => (e.kind === 'network' ? e.destAddr : null),
    js: "(e.kind === 'network' ? e.destAddr : null)",
  },
  protocol: {
    type: 'text',
    description: 'tcp, udp, …',
    read: (e) => (e.kind === 'network' ? e.protocol : null),
    js: "(e.kind === 'network' ? e.protocol : null)",
  },
  state: {
    type: 'text',
    description: 'connection state',
    read: (e) => (e.kind === 'network' ? e.state : null),
    js: "(e.kind === 'network' ? e.state : null)",
  },
  bytes_sent: {
    type: 'integer',
    description: 'bytes sent',
    read: (e) => (e.kind === 'network' ? e.bytesSent : null),
    js: "(e.kind === 'network' ? e.bytesSent : null)",
  },
  bytes_received: {
    type: 'integer',
    description: 'bytes received',
    read: (e) => (e.kind === 'network' ? e.bytesReceived : null),
    js: "(e.kind === 'network' ? e.bytesReceived : null)",
  },
  path: {
    type: 'text',
    description: 'file path (filesystem events; the target path of trigger requests)',
    read: (e) => (e.kind === 'filesystem' ? e.path : e.kind === 'trigger_request' ? v(e.targetPath) : null),
  },
  operation: {
    type: 'text',
    description: 'filesystem operation',
    read: (e) => (e.kind === 'filesystem' ? e.operation : null),
    js: "(e.kind === 'filesystem' ? e.operation : null)",
  },
  size: {
    type: 'integer',
    description: 'file size, bytes',
    read: (e) => (e.kind === 'filesystem' ? v(e.size) : null),
    js: "(e.kind === 'filesystem' ? (e.size ?? null) : null)",
  },
  permissions: {
    type: 'text',
    description: 'octal mode such as 0644 or 4755',
    read: (e) => (e.kind === 'filesystem' ? v(e.permissions) : null),
    js: "(e.kind === 'filesystem' ? (e.permissions ?? null) : null)",
  },
  file_hash: {
    type: 'text',
    description: 'file hash',
    read: (e) => (e.kind === 'filesystem' ? v(e.fileHash) : null),
    js: "(e.kind === 'filesystem' ? (e.fileHash ?? null) : null)",
  },
  metric_name: {
    type: 'text',
    description: 'metric name',
    read: (e) => (e.kind === 'performance' ? e.metricName : null),
    js: "(e.kind === 'performance' ? e.metricName : null)",
  },
  value: {
    type: 'real',
    description: 'metric value',
    read: (e) => (e.kind === 'performance' ? e.value : null),
    js: "(e.kind === 'performance' ? e.value : null)",
  },
  unit: {
    type: 'text',
    description: 'metric unit',
    read: (e) => (e.kind === 'performance' ? e.unit : null),
    js: "(e.kind === 'performance' ? e.unit : null)",
  },
  component: {
    type: 'text',
    description: 'metric component',
    read: (e) => (e.kind === 'performance' ? e.component : null),
    js: "(e.kind === 'performance' ? e.component : null)",
  },
};
