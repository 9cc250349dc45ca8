/**
 * The event model: `CollectionEvent` is a discriminated union on `kind` covering what every source
 * emits (process, network, filesystem, performance) and what analysis produces (trigger_request,
 * analysis_result). Field sets follow DaemonEye's collector-core with its defects fixed: memory is in
 * bytes, `fileExists` comes from a real stat and `accessible` from a real access check. Timestamps are
 * Unix epoch milliseconds. This module only shapes and validates events; it never collects them.
 */
import { CollectorError } from './errors.ts';

/** Extra, platform-specific key/values carried by an event. */
export type PlatformMetadata = Readonly<Record<string, string | number | boolean>>;

/** What happened to a process. `snapshot` is a process seen by a full scan. */
export type ProcessEventSubtype = 'snapshot' | 'start' | 'exec' | 'exit' | 'uid_change' | 'comm_change';

/** A process observation. `memoryUsage` is resident set size in bytes; `startTime` is epoch ms. */
export interface ProcessEvent {
  readonly kind: 'process';
  readonly subtype: ProcessEventSubtype;
  readonly pid: number;
  readonly ppid?: number;
  readonly name: string;
  readonly executablePath?: string;
  readonly commandLine: readonly string[];
  readonly startTime?: number;
  readonly cpuUsage?: number;
  readonly memoryUsage?: number;
  readonly executableHash?: string;
  readonly hashAlgorithm?: string;
  readonly userId?: string;
  readonly userName?: string;
  readonly accessible: boolean;
  readonly fileExists: boolean;
  readonly exitCode?: number;
  readonly threadCount?: number;
  readonly cwd?: string;
  readonly cgroup?: string;
  readonly containerId?: string;
  readonly timestamp: number;
  readonly platformMetadata?: PlatformMetadata;
}

/**
 * What a network event reports: `snapshot` is a connection seen by a full dump (the first one, or an
 * enumeration on demand), `open` one that appeared since the previous dump, `close` one that ended
 * (gone from the kernel's table, or entered TIME_WAIT/CLOSE), `state_change` a TCP state transition.
 */
export type NetworkEventSubtype = 'snapshot' | 'open' | 'close' | 'state_change';

/**
 * Why a network event carries no owning process: `disabled` (pid mapping is off), `not_permitted`
 * (the owner's /proc/PID/fd cannot be read without privileges), `not_found` (no process holds the
 * socket: it is orphaned, in TIME_WAIT, or its owner lives in another pid namespace), `unsupported`
 * (the backend cannot map sockets to processes).
 */
export type PidUnknownReason = 'disabled' | 'not_permitted' | 'not_found' | 'unsupported';

/**
 * A network connection observation. Addresses are `ip:port` (`[v6]:port` for IPv6); `sourceAddr` is
 * the local end and `destAddr` the remote one. The fields after `timestamp` are optional, so
 * events built with the seed's field set stay valid.
 */
export interface NetworkEvent {
  readonly kind: 'network';
  readonly connectionId: string;
  readonly sourceAddr: string;
  readonly destAddr: string;
  readonly protocol: string;
  readonly state: string;
  readonly pid?: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly timestamp: number;
  /** What happened to the connection (absent on events built with the seed's field set). */
  readonly subtype?: NetworkEventSubtype;
  /** The state before a `state_change`. */
  readonly previousState?: string;
  /** The IP version. */
  readonly family?: 4 | 6;
  /** Owner uid of the socket. */
  readonly uid?: number;
  /** The socket's inode (`socket:[INODE]` under /proc/PID/fd); 0 for TIME_WAIT entries. */
  readonly inode?: number;
  /** A listening TCP socket, or an unconnected (bound, receiving) UDP socket. */
  readonly listening?: boolean;
  /** The owning process's name (`/proc/PID/comm`), with `pid`. */
  readonly processName?: string;
  /** Why `pid` is absent. */
  readonly pidUnknownReason?: PidUnknownReason;
  /** TCP segments retransmitted over the connection's life (`tcpi_total_retrans`). */
  readonly retransmits?: number;
  /** Smoothed round-trip time in microseconds (`tcpi_rtt`). */
  readonly rttUs?: number;
  /** A Unix domain socket's connected peer: its inode, 0 when it has none. */
  readonly peerInode?: number;
}

/** The operation a filesystem event reports. */
export type FilesystemOperation = 'create' | 'modify' | 'delete' | 'access' | 'rename' | 'attrib' | 'overflow';

