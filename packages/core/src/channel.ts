/**
 * The bounded event channel between sources and the batcher: a ring buffer of `capacity` events with
 * a backpressure threshold. `trySend` accepts until the buffer is full and never waits; `send`
 * accepts below the threshold and otherwise waits in FIFO order for room, up to `maxWait`, then
 * drops. Every offered event is accounted for: `offered = accepted + dropped + waiting`. Beside each
 * event it keeps the name of the source that sent it and when it was accepted (the start of its
 * record). The channel does not batch or deliver; it calls `onPush` so the pipeline can.
 */

import { ReasonCounter } from './counters.ts';
import type { CollectionEvent } from './event.ts';

/** Why the channel refused an event. */
export type ChannelDropReason = 'channel_full' | 'backpressure_timeout' | 'closed';

interface Waiter {
  readonly event: CollectionEvent;
  readonly source: string;
  readonly resolve: (accepted: boolean) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  done: boolean;
}

const ACCEPTED: Promise<boolean> = Promise.resolve(true);
const REFUSED: Promise<boolean> = Promise.resolve(false);

/** Options of {@link EventChannel}. */
export interface EventChannelOptions {
  readonly capacity: number;
  readonly threshold: number;
  readonly maxWait: number;
  /** Called after events were added (with the new depth). */
  readonly onPush: (depth: number) => void;
}

/** Events taken from the channel, with the source and acceptance time of each. */
export interface ChannelChunk {
  readonly events: CollectionEvent[];
  readonly sources: string[];
  readonly acceptedAt: Float64Array;
}

