/**
 * One sink's bounded queue and writer loop. Batches wait here (at most `capacity` events) and are
 * written one at a time, in order. When a batch does not fit, the overflow policy decides: `block`
 * makes the dispatcher wait (lossless, and the pipeline slows), `drop-newest` refuses the new batch,
 * `drop-oldest` evicts queued batches. The sink is opened before its first batch; a rejected open or
 * write counts the batch as `sink_error`, and a sink that says its consumer is gone (`ERR_SINK_CLOSED`)
 * counts that batch and every later one as `sink_closed`. Every event received is delivered, dropped
 * with a reason, or still in flight — exactly. It does not batch events; the pipeline does.
 */
import { LatencyReservoir, ReasonCounter } from './counters.ts';
import { describeError, isCollectorError } from './errors.ts';
import { HealthStatus, type SinkHealth } from './health.ts';
import type { Logger } from './logger.ts';
import { askHealth, closeWithin, reportStatus } from './plugin-calls.ts';
import type { EventBatch } from './record.ts';
import type { EventSink, HealthReport, OverflowPolicy, PluginRuntime } from './source.ts';

type Batch = EventBatch;

/** What a sink queue needs from the collector. */
export interface SinkQueueOptions {
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
  readonly logger: Logger;
  /** Aborts at the shutdown deadline; passed to `open` and `write`. */
  readonly deadline: AbortSignal;
  /** What the sink is told when it opens. */
  readonly runtime: PluginRuntime;
  /** Called once when the sink says its consumer is gone. */
  readonly onClosed?: () => void;
}

/** Statistics of one sink. `received = delivered + dropped + inFlight`. */
export interface SinkStats {
  readonly name: string;
  readonly overflow: OverflowPolicy;
  readonly capacity: number;
  readonly received: number;
  readonly delivered: number;
  readonly dropped: Readonly<Record<string, number>>;
  readonly inFlight: number;
  readonly queueDepth: number;
  readonly queueHighWater: number;
  readonly writes: number;
  readonly failedWrites: number;
  readonly latencyMs: ReturnType<LatencyReservoir['summary']>;
  /** True once the sink opened. */
  readonly opened: boolean;
}

interface Blocked {
  readonly batch: Batch;
  readonly resolve: () => void;
}

/** A sink with its bounded queue and writer. */
export class SinkQueue {
  readonly sink: EventSink;
  readonly name: string;
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
  readonly #log: Logger;
  readonly #deadline: AbortSignal;
  readonly #runtime: PluginRuntime;
  readonly #onClosed: (() => void) | undefined;
  #opened = false;
  #opening: Promise<void> | undefined;
  #openError: string | undefined;
  #closedReason: string | undefined;
  #own: HealthReport | undefined;
  readonly #batches: Batch[] = [];
  #queued = 0;
  #abandoned = false;
  readonly #blocked: Blocked[] = [];
  #running = false;
  #idle: (() => void)[] = [];
  #received = 0;
  #delivered = 0;
  #highWater = 0;
  #writes = 0;
  #failed = 0;
  #consecutiveFailures = 0;
  #lastError: string | undefined;
  readonly #dropped = new ReasonCounter();
  readonly #latency = new LatencyReservoir(1024);
  readonly #loggedDrops = new Set<string>();

  constructor(sink: EventSink, options: SinkQueueOptions) {
    this.sink = sink;
    this.name = sink.name();
    this.capacity = options.capacity;
    this.overflow = options.overflow;
    this.#log = options.logger.child({ sink: this.name });
    this.#deadline = options.deadline;
    this.#runtime = { ...options.runtime, logger: this.#log };
    this.#onClosed = options.onClosed;
  }

  /** True once the sink said its consumer is gone. */
  get closed(): boolean {
    return this.#closedReason !== undefined;
  }

