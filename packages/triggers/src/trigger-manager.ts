/**
 * `TriggerManager`: a collector processor that evaluates every registered condition and sequence
 * against every event and turns matches into `trigger_request` events for analysis collectors. A match
 * passes, in order: a target check (a pid or a path), the dedup window (per condition, target
 * collector and pid/path), the per-collector rate limit, and a bounded priority queue that sheds Low
 * requests first under pressure (and refuses them while the collector sheds load); queued requests are emitted highest priority first through the
 * derived-event lane. Emitted requests wait for their `analysis_result` (matched by correlation id)
 * and time out after `requestTimeoutMs`. Everything refused, shed, dropped or timed out is counted by
 * reason. Conditions are not evaluated on trigger requests and analysis results themselves.
 */
import { randomUUID } from 'node:crypto';
import {
  CollectionEvent,
  type DerivedEventSender,
  describeError,
  type EventBatch,
  type EventProcessor,
  type EventRecord,
  type HealthReport,
  type Logger,
  type SheddingSignal,
  silentLogger,
  type TriggerRequestEvent,
} from '@daemoneye/core';
import {
  checkCondition,
  checkSequence,
  type TriggerCondition,
  type TriggerInput,
  type TriggerSequence,
} from './condition.ts';
import { ConditionIndex } from './condition-index.ts';
import { triggerErrors } from './errors.ts';
import { type LineageStats, LineageTable } from './lineage.ts';
import { SequenceMatcher, type SequenceStats } from './sequence-matcher.ts';
import { type CompiledCondition, compileCondition } from './sql-condition.ts';

/** Options of the trigger manager; every one has a default. */
export interface TriggerManagerOptions {
  /** Processor name (default `triggers`). */
  readonly name?: string;
  /** A second match of a condition for the same collector and pid/path within this is dropped (default 300,000 ms). */
  readonly dedupWindowMs?: number;
  /** Requests per target collector per `rateWindowMs` (default 100). */
  readonly rateLimit?: number;
  readonly rateWindowMs?: number;
  /** Requests waiting to be emitted at most (default 1,000); Low ones are shed from 80 % full. */
  readonly maxPending?: number;
  /** A request not answered by an `analysis_result` within this counts as timed out (default 30,000 ms). */
  readonly requestTimeoutMs?: number;
  /** Partial sequence matches kept at most, per sequence (default 10,000). */
  readonly sequenceMaxEntries?: number;
  /** Lineage table size and how long an exited process stays in it. */
  readonly lineageCapacity?: number;
  readonly lineageRetentionMs?: number;
  /** The clock, epoch ms (default `Date.now`). */
  readonly now?: () => number;
  readonly logger?: Logger;
  /** The collector's load-shedding level: while above `none`, Low requests are refused (`shed_low`). */
  readonly shedding?: SheddingSignal;
}

/** Counters of the trigger manager. */
export interface TriggerManagerStats {
  readonly conditions: number;
  readonly sequences: number;
  /** Events the conditions were checked against. */
  readonly events: number;
  /** Condition evaluations: the index skips conditions an event cannot match. */
  readonly evaluated: number;
  readonly matched: Readonly<Record<string, number>>;
  readonly emitted: number;
  readonly refused: Readonly<Record<string, number>>;
  readonly pending: { readonly low: number; readonly normal: number; readonly high: number; readonly critical: number };
  readonly awaiting: number;
  readonly completed: number;
  readonly timedOut: number;
  readonly lineage: LineageStats;
  readonly sequenceState: Readonly<Record<string, SequenceStats>>;
}

interface Registered {
  readonly definition: TriggerCondition;
  readonly compiled: CompiledCondition;
}

interface Pending {
  readonly request: TriggerRequestEvent;
  readonly cause: EventRecord;
  readonly queuedAt: number;
  tries: number;
}

const MAX_EMIT_TRIES = 3;
const MAX_DEDUP_KEYS = 100_000;

