/**
 * The replay ring: the last `capacity` events the server received, each with its record and its
 * encoded wire form (made once, on first read, and shared by every subscriber). Subscriptions read it
 * through cursors (see `subscription.ts`), so an event is held once however many clients stream it,
 * and a client that resumes after sequence N is served from here. Identity: `appended = held +
 * evicted`. It neither filters nor sends.
 */
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import type { CollectionEvent } from '@daemoneye/core';
import { EventRecord } from '@daemoneye/proto';
import { eventToWire } from '../mapping.ts';

/** One held event. */
export interface RingEntry {
  readonly seq: number;
  readonly event: CollectionEvent;
  readonly source: string;
  readonly acceptedAt: number;
  readonly cause: number | undefined;
  readonly depth: number;
  /** The encoded EventRecord, made on first use. */
  bytes: Uint8Array | undefined;
}

/** One writer for every record: its buffer grows once and is reused (`finish()` copies out and resets). */
const writer = new BinaryWriter();

/** The encoded EventRecord of an entry (encoded once, then cached on the entry). */
export function entryBytes(entry: RingEntry): Uint8Array {
  let b = entry.bytes;
  if (b === undefined) {
    b = EventRecord.encode(
      {
        seq: entry.seq,
        source: entry.source,
        acceptedAt: entry.acceptedAt,
        cause: entry.cause,
        depth: entry.depth,
        event: eventToWire(entry.event),
      },
      writer,
    ).finish();
    entry.bytes = b;
  }
  return b;
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