  #drop(reason: string, n: number): void {
    this.#dropped.add(reason, n);
    if (!this.#loggedDrops.has(reason)) {
      this.#loggedDrops.add(reason);
      this.#log.warn({ reason, dropped: n }, 'sink dropping events (logged once per reason; see stats for counts)');
    }
  }

  #enqueue(batch: Batch): void {
    this.#batches.push(batch);
    this.#queued += batch.length;
    if (this.#queued > this.#highWater) this.#highWater = this.#queued;
    if (!this.#running) void this.#writeLoop();
  }

  /**
   * Offers a batch. Returns `undefined` when it was queued or dropped at once, or a promise that
   * resolves once a blocked batch (policy `block`) was queued.
   */
  offer(batch: Batch): Promise<void> | undefined {
    this.#received += batch.length;
    if (this.#closedReason !== undefined) {
      this.#dropped.add('sink_closed', batch.length);
      return undefined;
    }
    if (this.#queued + batch.length <= this.capacity && this.#blocked.length === 0) {
      this.#enqueue(batch);
      return undefined;
    }
    switch (this.overflow) {
      case 'drop-newest':
        this.#drop('queue_full', batch.length);
        return undefined;
      case 'drop-oldest':
        // Evict queued batches, oldest first (never the one being written).
        while (this.#batches.length > 0 && this.#queued + batch.length > this.capacity) {
          const old = this.#batches.shift() as Batch;
          this.#queued -= old.length;
          this.#drop('queue_full_evicted', old.length);
        }
        if (this.#queued + batch.length > this.capacity) this.#drop('queue_full', batch.length);
        else this.#enqueue(batch);
        return undefined;
      case 'block':
        return new Promise<void>((resolve) => this.#blocked.push({ batch, resolve }));
    }
  }

  #admitBlocked(): void {
    while (this.#blocked.length > 0) {
      const next = this.#blocked[0] as Blocked;
      if (this.#queued + next.batch.length > this.capacity && this.#queued > 0) return;
      this.#blocked.shift();
      this.#enqueue(next.batch);
      next.resolve();
    }
  }

  /** Opens the sink once; concurrent callers share one attempt, and a failed attempt may be retried. */
  #open(): Promise<void> {
    if (this.#opened) return Promise.resolve();
    this.#opening ??= (async () => {
      try {
        await this.sink.open?.(this.#deadline, this.#runtime);
        this.#opened = true;
        this.#openError = undefined;
        this.#log.debug({ overflow: this.overflow, capacity: this.capacity }, 'sink opened');
      } catch (e) {
        this.#openError = describeError(e);
        throw e;
      } finally {
        this.#opening = undefined;
      }
    })();
    return this.#opening;
  }

  /**
   * Opens the sink now rather than before its first batch, so readiness can say whether it opened. A
   * failure is logged and kept for `health()`; no batch is lost by it, and `open` is tried again before
   * the first batch. Never rejects.
   */
  async openEarly(): Promise<void> {
    try {
      await this.#open();
    } catch (e) {
      this.#log.error({ err: describeError(e) }, 'sink open failed; it is tried again before the first batch');
    }
  }

  /** True once the sink's `open` succeeded (or it has none and was opened). */
  get opened(): boolean {
    return this.#opened;
  }

  /** Why the last `open` failed, while the sink is not open. */
  get openError(): string | undefined {
    return this.#opened ? undefined : this.#openError;
  }

  /** The sink said its consumer is gone: count what it holds and everything later as `sink_closed`. */
  #markClosed(e: unknown, batch: Batch): void {
    this.#closedReason = describeError(e);
    this.#dropped.add('sink_closed', batch.length);
    let held = 0;
    for (const b of this.#batches.splice(0)) held += b.length;
    for (const b of this.#blocked.splice(0)) {
      held += b.batch.length;
      b.resolve();
    }
    this.#queued = 0;
    if (held > 0) this.#dropped.add('sink_closed', held);
    this.#log.info(
      { reason: this.#closedReason, dropped: batch.length + held },
      'sink consumer closed; later events for it count as sink_closed',
    );
    this.#onClosed?.();
  }

  async #writeLoop(): Promise<void> {
    this.#running = true;
    while (this.#batches.length > 0 && !this.#abandoned) {
      const batch = this.#batches.shift() as Batch;
      const t0 = performance.now();
      try {
        await this.#open();
        await this.sink.write(batch, this.#deadline);
        if (this.#abandoned) break;
        this.#delivered += batch.length;
        this.#consecutiveFailures = 0;
      } catch (e) {
        // A write given up at the shutdown deadline stays in flight, for `abandon` to count.
        if (this.#abandoned || this.#deadline.aborted) break;
        if (isCollectorError(e, 'ERR_SINK_CLOSED')) {
          this.#markClosed(e, batch);
          break;
        }
        this.#failed++;
        this.#consecutiveFailures++;
        this.#lastError = describeError(e);
        this.#dropped.add('sink_error', batch.length);
        this.#log.error(
          { err: this.#lastError, events: batch.length },
          this.#opened ? 'sink write failed' : 'sink open failed',
        );
      }
      this.#writes++;
      this.#latency.record(performance.now() - t0);
      this.#queued -= batch.length;
      this.#admitBlocked();
    }
    this.#running = false;
    if (this.#batches.length === 0 && this.#blocked.length === 0) {
      const idle = this.#idle;
      this.#idle = [];
      for (const r of idle) r();
    }
  }

  /** Events queued, blocked or being written. */
  get inFlight(): number {
    let n = this.#queued;
    for (const b of this.#blocked) n += b.batch.length;
    return n;
  }

  /** Resolves once everything queued was written (or failed). */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  /**
   * Gives up on what is still queued, blocked or being written (at the shutdown deadline): those
   * events are counted as dropped with `reason`. Returns how many.
   */
  abandon(reason: string): number {
    const n = this.inFlight;
    this.#abandoned = true;
    if (n > 0) this.#drop(reason, n);
    this.#batches.length = 0;
    this.#queued = 0;
    for (const b of this.#blocked.splice(0)) b.resolve();
    const idle = this.#idle;
    this.#idle = [];
    for (const r of idle) r();
    return n;
  }

  /** Asks the sink for its own health (bounded by `timeoutMs`) and keeps the answer for `health()`. */
  async refreshHealth(timeoutMs: number): Promise<void> {
    const health = this.sink.health;
    if (health !== undefined) this.#own = await askHealth(() => health.call(this.sink), timeoutMs);
  }

  /** Closes the sink (once, after its last write), bounded by `timeoutMs`; never rejects. */
  close(timeoutMs: number): Promise<void> {
    const close = this.sink.close;
    return closeWithin(close === undefined ? undefined : () => close.call(this.sink), {
      timeoutMs,
      log: this.#log,
      what: 'sink',
      fields: { delivered: this.#delivered },
    });
  }

  health(): SinkHealth {
    const base = { name: this.name, overflow: this.overflow };
    if (this.#closedReason !== undefined) {
      return {
        ...base,
        status: HealthStatus.Unhealthy,
        reason: `closed: ${this.#closedReason}`,
        consecutiveFailures: this.#consecutiveFailures,
      };
    }
    const q = this.#queueHealth();
    const own = reportStatus(this.#own);
    if (own === HealthStatus.Healthy || (q.status === HealthStatus.Unhealthy && own !== HealthStatus.Unhealthy)) {
      return { ...base, ...q };
    }
    const reason = this.#own?.reason ?? own;
    return {
      ...base,
      status: own,
      reason: q.reason === undefined ? reason : `${reason}; ${q.reason}`,
      consecutiveFailures: this.#consecutiveFailures,
    };
  }

  #queueHealth(): Omit<SinkHealth, 'overflow'> {
    if (this.#consecutiveFailures >= 3) {
      return {
        name: this.name,
        status: HealthStatus.Unhealthy,
        reason: `last ${this.#consecutiveFailures} writes failed: ${this.#lastError}`,
        consecutiveFailures: this.#consecutiveFailures,
      };
    }
    if (this.#consecutiveFailures > 0) {
      return {
        name: this.name,
        status: HealthStatus.Degraded,
        reason: `last write failed: ${this.#lastError}`,
        consecutiveFailures: this.#consecutiveFailures,
      };
    }
    if (this.openError !== undefined) {
      return {
        name: this.name,
        status: HealthStatus.Degraded,
        reason: `open failed: ${this.openError}`,
        consecutiveFailures: this.#consecutiveFailures,
      };
    }
    if (this.#blocked.length > 0) {
      return {
        name: this.name,
        status: HealthStatus.Degraded,
        reason: 'queue full, pipeline blocked on this sink',
        consecutiveFailures: 0,
      };
    }
    return { name: this.name, status: HealthStatus.Healthy, consecutiveFailures: 0 };
  }

  stats(): SinkStats {
    return {
      name: this.name,
      overflow: this.overflow,
      capacity: this.capacity,
      received: this.#received,
      delivered: this.#delivered,
      dropped: this.#dropped.toObject(),
      inFlight: this.inFlight,
      queueDepth: this.#queued,
      queueHighWater: this.#highWater,
      writes: this.#writes,
      failedWrites: this.#failed,
      latencyMs: this.#latency.summary(),
      opened: this.#opened,
    };
  }
}
