/**
 * The contracts between the collector runtime and its plug-ins: `EventSource` (what produces events),
 * `EventSender` (how a source hands them over), `EventSink` (where batches go) and `EventProcessor`
 * (a stage that sees every batch and may derive events). The source contract keeps the seed's names
 * and methods. This module holds only types; the runtime lives in `collector.ts`.
 */
import type { CollectorStats } from './collector.ts';
import type { CollectionEvent } from './event.ts';
import type { CollectorHealth } from './health.ts';
import type { HostIdentity } from './host.ts';
import type { Logger } from './logger.ts';
import type { EventBatch, EventRecord } from './record.ts';
import type { SheddingSignal } from './shedding.ts';
import type { SourceCapsBits } from './source-caps.ts';

/**
 * What a health check may report. Resolving with nothing (or `healthy`) means healthy; `degraded`
 * means working with a limitation (a fallback backend, a slow consumer) that the `reason` names;
 * `unhealthy` (or a rejection) means failing.
 */
export interface HealthReport {
  readonly status: 'healthy' | 'degraded' | 'unhealthy';
  readonly reason?: string;
}

/**
 * How a source hands events to the collector.
 *
 * - `send` accepts at once while the channel is below the backpressure threshold; above it, it waits
 *   for room up to `maxBackpressureWait`, then drops the event (counted as `backpressure_timeout`).
 *   It resolves `true` when the event was accepted, `false` when it was dropped or the sender is
 *   closed (after shutdown began). It never rejects.
 * - `trySend` never waits: `false` means the event was dropped (counted as `channel_full` or `closed`).
 *   Kernel-fed sources use it so a slow sink can never stall a kernel reader.
 */
export interface EventSender {
  send(event: CollectionEvent): Promise<boolean>;
  trySend(event: CollectionEvent): boolean;
  /** Fill ratio of the channel, 0 (empty) to 1 (full): sources may slow down as it rises. */
  pressure(): number;
  /** True while the channel is at or above the backpressure threshold. */
  readonly underPressure: boolean;
  /** True once the collector stopped accepting events. */
  readonly closed: boolean;
  /** Tells the collector the source is ready (otherwise readiness is its first event or healthy check). */
  ready(): void;
  /**
   * Records events the source itself lost before it could send them (a kernel buffer overrun, say),
   * so they show in the drop counters with a reason instead of vanishing.
   */
  reportLoss(count: number, reason: string): void;
}

/**
 * An event source, as in the seed.
 *
 * - `start(tx, shutdownSignal)` runs until `shutdownSignal` aborts, then resolves. Throwing or
 *   resolving early is a failure: the collector restarts the source with exponential backoff.
 * - `stop()` is called once per start during shutdown or restart, after the signal aborted; it
 *   releases resources and must be idempotent.
 * - `healthCheck()` resolves when healthy (or with `{ status: 'degraded', reason }` when running on a
 *   fallback) and rejects with the reason when unhealthy. It also serves as the readiness probe after
 *   a start.
 */
export interface EventSource {
  name(): string;
  capabilities(): SourceCapsBits;
  start(tx: EventSender, shutdownSignal: AbortSignal): Promise<void>;
  stop(): Promise<void>;
  // biome-ignore lint/suspicious/noConfusingVoidType: the seed's sources return Promise<void>; they must still fit.
  healthCheck(): Promise<void | HealthReport>;
  /**
   * The Linux capabilities the running source still needs once its privileged handles are open (for
   * the backend it chose), by name: `CAP_SYS_PTRACE`, `CAP_DAC_READ_SEARCH`, … A command that drops
   * root after start-up (`daemoneye-collector run --user`) keeps the union of what its sources
   * return, and nothing else. Optional: a source without it needs none.
   */
  privileges?(): readonly LinuxCapabilityName[];
}

/** The name of a Linux capability, as in capabilities(7): `CAP_NET_ADMIN`. */
export type LinuxCapabilityName = `CAP_${string}`;

