/**
 * One processor's place in the pipeline: opens it before its first batch, hands it every batch with a
 * sender for derived events bound to that batch (so `emit(event, i)` names event `i` as the cause),
 * counts what it emitted and refused, isolates its failures (`processor_error`: counted, logged once
 * per run of failures, the batch still goes on to the sinks), and closes it at shutdown. It does not
 * own the derived lane; it offers to it.
 */
import { ReasonCounter } from './counters.ts';
import type { DerivedLane } from './derived-lane.ts';
import { describeError } from './errors.ts';
import type { CollectionEvent } from './event.ts';
import { HealthStatus, type ProcessorHealth } from './health.ts';
import type { Logger } from './logger.ts';
import { askHealth, closeWithin, reportStatus } from './plugin-calls.ts';
import type { EventBatch, EventRecord } from './record.ts';
import type { DerivedEventSender, EventProcessor, HealthReport, PluginRuntime } from './source.ts';

/** Counters of one processor. */
export interface ProcessorStats {
  readonly name: string;
  readonly batches: number;
  readonly errors: number;
  readonly emitted: number;
  readonly refused: Readonly<Record<string, number>>;
}

/** Runs one processor. */
export class ProcessorRunner {
  readonly processor: EventProcessor;
  readonly name: string;
  readonly #lane: DerivedLane;
  readonly #log: Logger;
  readonly #runtime: PluginRuntime;
  readonly #deadline: AbortSignal;
  #opened = false;
  #batch: EventBatch | undefined;
  #batches = 0;
  #errors = 0;
  #consecutiveErrors = 0;
  #lastError: string | undefined;
  #emitted = 0;
  readonly #refused = new ReasonCounter();
  #own: HealthReport | undefined;
  readonly #sender: DerivedEventSender;

  constructor(
    processor: EventProcessor,
    options: { lane: DerivedLane; logger: Logger; runtime: PluginRuntime; deadline: AbortSignal },
  ) {
    this.processor = processor;
    this.name = processor.name();
    this.#lane = options.lane;
    this.#log = options.logger.child({ processor: this.name });
    this.#runtime = { ...options.runtime, logger: this.#log };
    this.#deadline = options.deadline;
    this.#sender = { emit: (event, cause) => this.#emit(event, cause) };
  }

  #emit(event: CollectionEvent, cause: number | EventRecord): boolean {
    let seq: number;
    let depth: number;
    if (typeof cause === 'number') {
      const records = this.#batch?.records;
      if (records === undefined || !Number.isInteger(cause) || cause < 0 || cause >= records.length) {
        this.#refused.add('invalid_cause');
        return false;
      }
      seq = records.seq(cause);
      depth = records.depth(cause);
    } else {
      seq = cause.seq;
      depth = cause.depth;
    }
    const ok = this.#lane.offer(event, this.name, seq, depth);
    if (ok) this.#emitted++;
    else this.#refused.add('refused');
    return ok;
  }

  #current: Promise<void> | undefined;

  /** Hands `batch` to the processor; resolves when it is done with it. Never rejects. */
  process(batch: EventBatch): Promise<void> {
    const p = this.#process(batch).finally(() => {
      if (this.#current === p) this.#current = undefined;
    });
    this.#current = p;
    return p;
  }

  /** Resolves once the processor is not inside a batch. */
  async whenIdle(): Promise<void> {
    while (this.#current !== undefined) await this.#current;
  }

  async #process(batch: EventBatch): Promise<void> {
    this.#batches++;
    try {
      if (!this.#opened) {
        this.#opened = true;
        await this.processor.open?.(this.#deadline, this.#runtime);
        this.#log.debug('processor opened');
      }
      this.#batch = batch;
      const r = this.processor.process(batch, this.#sender);
      if (r !== undefined) await r;
      this.#consecutiveErrors = 0;
    } catch (e) {
      this.#errors++;
      this.#consecutiveErrors++;
      this.#lastError = describeError(e);
      if (this.#consecutiveErrors === 1) {
        this.#log.error({ err: this.#lastError }, 'processor failed on a batch; the batch goes on to the sinks');
      }
    } finally {
      this.#batch = undefined;
    }
  }

  /** Asks the processor for its own health, bounded by `timeoutMs`. */
  async refreshHealth(timeoutMs: number): Promise<void> {
    const health = this.processor.health;
    if (health !== undefined) this.#own = await askHealth(() => health.call(this.processor), timeoutMs);
  }

  /** Closes the processor, bounded by `timeoutMs`; never rejects. */
  close(timeoutMs: number): Promise<void> {
    const close = this.processor.close;
    return closeWithin(close === undefined ? undefined : () => close.call(this.processor), {
      timeoutMs,
      log: this.#log,
      what: 'processor',
    });
  }

  health(): ProcessorHealth {
    const base = { name: this.name, errors: this.#errors };
    if (this.#consecutiveErrors > 0) {
      return { ...base, status: HealthStatus.Degraded, reason: `last batch failed: ${this.#lastError}` };
    }
    const own = reportStatus(this.#own);
    if (own === HealthStatus.Healthy) return { ...base, status: own };
    return { ...base, status: own, reason: this.#own?.reason ?? own };
  }

  stats(): ProcessorStats {
    return {
      name: this.name,
      batches: this.#batches,
      errors: this.#errors,
      emitted: this.#emitted,
      refused: this.#refused.toObject(),
    };
  }
}
