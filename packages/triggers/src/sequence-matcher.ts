/**
 * The state machine of one `TriggerSequence`: partial matches waiting for their next step, keyed by
 * the join key (pid, parent pid or path), each with the time of its first step. An event that
 * matches step k and finds a partial at step k within the window advances it; the last step fires
 * once and forgets the partial. Windows use the events' own timestamps. State is bounded: at most
 * `maxEntries` partials (the oldest evicted), and partials past their window are dropped; both are
 * counted. It emits nothing; the trigger manager turns a completion into a request.
 */
import { CollectionEvent, type EventRecord } from '@daemoneye/core';
import type { EvalContext } from './columns.ts';
import type { TriggerSequence } from './condition.ts';
import { type CompiledCondition, compileCondition } from './sql-condition.ts';

interface Partial {
  readonly startedAt: number;
  readonly first: EventRecord;
}

/** Counters of a sequence. */
export interface SequenceStats {
  readonly partials: number;
  readonly started: number;
  readonly completed: number;
  readonly expired: number;
  readonly evicted: number;
}

function pathOf(e: CollectionEvent): string | undefined {
  if (e.kind === 'filesystem') return e.path;
  if (e.kind === 'process') return e.executablePath;
  if (e.kind === 'trigger_request') return e.targetPath;
  return undefined;
}

/** Matches one sequence. */
export class SequenceMatcher {
  readonly definition: TriggerSequence;
  readonly steps: readonly CompiledCondition[];
  readonly maxEntries: number;
  /** waiting[k]: partials that have matched steps 0..k-1 and wait for step k. */
  readonly #waiting: Map<string | number, Partial>[];
  #size = 0;
  #started = 0;
  #completed = 0;
  #expired = 0;
  #evicted = 0;

  constructor(definition: TriggerSequence, maxEntries: number) {
    this.definition = definition;
    this.steps = definition.steps.map((s) => compileCondition(s));
    this.maxEntries = maxEntries;
    this.#waiting = this.steps.map(() => new Map());
  }

  #outKey(e: CollectionEvent): string | number | undefined {
    if (this.definition.join === 'same_path') return pathOf(e);
    return CollectionEvent.pid(e);
  }
  #inKey(e: CollectionEvent): string | number | undefined {
    if (this.definition.join === 'same_path') return pathOf(e);
    if (this.definition.join === 'parent_child') return e.kind === 'process' ? e.ppid : undefined;
    return CollectionEvent.pid(e);
  }

  #store(k: number, key: string | number, p: Partial): void {
    const map = this.#waiting[k] as Map<string | number, Partial>;
    if (map.delete(key)) this.#size--;
    while (this.#size >= this.maxEntries) {
      const victim = this.#waiting.find((m) => m.size > 0) as Map<string | number, Partial>;
      victim.delete(victim.keys().next().value as string | number);
      this.#size--;
      this.#evicted++;
    }
    map.set(key, p);
    this.#size++;
  }

  /**
   * Feeds one event. Returns the record of the sequence's first event when this event completes it.
   * `record` is the event's record, built only when needed.
   */
  observe(e: CollectionEvent, ctx: EvalContext, record: () => EventRecord): EventRecord | undefined {
    const n = this.steps.length;
    const within = this.definition.withinMs;
    let done: EventRecord | undefined;
    // Later steps first, so one event never advances a partial it just created.
    for (let k = n - 1; k >= 1; k--) {
      if (!(this.steps[k] as CompiledCondition).test(e, ctx)) continue;
      const key = this.#inKey(e);
      if (key === undefined) continue;
      const map = this.#waiting[k] as Map<string | number, Partial>;
      const p = map.get(key);
      if (p === undefined) continue;
      map.delete(key);
      this.#size--;
      const age = e.timestamp - p.startedAt;
      if (age < 0 || age > within) {
        this.#expired++;
        continue;
      }
      if (k === n - 1) {
        this.#completed++;
        done = p.first;
      } else {
        const out = this.#outKey(e);
        if (out !== undefined) this.#store(k + 1, out, p);
      }
    }
    if ((this.steps[0] as CompiledCondition).test(e, ctx)) {
      const out = this.#outKey(e);
      if (out !== undefined) {
        this.#started++;
        this.#store(1, out, { startedAt: e.timestamp, first: record() });
      }
    }
    return done;
  }

  /** Drops partials whose window ended before `latest` (event time). */
  expire(latest: number): void {
    const within = this.definition.withinMs;
    for (const map of this.#waiting) {
      for (const [key, p] of map) {
        if (latest - p.startedAt <= within) break;
        map.delete(key);
        this.#size--;
        this.#expired++;
      }
    }
  }

  stats(): SequenceStats {
    return {
      partials: this.#size,
      started: this.#started,
      completed: this.#completed,
      expired: this.#expired,
      evicted: this.#evicted,
    };
  }
}
