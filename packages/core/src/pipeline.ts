/**
 * The batcher and fan-out between the channel and the sinks. Events leave the derived lane and the
 * channel (derived first) in batches of at most `maxBatchSize`: at once when that many are buffered
 * (cause `size`), or when the oldest pending event has waited `batchTimeout` (cause `timeout`), or on
 * drain (cause `shutdown`). Each batch gets consecutive sequence numbers and its records, is handed
 * to every processor in order, then offered to every sink's own queue; only a full `block`-policy sink
 * (or a slow processor) makes the batcher wait, which lets the channel fill and backpressure reach the
 * sources. Processors emit into the derived lane, which never waits, so nothing here can deadlock. It
 * owns no sources', sinks' or processors' lifecycles.
 */
import { EventChannel } from './channel.ts';
import { ReasonCounter, SizeHistogram } from './counters.ts';
import { DerivedLane } from './derived-lane.ts';
import type { ProcessorRunner } from './processor-runner.ts';
import { type EventBatch, makeBatch } from './record.ts';
import type { SequenceAllocator } from './sequence.ts';
import type { SinkQueue } from './sink-queue.ts';

/** Why a batch was flushed. */
export type FlushCause = 'size' | 'timeout' | 'shutdown';

/** Options of {@link Pipeline}. */
export interface PipelineOptions {
  readonly capacity: number;
  readonly threshold: number;
  readonly maxWait: number;
  readonly maxBatchSize: number;
  readonly batchTimeout: number;
  readonly derivedCapacity: number;
  readonly maxDerivationDepth: number;
}

/** Channel + batcher + fan-out. */
export class Pipeline {
  readonly channel: EventChannel;
  readonly lane: DerivedLane;
  readonly sinks: SinkQueue[] = [];
  readonly processors: ProcessorRunner[] = [];
  /** Hands out sequence numbers; set by the collector when it runs. */
  sequence: SequenceAllocator | undefined;
  runId = '';
  readonly #maxBatch: number;
  readonly #timeout: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerDue = false;
  #pumping = false;
  #scheduled = false;
  #draining = false;
  #blockedOn: Promise<unknown> | undefined;
  batches = 0;
  batched = 0;
  readonly flushCauses: Record<FlushCause, number> = { size: 0, timeout: 0, shutdown: 0 };
  readonly batchSizes = new SizeHistogram();
  /** Events batched while no sink was attached. */
  readonly discarded = new ReasonCounter();

  constructor(options: PipelineOptions) {
    this.#maxBatch = options.maxBatchSize;
    this.#timeout = options.batchTimeout;
    this.channel = new EventChannel({
      capacity: options.capacity,
      threshold: options.threshold,
      maxWait: options.maxWait,
      onPush: () => this.#onPush(),
    });
    this.lane = new DerivedLane({
      capacity: options.derivedCapacity,
      maxDepth: options.maxDerivationDepth,
      onPush: () => this.#onPush(),
    });
  }

  /** Events waiting for a batch, in the channel and the derived lane. */
  get pending(): number {
    return this.channel.size + this.lane.size;
  }

  #onPush(): void {
    if (this.pending >= this.#maxBatch) this.#schedule();
    else if (this.#timer === undefined && !this.#timerDue) this.#armTimer();
  }

  #armTimer(): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerDue = true;
      this.#schedule();
    }, this.#timeout);
  }

  #schedule(): void {
    if (this.#scheduled || this.#pumping) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      void this.#pump();
    });
  }

  #nextCause(): FlushCause | undefined {
    const size = this.pending;
    if (size >= this.#maxBatch) return 'size';
    if (size === 0) return undefined;
    if (this.#draining) return 'shutdown';
    if (this.#timerDue) return 'timeout';
    return undefined;
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      for (let cause = this.#nextCause(); cause !== undefined; cause = this.#nextCause()) {
        if (cause !== 'size') this.#timerDue = false;
        const batch = this.#takeBatch();
        this.batches++;
        this.batched += batch.length;
        this.flushCauses[cause]++;
        this.batchSizes.record(batch.length);
        for (const p of this.processors) await p.process(batch);
        const blocked = this.#dispatch(batch);
        if (blocked !== undefined) {
          this.#blockedOn = blocked;
          await blocked;
          this.#blockedOn = undefined;
        }
      }
      this.#timerDue = false;
    } finally {
      this.#pumping = false;
    }
    if (this.pending > 0) {
      if (this.pending >= this.#maxBatch || this.#draining) this.#schedule();
      else if (this.#timer === undefined) this.#armTimer();
    } else if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  /** The next batch: derived events first, then the channel's, numbered consecutively. */
  #takeBatch(): EventBatch {
    const derived = this.lane.size > 0 ? this.lane.take(this.#maxBatch) : undefined;
    const room = this.#maxBatch - (derived?.events.length ?? 0);
    const chunk = this.channel.take(room);
    const n = chunk.events.length + (derived?.events.length ?? 0);
    const firstSeq = this.sequence?.take(n) ?? 0;
    if (derived === undefined) return makeBatch(chunk.events, this.runId, firstSeq, chunk);
    const d = derived.events.length;
    const events = derived.events.concat(chunk.events);
    const acceptedAt = new Float64Array(n);
    acceptedAt.set(derived.acceptedAt);
    acceptedAt.set(chunk.acceptedAt, d);
    const causes = new Float64Array(n).fill(-1);
    causes.set(derived.causes);
    const depths = new Uint8Array(n);
    depths.set(derived.depths);
    return makeBatch(events, this.runId, firstSeq, {
      sources: derived.sources.concat(chunk.sources),
      acceptedAt,
      causes,
      depths,
    });
  }

  #dispatch(batch: EventBatch): Promise<unknown> | undefined {
    if (this.sinks.length === 0) {
      this.discarded.add('no_sink', batch.length);
      return undefined;
    }
    let waits: Promise<void>[] | undefined;
    for (const sink of this.sinks) {
      const w = sink.offer(batch);
      if (w === undefined) continue;
      waits ??= [];
      waits.push(w);
    }
    if (waits === undefined) return undefined;
    return waits.length === 1 ? waits[0] : Promise.all(waits);
  }

  /** True while the batcher waits for a full `block` sink. */
  get blocked(): boolean {
    return this.#blockedOn !== undefined;
  }

  /**
   * Flushes everything buffered (partial batches included) into the sink queues, then waits for the
   * queues to be written. Resolves `true` when all of it was written, `false` if `signal` aborted first.
   */
  async drain(signal: AbortSignal): Promise<boolean> {
    this.#draining = true;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const aborted = new Promise<'aborted'>((resolve) => {
      if (signal.aborted) resolve('aborted');
      else signal.addEventListener('abort', () => resolve('aborted'), { once: true });
    });
    while (this.pending > 0 || this.#pumping || this.#scheduled) {
      if (signal.aborted) return false;
      if (!this.#pumping) await this.#pump();
      else if ((await Promise.race([this.#blockedOn ?? new Promise((r) => setImmediate(r)), aborted])) === 'aborted')
        return false;
    }
    if (this.sinks.every((s) => s.inFlight === 0)) return true;
    const idle = Promise.all(this.sinks.map((s) => s.whenIdle()));
    return (await Promise.race([idle, aborted])) !== 'aborted';
  }
}
