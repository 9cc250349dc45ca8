/**
 * One subscriber's side of the bus: a bounded ring of deliveries with an overflow policy, read as an
 * async iterator (or drained synchronously with `take`). The publisher only ever calls `offer`, which
 * never waits: a full queue drops the newest delivery (`queue_full`) or evicts the oldest
 * (`queue_full_evicted`), and each drop is counted. Iteration ends when the subscription's signal
 * aborts or it is closed; what was still queued then is discarded and counted as `unsubscribed`. This
 * module does not match topics or filters; the bus does, before offering.
 */
import type { CollectionEvent } from '@daemoneye/core';

/** What a subscriber receives for one event. */
export interface BusDelivery {
  readonly topic: string;
  readonly event: CollectionEvent;
  /** The event's sequence number on the host (its record's `seq`), or -1 when published without one. */
  readonly seq: number;
  /** The source (or processor) that sent the event. */
  readonly source: string;
}

/** What a full subscriber queue does with a new delivery. */
export type SubscriberOverflow = 'drop-newest' | 'drop-oldest';

/** Counters of one subscriber: `matched = consumed + dropped + depth` (dropped over every reason). */
export interface SubscriberStats {
  readonly subscriberId: string;
  readonly capacity: number;
  readonly overflow: SubscriberOverflow;
  readonly matched: number;
  readonly consumed: number;
  readonly depth: number;
  readonly highWater: number;
  readonly dropped: Readonly<Record<string, number>>;
  readonly closed: boolean;
}

/** The queue behind a subscription. */
export class SubscriberQueue implements AsyncIterable<BusDelivery> {
  readonly subscriberId: string;
  readonly capacity: number;
  readonly overflow: SubscriberOverflow;
  readonly #ring: (BusDelivery | undefined)[];
  #head = 0;
  #size = 0;
  #matched = 0;
  #consumed = 0;
  #highWater = 0;
  #full = 0;
  #evicted = 0;
  #unsubscribed = 0;
  #closed = false;
  #waiter: ((r: IteratorResult<BusDelivery>) => void) | undefined;
  readonly #onClose: () => void;

  constructor(options: {
    subscriberId: string;
    capacity: number;
    overflow: SubscriberOverflow;
    signal?: AbortSignal;
    onClose: () => void;
  }) {
    this.subscriberId = options.subscriberId;
    this.capacity = options.capacity;
    this.overflow = options.overflow;
    this.#ring = new Array(options.capacity);
    this.#onClose = options.onClose;
    const signal = options.signal;
    if (signal !== undefined) {
      if (signal.aborted) queueMicrotask(() => this.close());
      else signal.addEventListener('abort', () => this.close(), { once: true });
    }
  }

  /** True once closed (by `close()` or the signal). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Queues a delivery; never waits. Returns false when it was dropped or the queue is closed. */
  offer(d: BusDelivery): boolean {
    if (this.#closed) return false;
    this.#matched++;
    const w = this.#waiter;
    if (w !== undefined) {
      this.#waiter = undefined;
      this.#consumed++;
      w({ value: d, done: false });
      return true;
    }
    if (this.#size === this.capacity) {
      if (this.overflow === 'drop-newest') {
        this.#full++;
        return false;
      }
      this.#ring[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.capacity;
      this.#size--;
      this.#evicted++;
    }
    this.#ring[(this.#head + this.#size) % this.capacity] = d;
    this.#size++;
    if (this.#size > this.#highWater) this.#highWater = this.#size;
    return true;
  }

  #shift(): BusDelivery {
    const d = this.#ring[this.#head] as BusDelivery;
    this.#ring[this.#head] = undefined;
    this.#head = this.#head + 1 === this.capacity ? 0 : this.#head + 1;
    this.#size--;
    this.#consumed++;
    return d;
  }

  /** Removes and returns up to `max` queued deliveries at once, oldest first. */
  take(max = Number.POSITIVE_INFINITY): BusDelivery[] {
    const n = Math.min(max, this.#size);
    const out = new Array<BusDelivery>(n);
    for (let i = 0; i < n; i++) out[i] = this.#shift();
    return out;
  }

  /** The next delivery; resolves `done` once the subscription is closed. One reader at a time. */
  next(): Promise<IteratorResult<BusDelivery>> {
    if (this.#size > 0) return Promise.resolve({ value: this.#shift(), done: false });
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<BusDelivery> {
    return {
      next: () => this.next(),
      return: async () => {
        this.close();
        return { value: undefined, done: true };
      },
    };
  }

  /** Ends the subscription: later offers are refused, queued deliveries are discarded and counted. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribed += this.#size;
    this.#ring.fill(undefined);
    this.#size = 0;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.({ value: undefined, done: true });
    this.#onClose();
  }

  stats(): SubscriberStats {
    const dropped: Record<string, number> = {};
    if (this.#full > 0) dropped.queue_full = this.#full;
    if (this.#evicted > 0) dropped.queue_full_evicted = this.#evicted;
    if (this.#unsubscribed > 0) dropped.unsubscribed = this.#unsubscribed;
    return {
      subscriberId: this.subscriberId,
      capacity: this.capacity,
      overflow: this.overflow,
      matched: this.#matched,
      consumed: this.#consumed,
      depth: this.#size,
      highWater: this.#highWater,
      dropped,
      closed: this.#closed,
    };
  }
}
