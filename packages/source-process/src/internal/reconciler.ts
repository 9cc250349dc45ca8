/**
 * `Reconciler`: runs full scans and turns them into events. The first scan becomes `snapshot` events
 * (sent with backpressure); later scans are diffed against the process table and yield the `start`,
 * `exit` and `exec` events nobody reported — the whole output of the polling backend, and the safety
 * net of the real-time one after a loss or on its periodic rescan. Rescan requests are coalesced: at
 * most one scan runs and one more is queued. Scan failures are logged and left to the health check.
 */
import type { Logger, ProcessEvent } from '@daemoneye/core';
import type { ProcessSnapshot } from '../process-snapshot.ts';
import { processEvent } from './event-mapping.ts';
import type { EventPublisher } from './event-publisher.ts';
import type { HashOutcome } from './exe-hasher.ts';
import type { KnownProcess, ProcessTable, TableDiff } from './process-table.ts';
import type { SnapshotPort } from './snapshot-port.ts';

/** Reconciler wiring. */
export interface ReconcilerOptions {
  readonly snapshot: SnapshotPort;
  readonly table: ProcessTable;
  readonly publisher: EventPublisher;
  readonly includeKernelThreads: boolean;
  readonly logger: Logger;
  /** True while kernel events flow: diff events then go through per-pid ordering. */
  readonly kernelFed: () => boolean;
}

/** Counters of the scans run. */
export interface ScanStats {
  scans: number;
  lastScanMs: number;
  lastProcessCount: number;
  failures: number;
  recoveredStarts: number;
  recoveredExits: number;
  recoveredExecs: number;
}

/** Runs scans and publishes what they show. */
export class Reconciler {
  readonly #o: ReconcilerOptions;
  #dirty = false;
  #loop: Promise<void> | undefined;
  readonly stats: ScanStats = {
    scans: 0,
    lastScanMs: 0,
    lastProcessCount: 0,
    failures: 0,
    recoveredStarts: 0,
    recoveredExits: 0,
    recoveredExecs: 0,
  };

  constructor(options: ReconcilerOptions) {
    this.#o = options;
  }

  /**
   * The first scan: seeds the table and publishes a `snapshot` event per process. `onScanned` runs
   * once the scan is in (before hashing and sending). Rejects when the scan fails.
   */
  async initial(onScanned: () => void): Promise<number> {
    const startedAt = performance.now();
    const result = await this.#scan();
    const fresh = this.#o.table.seed(result.processes, startedAt);
    onScanned();
    await this.#o.publisher.publishSnapshot(fresh, (p, hash) =>
      processEvent(p, 'snapshot', { hash, detectedBy: 'snapshot' }),
    );
    return fresh.length;
  }

  /** Asks for a rescan; resolves when a scan that began after the request has been published. */
  requestRescan(): Promise<void> {
    this.#dirty = true;
    this.#loop ??= (async () => {
      try {
        while (this.#dirty) {
          this.#dirty = false;
          await this.#rescanOnce();
        }
      } finally {
        this.#loop = undefined;
      }
    })();
    return this.#loop;
  }

  async #scan(): Promise<{ processes: readonly ProcessSnapshot[] }> {
    const started = performance.now();
    try {
      const r = await this.#o.snapshot.scan(this.#o.includeKernelThreads);
      this.stats.scans++;
      this.stats.lastScanMs = performance.now() - started;
      this.stats.lastProcessCount = r.processes.length;
      return r;
    } catch (e) {
      this.stats.failures++;
      throw e;
    }
  }

  async #rescanOnce(): Promise<void> {
    const startedAt = performance.now();
    let diff: TableDiff;
    try {
      diff = this.#o.table.reconcile((await this.#scan()).processes, startedAt);
    } catch (e) {
      this.#o.logger.warn({ err: e }, 'process rescan failed');
      return;
    }
    this.stats.recoveredStarts += diff.started.length;
    this.stats.recoveredExits += diff.exited.length;
    this.stats.recoveredExecs += diff.execed.length;
    const detectedBy = this.#o.kernelFed() ? 'rescan' : 'poll';
    const jobs: Array<{ pid: number; build: (h: HashOutcome | undefined) => ProcessEvent; target?: ProcessSnapshot }> =
      [
        ...diff.exited.map((k: KnownProcess) => ({
          pid: k.pid,
          build: () => processEvent(k, 'exit', { detectedBy, ...hashOf(k) }),
        })),
        ...diff.started.map((p) => ({
          pid: p.pid,
          target: p,
          build: (hash: HashOutcome | undefined) => processEvent(p, 'start', { hash, detectedBy }),
        })),
        ...diff.execed.map((p) => ({
          pid: p.pid,
          target: p,
          build: (hash: HashOutcome | undefined) => processEvent(p, 'exec', { hash, detectedBy }),
        })),
      ];
    for (const job of jobs) {
      const run = async (): Promise<void> => {
        const t = job.target;
        const hash =
          t === undefined
            ? undefined
            : await this.#o.publisher.hash({
                pid: t.pid,
                ...(t.executablePath === undefined ? {} : { path: t.executablePath }),
              });
        if (hash?.ok === true) this.#o.table.update(job.pid, { executableHash: hash.hash });
        await this.#o.publisher.send(job.build(hash));
      };
      if (this.#o.kernelFed()) this.#o.publisher.enqueue(job.pid, run);
      else await run();
    }
  }
}

function hashOf(k: KnownProcess): { hash?: HashOutcome } {
  return k.executableHash === undefined ? {} : { hash: { ok: true, hash: k.executableHash, cached: true } };
}
