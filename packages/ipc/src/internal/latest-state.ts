/**
 * What the server remembers of the sources' events to answer detection tasks between two of their
 * scans: the live processes (by pid; an exit removes one), the latest sample of every performance
 * metric, and the most recent filesystem operations. Each map is bounded; what does not fit is
 * counted. Sources that can answer on demand (a `snapshot()` method, as the network source has) are
 * asked directly instead (see `tasks.ts`). It does no I/O.
 */
import type { EventBatch, FilesystemEvent, PerformanceEvent, ProcessEvent } from '@daemoneye/core';
import { metricKey } from '../mapping.ts';

/** Limits of {@link LatestState}. */
export interface LatestStateLimits {
  readonly processes: number;
  readonly metrics: number;
  readonly fileOperations: number;
}

/** The default limits: 65,536 processes, 16,384 metric series, 10,000 file operations. */
export const DEFAULT_LATEST_LIMITS: LatestStateLimits = { processes: 65_536, metrics: 16_384, fileOperations: 10_000 };

export class LatestState {
  readonly limits: LatestStateLimits;
  readonly #processes = new Map<number, ProcessEvent>();
  readonly #metrics = new Map<string, PerformanceEvent>();
  readonly #files: { seq: number; event: FilesystemEvent }[] = [];
  #filesStart = 0;
  /** Entries refused because a map was full, by map. */
  readonly overflow = { processes: 0, metrics: 0 };

  constructor(limits: LatestStateLimits = DEFAULT_LATEST_LIMITS) {
    this.limits = limits;
  }

  /** Takes in a batch of events. */
  ingest(batch: EventBatch): void {
    const records = batch.records;
    for (let i = 0; i < batch.length; i++) {
      const e = batch[i];
      if (e === undefined) continue;
      if (e.kind === 'process') {
        if (e.subtype === 'exit') this.#processes.delete(e.pid);
        else if (this.#processes.has(e.pid) || this.#processes.size < this.limits.processes) {
          this.#processes.set(e.pid, e);
        } else this.overflow.processes++;
      } else if (e.kind === 'performance') {
        const key = metricKey(e);
        if (this.#metrics.has(key) || this.#metrics.size < this.limits.metrics) this.#metrics.set(key, e);
        else this.overflow.metrics++;
      } else if (e.kind === 'filesystem') {
        this.#files.push({ seq: records.seq(i), event: e });
        if (this.#files.length - this.#filesStart > this.limits.fileOperations) this.#filesStart++;
        if (this.#filesStart > 4096) {
          this.#files.splice(0, this.#filesStart);
          this.#filesStart = 0;
        }
      }
    }
  }

  /** The live processes, by pid. */
  processes(): ProcessEvent[] {
    return [...this.#processes.values()].sort((a, b) => a.pid - b.pid);
  }

  /** The latest sample of every metric series. */
  metrics(): PerformanceEvent[] {
    return [...this.#metrics.values()];
  }

  /** The most recent file operations, oldest first, with their sequence numbers. */
  fileOperations(): readonly { seq: number; event: FilesystemEvent }[] {
    return this.#files.slice(this.#filesStart);
  }
}
