/**
 * Analysis collectors: the `TriggerableCollector` contract (a trigger request in, an analysis result
 * out) and `AnalysisCollectorProcessor`, which puts any such collector into the pipeline — it picks
 * the trigger requests addressed to the collector out of every batch, runs them with bounded
 * concurrency from a bounded queue, each under its own time limit (the request's `max_execution_ms`),
 * and emits each result as an `analysis_result` derived from its request. A full queue, a refused
 * emit and a failure are counted; a failure is still answered with `success: false`.
 */
import {
  type AnalysisResultEvent,
  type AnalysisType,
  CollectionEvent,
  type DerivedEventSender,
  describeError,
  type EventBatch,
  type EventProcessor,
  type EventRecord,
  type HealthReport,
  type TriggerRequestEvent,
} from '@daemoneye/core';
import { DEFAULT_RESOURCE_LIMITS } from './condition.ts';
import { triggerErrors } from './errors.ts';

/** A collector that answers trigger requests. */
export interface TriggerableCollector {
  /** The name requests address in `targetCollector`. */
  name(): string;
  /** The analysis types it performs. */
  readonly analysisTypes: readonly AnalysisType[];
  /**
   * Performs one analysis. Resolves with the result (also for a failed analysis, with `success:
   * false`); should stop when `signal` aborts (the request's time limit or shutdown).
   */
  analyze(request: TriggerRequestEvent, signal: AbortSignal): Promise<AnalysisResultEvent>;
}

/** Options of {@link AnalysisCollectorProcessor}. */
export interface AnalysisProcessorOptions {
  /** Analyses run at once (default 2). */
  readonly concurrency?: number;
  /** Requests waiting at most (default 1,000); more are dropped (`queue_full`). */
  readonly queueCapacity?: number;
}

/** Counters of an analysis processor. */
export interface AnalysisProcessorStats {
  readonly received: number;
  readonly running: number;
  readonly queued: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly dropped: Readonly<Record<string, number>>;
}

interface Job {
  readonly request: TriggerRequestEvent;
  readonly record: EventRecord;
}

/** The time limit a request asks for. */
function limitOf(request: TriggerRequestEvent): number {
  const v = Number(request.metadata.max_execution_ms);
  return Number.isInteger(v) && v > 0 ? v : DEFAULT_RESOURCE_LIMITS.maxExecutionMs;
}

/** Runs a {@link TriggerableCollector} as a processor. */
export class AnalysisCollectorProcessor implements EventProcessor {
  readonly collector: TriggerableCollector;
  readonly #concurrency: number;
  readonly #capacity: number;
  readonly #queue: Job[] = [];
  readonly #closing = new AbortController();
  #tx: DerivedEventSender | undefined;
  #running = 0;
  #received = 0;
  #succeeded = 0;
  #failed = 0;
  readonly #dropped = new Map<string, number>();
  readonly #idle: (() => void)[] = [];

  constructor(collector: TriggerableCollector, options: AnalysisProcessorOptions = {}) {
    this.collector = collector;
    this.#concurrency = options.concurrency ?? 2;
    this.#capacity = options.queueCapacity ?? 1000;
    for (const [k, v] of Object.entries({ concurrency: this.#concurrency, queueCapacity: this.#capacity })) {
      if (!Number.isInteger(v) || v < 1) {
        throw triggerErrors.error('ERR_TRIGGER_INVALID', `analysis processor option ${k} must be a positive integer`);
      }
    }
  }

  name(): string {
    return this.collector.name();
  }

  #drop(reason: string): void {
    this.#dropped.set(reason, (this.#dropped.get(reason) ?? 0) + 1);
  }

  process(batch: EventBatch, tx: DerivedEventSender): void {
    this.#tx = tx;
    const me = this.collector.name();
    for (let i = 0; i < batch.length; i++) {
      const e = batch[i] as CollectionEvent;
      if (e.kind !== 'trigger_request' || e.targetCollector !== me) continue;
      this.#received++;
      if (!this.collector.analysisTypes.includes(e.analysisType)) {
        this.#emit(this.#failure(e, `${me} does not perform ${e.analysisType}`), batch.records.at(i));
        this.#failed++;
        continue;
      }
      if (this.#queue.length >= this.#capacity) {
        this.#drop('queue_full');
        continue;
      }
      this.#queue.push({ request: e, record: batch.records.at(i) });
    }
    this.#pump();
  }

  #failure(request: TriggerRequestEvent, error: string): AnalysisResultEvent {
    return CollectionEvent.analysisResult({
      analysisType: request.analysisType,
      triggerId: request.triggerId,
      correlationId: request.correlationId,
      success: false,
      error,
    });
  }

  #emit(result: AnalysisResultEvent, cause: EventRecord): void {
    if (this.#tx === undefined || !this.#tx.emit(result, cause)) this.#drop('emit_refused');
  }

  #pump(): void {
    while (this.#running < this.#concurrency && this.#queue.length > 0 && !this.#closing.signal.aborted) {
      const job = this.#queue.shift() as Job;
      this.#running++;
      void this.#run(job);
    }
  }

  async #run(job: Job): Promise<void> {
    const signal = AbortSignal.any([this.#closing.signal, AbortSignal.timeout(limitOf(job.request))]);
    let result: AnalysisResultEvent;
    try {
      result = await this.collector.analyze(job.request, signal);
    } catch (e) {
      const code = signal.aborted ? 'ERR_ANALYSIS_TIMEOUT' : 'ERR_ANALYSIS_FAILED';
      result = this.#failure(job.request, `${code}: ${describeError(e)}`);
    }
    if (result.success) this.#succeeded++;
    else this.#failed++;
    this.#emit(result, job.record);
    this.#running--;
    this.#pump();
    if (this.#running === 0 && this.#queue.length === 0) for (const f of this.#idle.splice(0)) f();
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (this.#running === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  health(): HealthReport {
    const full = this.#dropped.get('queue_full') ?? 0;
    return full > 0
      ? { status: 'degraded', reason: `${full} analysis requests dropped: queue full` }
      : { status: 'healthy' };
  }

  /** Aborts running analyses; queued requests are dropped (`closed`). */
  async close(): Promise<void> {
    for (const _ of this.#queue.splice(0)) this.#drop('closed');
    this.#closing.abort();
    await this.idle();
  }

  stats(): AnalysisProcessorStats {
    return {
      received: this.#received,
      running: this.#running,
      queued: this.#queue.length,
      succeeded: this.#succeeded,
      failed: this.#failed,
      dropped: Object.fromEntries(this.#dropped),
    };
  }
}