/** The trigger manager. */
export class TriggerManager implements EventProcessor {
  readonly #name: string;
  readonly #dedupMs: number;
  readonly #rateLimit: number;
  readonly #rateMs: number;
  readonly #maxPending: number;
  readonly #shedding: SheddingSignal | undefined;
  readonly #timeoutMs: number;
  readonly #seqMax: number;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly lineage: LineageTable;
  #conditions: Registered[] = [];
  #index = new ConditionIndex<Registered>();
  #sequences: SequenceMatcher[] = [];
  readonly #dedup = new Map<string, number>();
  readonly #rate = new Map<string, number[]>();
  readonly #queues: Pending[][] = [[], [], [], []];
  readonly #awaiting = new Map<string, number>();
  #evaluated = 0;
  #seen = 0;
  readonly #matched = new Map<string, number>();
  #emitted = 0;
  readonly #refused = new Map<string, number>();
  #completed = 0;
  #timedOut = 0;
  #loggedRefusal = new Set<string>();

  constructor(options: TriggerManagerOptions = {}) {
    this.#name = options.name ?? 'triggers';
    this.#dedupMs = options.dedupWindowMs ?? 300_000;
    this.#rateLimit = options.rateLimit ?? 100;
    this.#rateMs = options.rateWindowMs ?? 60_000;
    this.#maxPending = options.maxPending ?? 1000;
    this.#shedding = options.shedding;
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#seqMax = options.sequenceMaxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
    this.#log = options.logger ?? silentLogger;
    this.lineage = new LineageTable({
      ...(options.lineageCapacity !== undefined ? { capacity: options.lineageCapacity } : {}),
      ...(options.lineageRetentionMs !== undefined ? { retentionMs: options.lineageRetentionMs } : {}),
    });
    for (const [k, v] of Object.entries({
      dedupWindowMs: this.#dedupMs,
      rateLimit: this.#rateLimit,
      rateWindowMs: this.#rateMs,
      maxPending: this.#maxPending,
      requestTimeoutMs: this.#timeoutMs,
      sequenceMaxEntries: this.#seqMax,
    })) {
      if (!Number.isInteger(v) || v < 1) {
        throw triggerErrors.error(
          'ERR_TRIGGER_INVALID',
          `trigger manager option ${k} must be a positive integer, got ${v}`,
        );
      }
    }
  }

  name(): string {
    return this.#name;
  }

