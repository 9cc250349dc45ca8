/**
 * The replay ring: the last `capacity` events the server received, each with its record and its
 * encoded wire form (made once, on first read, and shared by every subscriber). Subscriptions read it
 * through cursors (see `subscription.ts`), so an event is held once however many clients stream it,
 * and a client that resumes after sequence N is served from here. Identity: `appended = held +
 * evicted`. It neither filters nor sends.
 */
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import type { CollectionEvent } from '@daemoneye/core';
import { writeEventRecord } from '@daemoneye/proto';

/** One held event. */
export interface RingEntry {
  readonly seq: number;
  readonly event: CollectionEvent;
  readonly source: string;
  readonly acceptedAt: number;
  readonly cause: number | undefined;
  readonly depth: number;
  /** The encoded EventRecord, made on first use (a view into its batch's one encoded buffer). */
  bytes: Uint8Array | undefined;
  /** The entries of the batch this one came in with, encoded together; cleared once encoded. */
  batch: RingEntry[] | undefined;
}

/** One writer for every batch: its buffer grows once and is reused (`finish()` copies out and resets). */
const writer = new BinaryWriter();

/** Tag of a length-delimited field 4 (EventBatch.records), written between records to find them again. */
const RECORD_TAG = 0x22;

/**
 * Encodes every not yet encoded entry of `batch` with one writer and one `finish()`: the records are
 * written as EventBatch.records fields, and each entry's bytes become a view of its record's body.
 */
function encodeBatch(batch: readonly RingEntry[]): void {
  const w = writer;
  let n = 0;
  for (let i = 0; i < batch.length; i++) {
    const entry = batch[i] as RingEntry;
    if (entry.bytes !== undefined) continue;
    writeEventRecord(w.uint32(RECORD_TAG).fork(), entry, entry.event).join();
    n++;
  }
  const buf = w.finish();
  let o = 0;
  for (let i = 0; i < batch.length && n > 0; i++) {
    const entry = batch[i] as RingEntry;
    entry.batch = undefined;
    if (entry.bytes !== undefined) continue;
    o++; // the tag
    let len = 0;
    let shift = 1;
    let byte: number;
    do {
      byte = buf[o++] as number;
      len += (byte & 0x7f) * shift;
      shift *= 128;
    } while (byte >= 0x80);
    entry.bytes = buf.subarray(o, o + len);
    o += len;
    n--;
  }
}

/** The encoded EventRecord of an entry (encoded with the rest of its batch, then cached on the entry). */
export function entryBytes(entry: RingEntry): Uint8Array {
  if (entry.bytes === undefined) encodeBatch(entry.batch ?? [entry]);
  return entry.bytes as Uint8Array;
}

/**
 * A circular buffer of entries addressed by a position that only grows (`position - evicted` is the
 * slot offset), so a cursor stays valid while entries are appended and knows when it fell behind.
 */
export class ReplayRing {
  readonly capacity: number;
  readonly #slots: (RingEntry | undefined)[];
  /** Position of the next append; positions below `head - held` are evicted. */
  #head = 0;
  #held = 0;
  /** The first sequence number ever appended (this run's first, as this server saw it). */
  #firstSeq: number | undefined;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#slots = new Array(capacity);
  }

  /** Position one past the newest entry. */
  get head(): number {
    return this.#head;
  }
  /** Position of the oldest held entry. */
  get tail(): number {
    return this.#head - this.#held;
  }
  get held(): number {
    return this.#held;
  }
  get appended(): number {
    return this.#head;
  }
  get evicted(): number {
    return this.#head - this.#held;
  }
  get firstSeq(): number | undefined {
    return this.#firstSeq;
  }
  /** The sequence number of the oldest held entry. */
  get oldestSeq(): number | undefined {
    return this.#held === 0 ? undefined : this.at(this.tail)?.seq;
  }
  /** The sequence number of the newest entry. */
  get newestSeq(): number | undefined {
    return this.#held === 0 ? undefined : this.at(this.#head - 1)?.seq;
  }

  /** Appends an entry, evicting the oldest when full. */
  push(entry: RingEntry): void {
    this.#firstSeq ??= entry.seq;
    this.#slots[this.#head % this.capacity] = entry;
    this.#head++;
    if (this.#held < this.capacity) this.#held++;
  }

  /** The entry at `position`, or undefined when it is evicted or not yet appended. */
  at(position: number): RingEntry | undefined {
    if (position < this.tail || position >= this.#head) return undefined;
    return this.#slots[position % this.capacity];
  }

  /** The position of the first held entry numbered after `seq` (binary search; numbers only grow). */
  positionAfter(seq: number): number {
    let lo = this.tail;
    let hi = this.#head;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.at(mid)?.seq ?? 0) <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