/**
 * A filesystem observation. `size` is bytes; `permissions` an octal mode string such as `0644`. The
 * fields after `timestamp` are optional, so events built with the seed's field set stay valid.
 */
export interface FilesystemEvent {
  readonly kind: 'filesystem';
  readonly path: string;
  readonly operation: FilesystemOperation;
  readonly pid?: number;
  readonly size?: number;
  readonly permissions?: string;
  readonly fileHash?: string;
  readonly timestamp: number;
  /** A `rename`'s old path (`path` is the new one). */
  readonly oldPath?: string;
  /** The name (comm) of the process that caused the event, with `pid`. */
  readonly processName?: string;
  /** The effective uid of the process that caused the event. */
  readonly uid?: number;
  /** The file's owner uid and gid after the event (from a stat). */
  readonly ownerUid?: number;
  readonly ownerGid?: number;
  /** The object is a directory. */
  readonly isDirectory?: boolean;
  /** How many kernel events a coalesced `modify` stands for. */
  readonly modifyCount?: number;
  /** The algorithm of `fileHash` (`sha256`). */
  readonly hashAlgorithm?: string;
  /** Found by a scan (of a new directory, or after a queue overflow) rather than reported by the kernel. */
  readonly rescan?: boolean;
  /** An `overflow` event: how many kernel queue overflows the rescan that follows covers. */
  readonly lostCount?: number;
}

/**
 * What a performance event reports: `sample` a measured value, `threshold_crossed` a value that stayed
 * beyond a configured bound for the hold time, `recovered` one back within it for the hold time.
 */
export type PerformanceEventSubtype = 'sample' | 'threshold_crossed' | 'recovered';

/** A configured bound on a metric: `max` is crossed above `limit`, `min` below it. */
export interface PerformanceThreshold {
  readonly bound: 'min' | 'max';
  readonly limit: number;
  /** How long the value must stay beyond (or back within) the bound before an event, in ms. */
  readonly holdMs: number;
}

/**
 * A performance metric sample. `instance` names what the metric is about when there are several (a
 * core `cpu0`, a disk `sda`, an interface `eth0`, a top-N rank); `pid` and `processName` are set for
 * per-process metrics. The fields after the seed's set are optional.
 */
export interface PerformanceEvent {
  readonly kind: 'performance';
  readonly metricName: string;
  readonly value: number;
  readonly unit: string;
  readonly pid?: number;
  readonly component: string;
  readonly timestamp: number;
  /** What the event reports (absent on events built with the seed's field set: a sample). */
  readonly subtype?: PerformanceEventSubtype;
  readonly instance?: string;
  readonly processName?: string;
  /** The bound a `threshold_crossed` or `recovered` event is about. */
  readonly threshold?: PerformanceThreshold;
}

/** The analysis a trigger asks for. */
export type AnalysisType =
  | 'BinaryHash'
  | 'MemoryAnalysis'
  | 'YaraScan'
  | 'NetworkAnalysis'
  | 'BehavioralAnalysis'
  | 'Custom';

/** Trigger priority, lowest first. */
export const TriggerPriority = { Low: 0, Normal: 1, High: 2, Critical: 3 } as const;
/** A {@link TriggerPriority} value. */
export type TriggerPriority = (typeof TriggerPriority)[keyof typeof TriggerPriority];

/** The most metadata entries a trigger request may carry. */
export const MAX_TRIGGER_METADATA = 100;

/** A request for analysis; valid only with a `targetPid` or a `targetPath`. */
export interface TriggerRequestEvent {
  readonly kind: 'trigger_request';
  readonly triggerId: string;
  readonly targetCollector: string;
  readonly analysisType: AnalysisType;
  readonly priority: TriggerPriority;
  readonly targetPid?: number;
  readonly targetPath?: string;
  readonly correlationId: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly timestamp: number;
}

/** The outcome of one analysis (or one stage of a workflow). */
export interface AnalysisResultEvent {
  readonly kind: 'analysis_result';
  readonly analysisType: AnalysisType;
  readonly triggerId?: string;
  readonly correlationId?: string;
  readonly workflowId?: string;
  readonly stageId?: string;
  readonly success: boolean;
  readonly data: Readonly<Record<string, unknown>>;
  readonly error?: string;
  readonly timestamp: number;
}

/** Every event a collector carries. */
export type CollectionEvent =
  | ProcessEvent
  | NetworkEvent
  | FilesystemEvent
  | PerformanceEvent
  | TriggerRequestEvent
  | AnalysisResultEvent;

/** The `kind` of a {@link CollectionEvent}. */
export type EventKind = CollectionEvent['kind'];

