/**
 * Event records: what the collector knows about each event it accepted, beside the event itself — a
 * sequence number, the run it was accepted in, the source (or processor) that sent it, when it was
 * accepted, and for a derived event the record it came from and how deep the chain is. Records are
 * stored in parallel arrays per batch (`BatchRecords`), so a batch costs a few arrays, not an object
 * per event; `at(i)` builds a plain record on demand. This module describes records; the collector
 * assigns them (see `sequence.ts` for how numbers stay unique across restarts).
 */
import type { CollectionEvent } from './event.ts';

/** One accepted event's record. */
export interface EventRecord {
  /** Unique on this host: across restarts when the collector has a data directory, else within `runId`. */
  readonly seq: number;
  /** A random id of the collector run that accepted the event. */
  readonly runId: string;
  /** Name of the source (or processor, for a derived event) that sent it. */
  readonly source: string;
  /** When the collector accepted it, epoch milliseconds. */
  readonly acceptedAt: number;
  /** For a derived event: the sequence number of the event it was derived from. */
  readonly cause?: number;
  /** 0 for a source's event; a derived event is one deeper than its cause. */
  readonly depth: number;
}

/** The records of one batch, index-aligned with its events. */
export interface BatchRecords extends Iterable<EventRecord> {
  readonly length: number;
  readonly runId: string;
  /** Sequence number of the first event; the batch's numbers are consecutive. */
  readonly firstSeq: number;
  seq(i: number): number;
  source(i: number): string;
  acceptedAt(i: number): number;
  cause(i: number): number | undefined;
  depth(i: number): number;
  /** The record of event `i` as a plain object. */
  at(i: number): EventRecord;
}

/**
 * What sinks and processors receive: the events, in order, as a read-only array (so a sink written
 * for `readonly CollectionEvent[]` keeps working), with their `records`.
 */
export type EventBatch = readonly CollectionEvent[] & { readonly records: BatchRecords };

/** The parts a batch's records are made of (see `makeBatch`). */
export interface RecordColumns {
  readonly sources: readonly string[];
  readonly acceptedAt: ArrayLike<number>;
  /** Per event: the cause's sequence number, or -1 for none. Absent when no event is derived. */
  readonly causes?: ArrayLike<number>;
  readonly depths?: ArrayLike<number>;
}

class ColumnRecords implements BatchRecords {
  readonly length: number;
  readonly runId: string;
  readonly firstSeq: number;
  readonly #c: RecordColumns;

  constructor(runId: string, firstSeq: number, length: number, columns: RecordColumns) {
    this.runId = runId;
    this.firstSeq = firstSeq;
    this.length = length;
    this.#c = columns;
  }

  seq(i: number): number {
    return this.firstSeq + i;
  }
  source(i: number): string {
    return this.#c.sources[i] ?? '';
  }
  acceptedAt(i: number): number {
    return this.#c.acceptedAt[i] ?? 0;
  }
  cause(i: number): number | undefined {
    const c = this.#c.causes?.[i];
    return c === undefined || c < 0 ? undefined : c;
  }
  depth(i: number): number {
    return this.#c.depths?.[i] ?? 0;
  }
  at(i: number): EventRecord {
    const cause = this.cause(i);
    return {
      seq: this.seq(i),
      runId: this.runId,
      source: this.source(i),
      acceptedAt: this.acceptedAt(i),
      ...(cause !== undefined ? { cause } : {}),
      depth: this.depth(i),
    };
  }
  *[Symbol.iterator](): Iterator<EventRecord> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }
}

/** Attaches records to an array of events, making it an {@link EventBatch}. */
export function makeBatch(
  events: CollectionEvent[],
  runId: string,
  firstSeq: number,
  columns: RecordColumns,
): EventBatch {
  const records = new ColumnRecords(runId, firstSeq, events.length, columns);
  Object.defineProperty(events, 'records', { value: records, enumerable: false });
  return events as unknown as EventBatch;
}

/** Builds a batch with records for events that did not pass through a collector (tests, replays). */
export function batchOf(
  events: readonly CollectionEvent[],
  options: { runId?: string; firstSeq?: number; source?: string; acceptedAt?: number } = {},
): EventBatch {
  const source = options.source ?? 'test';
  const at = options.acceptedAt ?? Date.now();
  return makeBatch([...events], options.runId ?? 'test-run', options.firstSeq ?? 1, {
    sources: events.map(() => source),
    acceptedAt: events.map(() => at),
  });
}

/** The records of a batch; a plain array (from an older caller) gets records made up on the spot. */
export function recordsOf(batch: readonly CollectionEvent[]): BatchRecords {
  const r = (batch as Partial<EventBatch>).records;
  return r ?? batchOf(batch, { source: 'unknown', firstSeq: 0 }).records;
}