  #checkFree(id: string): void {
    if (this.#conditions.some((c) => c.definition.id === id) || this.#sequences.some((s) => s.definition.id === id)) {
      throw triggerErrors.error('ERR_TRIGGER_DUPLICATE', `a trigger with id "${id}" is already registered`);
    }
  }

  /**
   * Registers a condition: validated (`ERR_TRIGGER_INVALID`), its SQL compiled (`ERR_TRIGGER_SQL`
   * with the position), its id unique (`ERR_TRIGGER_DUPLICATE`). Returns the completed definition.
   */
  registerCondition(input: TriggerInput<TriggerCondition>): TriggerCondition {
    const definition = checkCondition(input);
    this.#checkFree(definition.id);
    const compiled = compileCondition(definition.sqlCondition);
    const r = { definition, compiled };
    this.#conditions = [...this.#conditions, r];
    this.#index.add(r, compiled);
    return definition;
  }

  /** Registers a sequence of two or three conditions; errors as for `registerCondition`. */
  registerSequence(input: TriggerInput<TriggerSequence>): TriggerSequence {
    const definition = checkSequence(input);
    this.#checkFree(definition.id);
    this.#sequences = [...this.#sequences, new SequenceMatcher(definition, this.#seqMax)];
    return definition;
  }

  /** Removes a condition or sequence; returns whether one was registered under `id`. */
  unregister(id: string): boolean {
    const before = this.#conditions.length + this.#sequences.length;
    this.#conditions = this.#conditions.filter((c) => c.definition.id !== id);
    this.#index = new ConditionIndex<Registered>();
    for (const c of this.#conditions) this.#index.add(c, c.compiled);
    this.#sequences = this.#sequences.filter((s) => s.definition.id !== id);
    return this.#conditions.length + this.#sequences.length < before;
  }

  /** The registered definitions. */
  triggers(): (TriggerCondition | TriggerSequence)[] {
    return [...this.#conditions.map((c) => c.definition), ...this.#sequences.map((s) => s.definition)];
  }

  #refuse(reason: string, n = 1): void {
    this.#refused.set(reason, (this.#refused.get(reason) ?? 0) + n);
    if (!this.#loggedRefusal.has(reason)) {
      this.#loggedRefusal.add(reason);
      this.#log.warn({ reason }, 'trigger request refused; later ones are counted in stats');
    }
  }

  process(batch: EventBatch, tx: DerivedEventSender): void {
    const now = this.#now();
    const records = batch.records;
    const index = this.#index;
    const sequences = this.#sequences;
    let current = 0;
    let currentEvent: CollectionEvent | undefined;
    const visit = (r: Registered): void => {
      const ev = currentEvent as CollectionEvent;
      if (r.compiled.test(ev, this.lineage)) this.#fire(r.definition, ev, records.at(current), now);
    };
    let latest = 0;
    for (let i = 0; i < batch.length; i++) {
      const e = batch[i] as CollectionEvent;
      if (e.kind === 'analysis_result') {
        if (e.correlationId !== undefined && this.#awaiting.delete(e.correlationId)) this.#completed++;
        continue;
      }
      if (e.kind === 'trigger_request') continue;
      this.lineage.observe(e, now);
      if (e.timestamp > latest) latest = e.timestamp;
      current = i;
      currentEvent = e;
      this.#evaluated += index.candidates(e, this.lineage, visit);
      this.#seen++;
      for (const s of sequences) {
        const first = s.observe(e, this.lineage, () => records.at(i));
        if (first !== undefined) this.#fire(s.definition, e, records.at(i), now, first);
      }
    }
    this.lineage.expire(now);
    for (const s of sequences) s.expire(latest);
    this.#expire(now);
    this.#drain(tx);
  }

  #fire(
    def: TriggerCondition | TriggerSequence,
    e: CollectionEvent,
    cause: EventRecord,
    now: number,
    first?: EventRecord,
  ): void {
    this.#matched.set(def.id, (this.#matched.get(def.id) ?? 0) + 1);
    const targetPid = CollectionEvent.pid(e);
    const targetPath = e.kind === 'process' ? e.executablePath : e.kind === 'filesystem' ? e.path : undefined;
    if (targetPid === undefined && (targetPath === undefined || targetPath === '')) {
      this.#refuse('no_target');
      return;
    }
    const key = `${def.id}\u0000${def.targetCollector}\u0000${targetPid ?? ''}\u0000${targetPath ?? ''}`;
    const seen = this.#dedup.get(key);
    if (seen !== undefined && now - seen < this.#dedupMs) {
      this.#refuse('dedup');
      return;
    }
    const times = this.#rate.get(def.targetCollector) ?? [];
    while (times.length > 0 && now - (times[0] as number) >= this.#rateMs) times.shift();
    if (times.length >= this.#rateLimit) {
      this.#refuse('rate_limited');
      return;
    }
    let request: TriggerRequestEvent;
    try {
      request = CollectionEvent.triggerRequest({
        triggerId: def.id,
        targetCollector: def.targetCollector,
        analysisType: def.analysisType,
        priority: def.priority,
        ...(targetPid !== undefined ? { targetPid } : {}),
        ...(targetPath !== undefined && targetPath !== '' ? { targetPath } : {}),
        correlationId: randomUUID(),
        metadata: this.#metadata(def, e, cause, first),
        timestamp: now,
      });
    } catch (err) {
      this.#log.debug({ err: describeError(err) }, 'invalid trigger request');
      this.#refuse('invalid');
      return;
    }
    if (!this.#enqueue({ request, cause, queuedAt: now, tries: 0 })) return;
    this.#dedup.delete(key);
    this.#dedup.set(key, now);
    if (this.#dedup.size > MAX_DEDUP_KEYS) {
      this.#dedup.delete(this.#dedup.keys().next().value as string);
      this.#refuse('dedup_evicted');
    }
    times.push(now);
    this.#rate.set(def.targetCollector, times);
  }

  #metadata(
    def: TriggerCondition | TriggerSequence,
    e: CollectionEvent,
    cause: EventRecord,
    first: EventRecord | undefined,
  ): Record<string, string> {
    const m: Record<string, string> = {
      condition: 'sqlCondition' in def ? def.sqlCondition : def.steps.join(' THEN '),
      cause_seq: String(cause.seq),
      event_type: CollectionEvent.eventType(e),
      max_execution_ms: String(def.resourceLimits.maxExecutionMs),
      max_input_bytes: String(def.resourceLimits.maxInputBytes),
    };
    if (def.description !== '') m.description = def.description;
    if (first !== undefined) m.sequence_first_seq = String(first.seq);
    if (e.kind === 'process') {
      m.name = e.name;
      if (e.ppid !== undefined) m.ppid = String(e.ppid);
      if (e.commandLine.length > 0) m.command_line = e.commandLine.join(' ').slice(0, 4096);
    }
    return m;
  }

  #pendingCount(): number {
    return this.#queues.reduce((n, q) => n + q.length, 0);
  }

  #enqueue(p: Pending): boolean {
    const priority = p.request.priority;
    const total = this.#pendingCount();
    if (priority === 0 && ((this.#shedding?.level ?? 0) > 0 || total >= Math.ceil(this.#maxPending * 0.8))) {
      this.#refuse('shed_low');
      return false;
    }
    if (total >= this.#maxPending) {
      const victim = this.#queues.findIndex((q, level) => level < priority && q.length > 0);
      if (victim < 0) {
        this.#refuse('queue_full');
        return false;
      }
      (this.#queues[victim] as Pending[]).shift();
      this.#refuse(victim === 0 ? 'shed_low' : 'shed');
    }
    (this.#queues[priority] as Pending[]).push(p);
    return true;
  }

  #drain(tx: DerivedEventSender): void {
    for (let level = 3; level >= 0; level--) {
      const q = this.#queues[level] as Pending[];
      while (q.length > 0) {
        const p = q[0] as Pending;
        if (!tx.emit(p.request, p.cause)) {
          p.tries++;
          if (p.tries >= MAX_EMIT_TRIES) {
            q.shift();
            this.#refuse('emit_refused');
            continue;
          }
          return; // the lane is full: try again with the next batch
        }
        q.shift();
        this.#emitted++;
        this.#awaiting.set(p.request.correlationId, p.request.timestamp);
        if (this.#awaiting.size > this.#maxPending * 10) {
          this.#awaiting.delete(this.#awaiting.keys().next().value as string);
          this.#timedOut++;
        }
      }
    }
  }

  #expire(now: number): void {
    for (const q of this.#queues) {
      while (q.length > 0 && now - (q[0] as Pending).queuedAt >= this.#timeoutMs) {
        q.shift();
        this.#refuse('expired');
      }
    }
    for (const [id, at] of this.#awaiting) {
      if (now - at < this.#timeoutMs) break;
      this.#awaiting.delete(id);
      this.#timedOut++;
    }
    for (const [key, at] of this.#dedup) {
      if (now - at < this.#dedupMs) break;
      this.#dedup.delete(key);
    }
  }

  /** Degraded while requests are refused by the lane or time out unanswered; otherwise healthy. */
  health(): HealthReport {
    const refused = this.#refused.get('emit_refused') ?? 0;
    if (refused > 0)
      return { status: 'degraded', reason: `${refused} trigger requests refused by the derived-event lane` };
    return { status: 'healthy' };
  }

  stats(): TriggerManagerStats {
    const [low, normal, high, critical] = this.#queues.map((q) => q.length) as [number, number, number, number];
    return {
      conditions: this.#conditions.length,
      sequences: this.#sequences.length,
      events: this.#seen,
      evaluated: this.#evaluated,
      matched: Object.fromEntries(this.#matched),
      emitted: this.#emitted,
      refused: Object.fromEntries(this.#refused),
      pending: { low, normal, high, critical },
      awaiting: this.#awaiting.size,
      completed: this.#completed,
      timedOut: this.#timedOut,
      lineage: this.lineage.stats(),
      sequenceState: Object.fromEntries(this.#sequences.map((s) => [s.definition.id, s.stats()])),
    };
  }
}
