/**
 * The derived-event lane: a bounded FIFO for events that processors emit back into the collector (bus
 * republishing, trigger requests, analysis results). It is separate from the source channel and never
 * waits: a full lane refuses (`derived_lane_full`) and a chain deeper than `maxDepth` is refused
 * (`derivation_depth`), so a blocked sink plus a processor can never deadlock the pipeline and a
 * processor reacting to its own output cannot loop forever. Every offer is counted:
 * `offered = accepted + dropped`, and accepted events wait here until the batcher takes them. It does
 * not batch or run processors.
 */
import { ReasonCounter } from './counters.ts';
import type { CollectionEvent } from './event.ts';

/** Derived events taken from the lane with their record columns. */
export interface DerivedChunk {
  readonly events: CollectionEvent[];
  readonly sources: string[];
  readonly acceptedAt: Float64Array;
  readonly causes: Float64Array;
  readonly depths: Uint8Array;
}

interface Entry {
  readonly event: CollectionEvent;
  readonly source: string;
  readonly acceptedAt: number;
  readonly cause: number;
  readonly depth: number;
}

/** Counters of the lane. */
export interface DerivedLaneStats {
  readonly capacity: number;
  readonly maxDepth: number;
  readonly offered: number;
  readonly accepted: number;
  readonly buffered: number;
  readonly highWater: number;
  readonly dropped: Readonly<Record<string, number>>;
}

/** The bounded lane of derived events. */
export class DerivedLane {
  readonly capacity: number;
  readonly maxDepth: number;
  readonly #onPush: () => void;
  #entries: Entry[] = [];
  #head = 0;
  #offered = 0;
  #accepted = 0;
  #highWater = 0;
  #closed = false;
  readonly #dropped = new ReasonCounter();

  constructor(options: { capacity: number; maxDepth: number; onPush: () => void }) {
    this.capacity = options.capacity;
    this.maxDepth = options.maxDepth;
    this.#onPush = options.onPush;
  }

  get size(): number {
    return this.#entries.length - this.#head;
  }

  /**
   * Offers a derived event from `source` caused by the event numbered `cause` at depth `causeDepth`.
   * Returns false (counted) when the lane is closed, full, or the chain would be too deep.
   */
  offer(event: CollectionEvent, source: string, cause: number, causeDepth: number): boolean {
    this.#offered++;
    const depth = causeDepth + 1;
    if (this.#closed) return this.#refuse('closed');
    if (depth > this.maxDepth) return this.#refuse('derivation_depth');
    if (this.size >= this.capacity) return this.#refuse('derived_lane_full');
    this.#entries.push({ event, source, acceptedAt: Date.now(), cause, depth });
    this.#accepted++;
    if (this.size > this.#highWater) this.#highWater = this.size;
    this.#onPush();
    return true;
  }

  #refuse(reason: string): false {
    this.#dropped.add(reason);
    return false;
  }

  /** Removes and returns up to `max` events, oldest first. */
  take(max: number): DerivedChunk {
    const n = Math.min(max, this.size);
    const events = new Array<CollectionEvent>(n);
    const sources = new Array<string>(n);
    const acceptedAt = new Float64Array(n);
    const causes = new Float64Array(n);
    const depths = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const e = this.#entries[this.#head + i] as Entry;
      events[i] = e.event;
      sources[i] = e.source;
      acceptedAt[i] = e.acceptedAt;
      causes[i] = e.cause;
      depths[i] = e.depth;
    }
    this.#head += n;
    if (this.#head === this.#entries.length) {
      this.#entries = [];
      this.#head = 0;
    } else if (this.#head > 1024) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    return { events, sources, acceptedAt, causes, depths };
  }

  /** Stops accepting derived events (refused as `closed`). */
  close(): void {
    this.#closed = true;
  }

  /** Gives up on what waits at a shutdown deadline: those leave `accepted` and count under `reason`. */
  abandon(reason: string): number {
    const n = this.take(this.size).events.length;
    this.#accepted -= n;
    this.#dropped.add(reason, n);
    return n;
  }

  stats(): DerivedLaneStats {
    return {
      capacity: this.capacity,
      maxDepth: this.maxDepth,
      offered: this.#offered,
      accepted: this.#accepted,
      buffered: this.size,
      highWater: this.#highWater,
      dropped: this.#dropped.toObject(),
    };
  }
}
