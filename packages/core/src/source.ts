/**
 * The contracts between the collector runtime and its plug-ins: `EventSource` (what produces events),
 * `EventSender` (how a source hands them over) and `EventSink` (where batches go). These are the
 * seed's names and methods. This module holds only types; the runtime lives in `collector.ts`.
 */
import type { CollectionEvent } from './event.ts';
import type { SourceCapsBits } from './source-caps.ts';

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
 * - `healthCheck()` resolves when healthy and rejects with the reason otherwise. It also serves as the
 *   readiness probe after a start.
 */
export interface EventSource {
  name(): string;
  capabilities(): SourceCapsBits;
  start(tx: EventSender, shutdownSignal: AbortSignal): Promise<void>;
  stop(): Promise<void>;
  healthCheck(): Promise<void>;
}

/**
 * Where batches go. `write` is called with one batch at a time per sink, never concurrently; a
 * rejection counts the batch as failed for that sink (`sink_error`). `close` is called once at
 * shutdown after the last write.
 */
export interface EventSink {
  name(): string;
  write(batch: readonly CollectionEvent[]): Promise<void>;
  close?(): Promise<void>;
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