/** What a sink or processor is told when it opens. */
export interface PluginRuntime {
  /** The collector's component name. */
  readonly componentName: string;
  /** The host the events come from. */
  readonly host: HostIdentity;
  /** The collector's data directory, when it has one. */
  readonly dataDir: string | undefined;
  /** The collector's logger, bound to this plug-in. */
  readonly logger: Logger;
  /**
   * The collector's load-shedding level: shed optional work while it is above `none`. Always set by
   * the collector; optional so a plug-in can be opened by hand (in a test) without one.
   */
  readonly shedding?: SheddingSignal;
  /**
   * The collector the plug-in runs in, to read (an IPC server answers health, statistics and detection
   * tasks from it). Absent where a runtime is made up outside a collector (tests, replays).
   */
  readonly collector?: CollectorView;
}

/** A read-only view of a running collector, as plug-ins see it. */
export interface CollectorView {
  /** The collector's health: overall status with reasons, and each source, sink and processor. */
  health(): CollectorHealth;
  /** The collector's counters. */
  stats(): CollectorStats;
  /** The union of the registered sources' capabilities. */
  capabilities(): SourceCapsBits;
  /** The registered sources, in registration order (to call their own methods, such as a snapshot). */
  sources(): readonly EventSource[];
}

/**
 * Where batches go.
 *
 * - `open(signal, runtime)` is awaited before the first batch; the signal aborts at the shutdown
 *   deadline. A rejection is logged and counted: the batch waiting for it is dropped as `sink_error`
 *   and `open` is tried again before the next batch.
 * - `write(batch, signal)` is called with one batch at a time, never concurrently; the batch carries
 *   each event's record (`batch.records`). The signal aborts at the shutdown deadline. A rejection
 *   counts the batch as `sink_error`; a rejection with a `CollectorError` of code `ERR_SINK_CLOSED`
 *   means the consumer went away for good (a closed stdout): that batch and every later one count as
 *   `sink_closed`, which is a normal end, logged at info. When every sink has closed, the collector
 *   shuts down.
 * - `close()` is called once at shutdown after the last write.
 * - `health()` adds the sink's own view to the queue's (a disconnected forwarder is degraded).
 */
export interface EventSink {
  name(): string;
  open?(signal: AbortSignal, runtime: PluginRuntime): Promise<void>;
  write(batch: EventBatch, signal: AbortSignal): Promise<void>;
  close?(): Promise<void>;
  health?(): HealthReport | undefined | Promise<HealthReport | undefined>;
}

/** How a processor hands derived events back to the collector. */
export interface DerivedEventSender {
  /**
   * Offers an event derived from `cause` — an index into the batch being processed, or a record kept
   * from an earlier batch. Never waits: returns false when the derived lane is full, the chain is
   * deeper than `max_derivation_depth`, or the collector stopped (each counted with its reason).
   */
  emit(event: CollectionEvent, cause: number | EventRecord): boolean;
}

/**
 * A stage that sees every batch, in order, before the sinks do, and may emit derived events (an event
 * bus, trigger conditions, analysis). `process` may return a promise, which the batcher awaits (a slow
 * processor slows the pipeline; it cannot deadlock it, because emitting never waits). A throw or
 * rejection is counted as `processor_error` and the batch still reaches the sinks. Derived events come
 * back through their own bounded lane and are processed too, one level deeper each time.
 */
export interface EventProcessor {
  name(): string;
  open?(signal: AbortSignal, runtime: PluginRuntime): Promise<void>;
  process(batch: EventBatch, tx: DerivedEventSender): void | Promise<void>;
  close?(): Promise<void>;
  health?(): HealthReport | undefined | Promise<HealthReport | undefined>;
}

/** What a sink queue does when a batch does not fit. */
export type OverflowPolicy = 'block' | 'drop-oldest' | 'drop-newest';

/** Options of `collector.addSink`. */
export interface SinkOptions {
  /** Events the sink's queue holds at most (default: the event buffer size). */
  readonly queueCapacity?: number;
  /** What happens when the queue is full (default `block`: lossless, slows the pipeline). */
  readonly overflow?: OverflowPolicy;
}
