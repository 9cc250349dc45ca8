/**
 * One client's subscription on the server: a cursor into the replay ring, the compiled filters (the
 * event bus's topic patterns and EventFilter/CorrelationFilter predicates), and the slow-consumer
 * policy. The events between the cursor and the ring's head are what the client has yet to receive —
 * its queue, bounded by `queueCapacity`: past that the oldest give way (each matching one counted, and
 * reported in the stream by a drop notice) or the client is disconnected, by option. Identity:
 * `matched = sent + dropped + pending`. It does no I/O.
 */
import type { EventPredicate, TopicPattern } from '@daemoneye/event-bus';
import { topicOf } from '@daemoneye/event-bus';
import { entryBytes, type ReplayRing, type RingEntry } from './replay-ring.ts';

/** What a slow subscriber gets: its oldest pending events dropped, or the connection closed. */
export type SlowConsumerPolicy = 'drop-oldest' | 'disconnect';

/** A drop to report in the stream before the next batch. */
export interface PendingDrop {
  count: number;
  firstSeq: number;
  lastSeq: number;
}

/** Options of a {@link Subscription}. */
export interface SubscriptionOptions {
  readonly requestId: number;
  readonly predicate: EventPredicate | undefined;
  readonly topics: readonly TopicPattern[];
  /** Events of the stream the client may fall behind before the policy applies. */
  readonly queueCapacity: number;
  readonly slowConsumer: SlowConsumerPolicy;
  /** The ring position to start reading at. */
  readonly start: number;
}

/** What {@link Subscription.take} returns: matching entries and their encoded sizes. */
export interface Taken {
  readonly entries: RingEntry[];
  readonly bytes: Uint8Array[];
  /** Entries too large for one frame, skipped and counted as dropped. */
  readonly oversize: number;
}

export class Subscription {
  readonly requestId: number;
  readonly queueCapacity: number;
  readonly slowConsumer: SlowConsumerPolicy;
  readonly #predicate: EventPredicate | undefined;
  readonly #topics: readonly TopicPattern[];
  #cursor: number;
  #sent = 0;
  #dropped = 0;
  #pendingDrop: PendingDrop | undefined;

  constructor(o: SubscriptionOptions) {
    this.requestId = o.requestId;
    this.queueCapacity = o.queueCapacity;
    this.slowConsumer = o.slowConsumer;
    this.#predicate = o.predicate;
    this.#topics = o.topics;
    this.#cursor = o.start;
  }

  get cursor(): number {
    return this.#cursor;
  }
  get sent(): number {
    return this.#sent;
  }
  get dropped(): number {
    return this.#dropped;
  }

  /** True when the client asked for this event. */
  matches(entry: RingEntry): boolean {
    if (this.#predicate !== undefined && !this.#predicate(entry.event, entry.source)) return false;
    if (this.#topics.length === 0) return true;
    const topic = topicOf(entry.event);
    for (const t of this.#topics) if (t.matches(topic)) return true;
    return false;
  }

  /**
   * Applies the slow-consumer policy after the ring grew: returns false when the client fell more
   * than `queueCapacity` behind under `disconnect`; otherwise drops the oldest pending events down to
   * the capacity, counting those that match.
   */
  enforce(ring: ReplayRing): boolean {
    const lag = ring.head - this.#cursor;
    if (lag <= this.queueCapacity) return true;
    if (this.slowConsumer === 'disconnect') return false;
    const until = ring.head - this.queueCapacity;
    for (let p = this.#cursor; p < until; p++) {
      const entry = ring.at(p);
      if (entry === undefined || this.matches(entry)) this.#drop(entry?.seq);
    }
    this.#cursor = until;
    return true;
  }

  #drop(seq: number | undefined): void {
    this.#dropped++;
    const d = this.#pendingDrop;
    if (d === undefined) this.#pendingDrop = { count: 1, firstSeq: seq ?? 0, lastSeq: seq ?? 0 };
    else {
      d.count++;
      if (seq !== undefined) {
        if (d.firstSeq === 0) d.firstSeq = seq;
        d.lastSeq = seq;
      }
    }
  }

  /** The drop to report now, if any (cleared once taken). */
  takeDrop(): PendingDrop | undefined {
    const d = this.#pendingDrop;
    this.#pendingDrop = undefined;
    return d;
  }

  /** True when entries wait between the cursor and the ring's head. */
  pending(ring: ReplayRing): boolean {
    return this.#cursor < ring.head;
  }

  /**
   * Takes up to `maxEvents` matching entries (at most `maxBytes` of encoded records) from the cursor
   * on, advancing it. A record larger than `maxBytes` alone cannot travel and is dropped.
   */
  take(ring: ReplayRing, maxEvents: number, maxBytes: number): Taken {
    const entries: RingEntry[] = [];
    const bytes: Uint8Array[] = [];
    let size = 0;
    let oversize = 0;
    if (this.#cursor < ring.tail) {
      // Evicted under the cursor (the ring is smaller than the queue): gone for good.
      for (let p = this.#cursor; p < ring.tail; p++) this.#drop(undefined);
      this.#cursor = ring.tail;
    }
    while (this.#cursor < ring.head && entries.length < maxEvents) {
      const entry = ring.at(this.#cursor) as RingEntry;
      if (this.matches(entry)) {
        const b = entryBytes(entry);
        const cost = b.length + 6;
        if (cost > maxBytes) {
          oversize++;
          this.#drop(entry.seq);
          this.#cursor++;
          continue;
        }
        if (size + cost > maxBytes) break;
        entries.push(entry);
        bytes.push(b);
        size += cost;
      }
      this.#cursor++;
    }
    this.#sent += entries.length;
    return { entries, bytes, oversize };
  }
}
