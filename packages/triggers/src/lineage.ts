/**
 * A bounded pid → (name, executable path) table, kept from the process events the trigger manager
 * sees (snapshot, start, exec; an exit marks the entry, which stays for a retention window so a child
 * reported just after its parent exited still finds it). It gives conditions the `parent_name` and
 * `parent_executable_path` columns until process events carry lineage themselves. It holds at most
 * `capacity` entries: beyond that the entry created first is evicted, and evictions are counted. It reads nothing
 * from the host.
 */
import type { CollectionEvent } from '@daemoneye/core';
import type { EvalContext } from './columns.ts';

interface Entry {
  name: string;
  executablePath: string | undefined;
  exitedAt: number;
}

/** Counters of the lineage table. */
export interface LineageStats {
  readonly size: number;
  readonly capacity: number;
  readonly evicted: number;
  readonly expired: number;
}

/** The lineage table. */
export class LineageTable implements EvalContext {
  readonly capacity: number;
  readonly retentionMs: number;
  readonly #map = new Map<number, Entry>();
  readonly #exited: number[] = [];
  #exitedHead = 0;
  #evicted = 0;
  #expired = 0;

  constructor(options: { capacity?: number; retentionMs?: number } = {}) {
    this.capacity = options.capacity ?? 65_536;
    this.retentionMs = options.retentionMs ?? 30_000;
  }

  /** Updates the table from one event (non-process events are ignored). */
  observe(e: CollectionEvent, now: number): void {
    if (e.kind !== 'process') return;
    if (e.subtype === 'exit') {
      const entry = this.#map.get(e.pid);
      if (entry !== undefined && entry.exitedAt === 0) {
        entry.exitedAt = now;
        this.#exited.push(e.pid);
      }
      return;
    }
    if (e.subtype === 'snapshot' || e.subtype === 'start' || e.subtype === 'exec' || e.subtype === 'comm_change') {
      const old = this.#map.get(e.pid);
      if (old !== undefined && old.exitedAt === 0) {
        // The same live process again (an exec, a rescan): update in place.
        old.name = e.name;
        if (e.executablePath !== undefined) old.executablePath = e.executablePath;
        return;
      }
      if (old !== undefined) {
        this.#map.delete(e.pid); // a reused pid: a new entry, youngest in eviction order
      } else if (this.#map.size >= this.capacity) {
        const oldest = this.#map.keys().next().value as number;
        this.#map.delete(oldest);
        this.#evicted++;
      }
      this.#map.set(e.pid, { name: e.name, executablePath: e.executablePath, exitedAt: 0 });
    }
  }

  /** Drops entries of processes that exited more than `retentionMs` before `now`. */
  expire(now: number): void {
    while (this.#exitedHead < this.#exited.length) {
      const pid = this.#exited[this.#exitedHead] as number;
      const entry = this.#map.get(pid);
      if (entry !== undefined && entry.exitedAt !== 0 && now - entry.exitedAt < this.retentionMs) break;
      this.#exitedHead++;
      if (entry !== undefined && entry.exitedAt !== 0) {
        this.#map.delete(pid);
        this.#expired++;
      }
    }
    if (this.#exitedHead > 1024) {
      this.#exited.splice(0, this.#exitedHead);
      this.#exitedHead = 0;
    }
  }

  parentOf(pid: number): { name: string; executablePath: string | undefined } | undefined {
    return this.#map.get(pid);
  }

  stats(): LineageStats {
    return { size: this.#map.size, capacity: this.capacity, evicted: this.#evicted, expired: this.#expired };
  }
}