/** All event kinds, in a stable order. */
export const EVENT_KINDS: readonly EventKind[] = [
  'process',
  'network',
  'filesystem',
  'performance',
  'trigger_request',
  'analysis_result',
];

type Input<E extends { kind: string }, Defaulted extends keyof E> = Omit<E, 'kind' | Defaulted> &
  Partial<Pick<E, Defaulted>>;

function now(timestamp: number | undefined): number {
  return timestamp ?? Date.now();
}

function checkTrigger(e: TriggerRequestEvent): TriggerRequestEvent {
  if (e.targetPid === undefined && (e.targetPath === undefined || e.targetPath === '')) {
    throw new CollectorError('ERR_EVENT_INVALID', `trigger request ${e.triggerId} has neither a target pid nor a path`);
  }
  const n = Object.keys(e.metadata).length;
  if (n > MAX_TRIGGER_METADATA) {
    throw new CollectorError(
      'ERR_EVENT_INVALID',
      `trigger request ${e.triggerId} carries ${n} metadata entries, more than ${MAX_TRIGGER_METADATA}`,
    );
  }
  return e;
}

/**
 * `{ ...data, ...fields }` with the same result (own enumerable properties of `data` in their order,
 * then `fields`). V8 (Node 20) builds a spread followed by more properties on a slow path, about
 * 5 µs an event, and objects built so are about ten times slower to read; `Object.assign` into a
 * fresh object is several times faster on both counts. A `__proto__` own property would be applied as
 * the prototype by assignment, so such input keeps the spread.
 */
function build<T>(data: object, fields: object): T {
  if (Object.hasOwn(data, '__proto__')) return { ...data, ...fields } as T;
  return Object.assign({}, data, fields) as T;
}

/**
 * Constructors and accessors for {@link CollectionEvent}. Constructors fill `kind` and default
 * `timestamp` to now; `triggerRequest` throws `ERR_EVENT_INVALID` when it has no target or too much
 * metadata.
 */
export const CollectionEvent = {
  process(data: Input<ProcessEvent, 'timestamp' | 'commandLine' | 'subtype'>): ProcessEvent {
    return build(data, {
      kind: 'process',
      subtype: data.subtype ?? 'snapshot',
      commandLine: data.commandLine ?? [],
      timestamp: now(data.timestamp),
    });
  },
  network(data: Input<NetworkEvent, 'timestamp'>): NetworkEvent {
    return build(data, { kind: 'network', timestamp: now(data.timestamp) });
  },
  filesystem(data: Input<FilesystemEvent, 'timestamp'>): FilesystemEvent {
    return build(data, { kind: 'filesystem', timestamp: now(data.timestamp) });
  },
  performance(data: Input<PerformanceEvent, 'timestamp'>): PerformanceEvent {
    return build(data, { kind: 'performance', timestamp: now(data.timestamp) });
  },
  triggerRequest(data: Input<TriggerRequestEvent, 'timestamp' | 'metadata'>): TriggerRequestEvent {
    return checkTrigger(
      build<TriggerRequestEvent>(data, {
        kind: 'trigger_request',
        metadata: data.metadata ?? {},
        timestamp: now(data.timestamp),
      }),
    );
  },
  analysisResult(data: Input<AnalysisResultEvent, 'timestamp' | 'data'>): AnalysisResultEvent {
    return build(data, { kind: 'analysis_result', data: data.data ?? {}, timestamp: now(data.timestamp) });
  },
  /** The event's type name: its `kind`, refined with the subtype for process events (`process.exec`). */
  eventType(e: CollectionEvent): string {
    return e.kind === 'process' ? `process.${e.subtype}` : e.kind;
  },
  /** The event's timestamp in epoch milliseconds. */
  timestamp(e: CollectionEvent): number {
    return e.timestamp;
  },
  /** The process id the event concerns, when it has one. */
  pid(e: CollectionEvent): number | undefined {
    switch (e.kind) {
      case 'process':
      case 'network':
      case 'filesystem':
      case 'performance':
        return e.pid;
      case 'trigger_request':
        return e.targetPid;
      case 'analysis_result':
        return undefined;
    }
  },
  /** True when `value` looks like a collection event (a known `kind` and a numeric timestamp). */
  isEvent(value: unknown): value is CollectionEvent {
    if (typeof value !== 'object' || value === null) return false;
    const v = value as { kind?: unknown; timestamp?: unknown };
    return EVENT_KINDS.includes(v.kind as EventKind) && typeof v.timestamp === 'number';
  },
} as const;
