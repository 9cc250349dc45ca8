/**
 * `EventPublisher`: the one place process events leave the source. It adds executable hashes (when
 * hashing is on), keeps the events of one pid in order (start → exec → exit) even when an exec waits
 * for its audit record or its hash, and uses the right sending mode: `await tx.send` for snapshots and
 * polling, `tx.trySend` for kernel-fed events so a slow sink never stalls the kernel reader. Pending
 * per-pid work is bounded; overflow is reported as loss. Every event gets its lineage (parent and
 * ancestors, from the process table) at the moment it is sent. It does not read /proc or talk to the
 * kernel.
 */
import type { EventSender, Logger, PlatformMetadata, ProcessEvent, SheddingSignal } from '@daemoneye/core';
import type { ProcessSnapshot } from '../process-snapshot.ts';
import type { ExecutableHasher, HashOutcome } from './exe-hasher.ts';

/** Hash lookups (open + stat, then cache or hash) in flight at once during a snapshot. */
const SNAPSHOT_HASH_LOOKUPS = 16;

/** Publisher settings. */
export interface EventPublisherOptions {
  readonly tx: EventSender;
  readonly hasher: ExecutableHasher | undefined;
  readonly logger: Logger;
  /** While the collector sheds load (level above none), executables are not hashed. */
  readonly shedding?: SheddingSignal | undefined;
  /** Per-pid tasks pending at most; more are dropped and reported as loss (default 65,536). */
  readonly maxPending?: number;
  /** Metadata naming the parent and ancestors of an event's process (default: none). */
  readonly lineage?: (event: ProcessEvent) => PlatformMetadata | undefined;
}

/** Counters of what was published. */
export interface PublisherStats {
  sent: number;
  dropped: number;
  overflowed: number;
}

/** Sends process events with hashes, in per-pid order. */
export class EventPublisher {
  readonly #options: EventPublisherOptions;
  readonly #chains = new Map<number, Promise<void>>();
  #pending = 0;
  #overflowLogged = false;
  readonly stats: PublisherStats = { sent: 0, dropped: 0, overflowed: 0 };

  constructor(options: EventPublisherOptions) {
    this.#options = options;
  }

  /**
   * Hashes the executable of a process (or says why not); `undefined` when hashing is off, also
   * while the collector sheds load.
   */
  async hash(target: { pid?: number; path?: string }): Promise<HashOutcome | undefined> {
    const h = this.#options.hasher;
    if (h === undefined || (target.pid === undefined && target.path === undefined)) return undefined;
    if ((this.#options.shedding?.level ?? 0) > 0) return undefined;
    return h.cached(target) ?? h.hash(target);
  }

  /**
   * Publishes a snapshot: hashes every process (bounded by the hasher's concurrency), then sends
   * each event with `await tx.send`, in pid order. Stops early when the sender closes.
   */
  async publishSnapshot(
    processes: readonly ProcessSnapshot[],
    build: (p: ProcessSnapshot, hash: HashOutcome | undefined) => ProcessEvent,
  ): Promise<void> {
    const hashes: Array<HashOutcome | undefined> = new Array(processes.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < processes.length; i = next++) {
        const p = processes[i];
        if (p === undefined) continue;
        const path = p.executablePath === undefined ? {} : { path: p.executablePath };
        hashes[i] = await this.hash({ pid: p.pid, ...path });
      }
    };
    await Promise.all(Array.from({ length: SNAPSHOT_HASH_LOOKUPS }, worker));
    for (const [i, p] of processes.entries()) {
      if (this.#options.tx.closed) return;
      await this.send(build(p, hashes[i]));
    }
  }

  /** Sends with backpressure (snapshots, polling). The event must be built for this send alone: its lineage is added in place. */
  async send(event: ProcessEvent): Promise<boolean> {
    const ok = await this.#options.tx.send(this.#withLineage(event));
    if (ok) this.stats.sent++;
    else this.stats.dropped++;
    return ok;
  }

  /** Sends without waiting (kernel-fed events), an event built for this send alone; a `false` was counted by the collector. */
  trySend(event: ProcessEvent): boolean {
    const ok = this.#options.tx.trySend(this.#withLineage(event));
    if (ok) this.stats.sent++;
    else this.stats.dropped++;
    return ok;
  }

  /**
   * Runs `task` after every earlier task of the same pid. A throwing task is logged and does not
   * stop later ones. When too many tasks are pending the task is dropped and reported as loss.
   */
  enqueue(pid: number, task: () => Promise<void>): void {
    if (this.#pending >= (this.#options.maxPending ?? 65_536)) {
      this.stats.overflowed++;
      this.#options.tx.reportLoss(1, 'process_enrichment_queue_full');
      if (!this.#overflowLogged) {
        this.#overflowLogged = true;
        this.#options.logger.warn({ pending: this.#pending }, 'process enrichment queue full; dropping events');
      }
      return;
    }
    this.#pending++;
    const prev = this.#chains.get(pid) ?? Promise.resolve();
    const next = prev
      .then(task)
      .catch((e: unknown) => this.#options.logger.error({ err: e, pid }, 'process event task failed'))
      .finally(() => {
        this.#pending--;
        if (this.#chains.get(pid) === next) this.#chains.delete(pid);
      });
    this.#chains.set(pid, next);
  }

  /** Adds the lineage to an event built for this send alone (its metadata is replaced, not the event copied). */
  #withLineage(event: ProcessEvent): ProcessEvent {
    const extra = this.#options.lineage?.(event);
    if (extra === undefined) return event;
    (event as { platformMetadata?: PlatformMetadata }).platformMetadata = { ...extra, ...event.platformMetadata };
    return event;
  }

  /** Tasks pending right now. */
  get pending(): number {
    return this.#pending;
  }

  /** Resolves when every task queued so far has run. */
  async drain(): Promise<void> {
    while (this.#chains.size > 0) await Promise.all([...this.#chains.values()]);
  }
}