/** A bounded FIFO of events with backpressure and exact accounting. */
export class EventChannel {
  readonly capacity: number;
  readonly threshold: number;
  readonly #maxWait: number;
  readonly #onPush: (depth: number) => void;
  readonly #ring: (CollectionEvent | undefined)[];
  readonly #sources: string[];
  readonly #at: Float64Array;
  #head = 0;
  #size = 0;
  #closed = false;
  readonly #waiters: Waiter[] = [];
  #waiterHead = 0;
  #offered = 0;
  #accepted = 0;
  #highWater = 0;
  readonly #dropped = new ReasonCounter();
  /** Acceptance time shared by the events of one loop turn (refreshed every 1,024 events). */
  #stamp = 0;
  #stampUses = 0;
  readonly #expireStamp = (): void => {
    this.#stampUses = 0;
  };

  constructor(options: EventChannelOptions) {
    this.capacity = options.capacity;
    this.threshold = options.threshold;
    this.#maxWait = options.maxWait;
    this.#onPush = options.onPush;
    this.#ring = new Array<CollectionEvent | undefined>(options.capacity);
    this.#sources = new Array<string>(options.capacity).fill('');
    this.#at = new Float64Array(options.capacity);
  }

  /** Events offered so far (including losses sources reported). */
  get offered(): number {
    return this.#offered;
  }

  /** Events accepted and not taken back at a shutdown deadline. */
  get accepted(): number {
    return this.#accepted;
  }

  /** The deepest the buffer has been. */
  get highWater(): number {
    return this.#highWater;
  }

  /** Refusals and losses by reason. */
  dropped(): Record<string, number> {
    return this.#dropped.toObject();
  }

  /**
   * Counts events a source lost before it could offer them (a kernel buffer overrun): they are
   * offered and dropped at once with reason `source_lost:<reason>`.
   */
  recordLoss(reason: string, count: number): void {
    this.#offered += count;
    this.#dropped.add(`source_lost:${reason}`, count);
  }

  /** Events currently buffered. */
  get size(): number {
    return this.#size;
  }

  /** Senders currently waiting for room. */
  get waiting(): number {
    return this.#waiters.length - this.#waiterHead;
  }

  get closed(): boolean {
    return this.#closed;
  }

  #push(event: CollectionEvent, source: string): void {
    const at = (this.#head + this.#size) % this.capacity;
    this.#ring[at] = event;
    this.#sources[at] = source;
    this.#at[at] = this.#now();
    this.#size++;
    this.#accepted++;
    if (this.#size > this.#highWater) this.#highWater = this.#size;
  }

  /**
   * Epoch ms for an acceptance. `Date.now()` costs as much as the rest of an accept, so events
   * accepted in one turn of the event loop share one reading: it expires when the loop turns
   * (`setImmediate`) and after 1,024 events, which keeps it within that turn's own duration (well
   * under a millisecond at these rates) of the truth.
   */
  #now(): number {
    if (this.#stampUses === 0) {
      this.#stamp = Date.now();
      setImmediate(this.#expireStamp);
    }
    if (++this.#stampUses >= 1024) this.#stampUses = 0;
    return this.#stamp;
  }

  /** Adds an event from `source` if the buffer has room; never waits. */
  trySend(event: CollectionEvent, source = ''): boolean {
    this.#offered++;
    if (this.#closed) {
      this.#dropped.add('closed');
      return false;
    }
    if (this.#size >= this.capacity) {
      this.#dropped.add('channel_full');
      return false;
    }
    this.#push(event, source);
    this.#onPush(this.#size);
    return true;
  }

  /** Adds an event, waiting under backpressure up to `maxWait`; resolves whether it was accepted. */
  send(event: CollectionEvent, source = ''): Promise<boolean> {
    this.#offered++;
    if (this.#closed) {
      this.#dropped.add('closed');
      return REFUSED;
    }
    if (this.#size < this.threshold && this.waiting === 0) {
      this.#push(event, source);
      this.#onPush(this.#size);
      return ACCEPTED;
    }
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = { event, source, resolve, timer: undefined, done: false };
      waiter.timer = setTimeout(() => {
        if (waiter.done) return;
        waiter.done = true;
        this.#dropped.add('backpressure_timeout');
        resolve(false);
        this.#compactWaiters();
      }, this.#maxWait);
      this.#waiters.push(waiter);
    });
  }

  #compactWaiters(): void {
    while (this.#waiterHead < this.#waiters.length && this.#waiters[this.#waiterHead]?.done === true)
      this.#waiterHead++;
    if (this.#waiterHead > 1024 && this.#waiterHead * 2 > this.#waiters.length) {
      this.#waiters.splice(0, this.#waiterHead);
      this.#waiterHead = 0;
    }
  }

  /** Removes and returns up to `max` events in arrival order, then admits waiting senders. */
  take(max: number): ChannelChunk {
    const n = Math.min(max, this.#size);
    const events = new Array<CollectionEvent>(n);
    const sources = new Array<string>(n);
    const acceptedAt = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const idx = (this.#head + i) % this.capacity;
      events[i] = this.#ring[idx] as CollectionEvent;
      sources[i] = this.#sources[idx] as string;
      acceptedAt[i] = this.#at[idx] as number;
      this.#ring[idx] = undefined;
    }
    this.#head = (this.#head + n) % this.capacity;
    this.#size -= n;
    this.#admitWaiters();
    return { events, sources, acceptedAt };
  }

  /**
   * Gives up on every buffered event at a shutdown deadline: they leave `accepted` and are counted as
   * dropped with `reason`, so the ledger stays exact. Returns how many.
   */
  abandon(reason: string): number {
    const n = this.take(this.#size).events.length;
    this.#accepted -= n;
    this.#dropped.add(reason, n);
    return n;
  }

  #admitWaiters(): void {
    let admitted = false;
    while (this.#size < this.threshold && this.#waiterHead < this.#waiters.length) {
      const w = this.#waiters[this.#waiterHead++] as Waiter;
      if (w.done) continue;
      w.done = true;
      clearTimeout(w.timer);
      this.#push(w.event, w.source);
      w.resolve(true);
      admitted = true;
    }
    this.#compactWaiters();
    if (admitted) this.#onPush(this.#size);
  }

  /** Stops accepting events; waiting senders are refused (counted as `closed`). Buffered events stay. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (let i = this.#waiterHead; i < this.#waiters.length; i++) {
      const w = this.#waiters[i] as Waiter;
      if (w.done) continue;
      w.done = true;
      clearTimeout(w.timer);
      this.#dropped.add('closed');
      w.resolve(false);
    }
    this.#waiters.length = 0;
    this.#waiterHead = 0;
  }
}
