/**
 * One sink's bounded queue and writer loop. Batches wait here (at most `capacity` events) and are
 * written one at a time, in order. When a batch does not fit, the overflow policy decides: `block`
 * makes the dispatcher wait (lossless, and the pipeline slows), `drop-newest` refuses the new batch,
 * `drop-oldest` evicts queued batches. A rejected write counts its events as `sink_error`. Every
 * event received is delivered, dropped with a reason, or still in flight — exactly. It does not batch
 * events; the pipeline does.
 */
import { LatencyReservoir, ReasonCounter } from './counters.ts';
import { describeError } from './errors.ts';
import type { CollectionEvent } from './event.ts';
import { HealthStatus, type SinkHealth } from './health.ts';
import type { Logger } from './logger.ts';
import type { EventSink, OverflowPolicy } from './source.ts';

type Batch = readonly CollectionEvent[];

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

  constructor(sink: EventSink, options: { capacity: number; overflow: OverflowPolicy; logger: Logger }) {
    this.sink = sink;
    this.name = sink.name();
    this.capacity = options.capacity;
    this.overflow = options.overflow;
    this.#log = options.logger.child({ sink: this.name });
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

  async #writeLoop(): Promise<void> {
    this.#running = true;
    while (this.#batches.length > 0 && !this.#abandoned) {
      const batch = this.#batches.shift() as Batch;
      const t0 = performance.now();
      try {
        await this.sink.write(batch);
        if (this.#abandoned) break;
        this.#delivered += batch.length;
        this.#consecutiveFailures = 0;
      } catch (e) {
        if (this.#abandoned) break;
        this.#failed++;
        this.#consecutiveFailures++;
        this.#lastError = describeError(e);
        this.#dropped.add('sink_error', batch.length);
        this.#log.error({ err: this.#lastError, events: batch.length }, 'sink write failed');
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

  health(): SinkHealth {
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
    };
  }
}
