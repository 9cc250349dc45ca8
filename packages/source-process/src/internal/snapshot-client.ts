/**
 * `SnapshotWorkerClient`: the main-thread side of the snapshot workers. It starts the workers lazily
 * (one per shard: each scans the pids congruent to its index, so a scan of thousands of processes uses
 * several cores), sends scan requests, merges the replies by id, bounds each scan with a timeout, and
 * remembers why a worker died so health checks can say so; the next scan starts fresh workers. The
 * workers run on `@daemoneye/native`'s worker host: they are only referenced while a scan is pending,
 * so an idle client never keeps the process alive, and closing asks them to end before it would
 * terminate them. Node cannot run a `.ts` worker file: the worker script is always the compiled one
 * under `dist/`.
 */
import { availableParallelism } from 'node:os';
import { startWorkerHost, type WorkerHost } from '@daemoneye/native';
import type { ProcessSnapshot } from '../process-snapshot.ts';
import type { SnapshotPort, SnapshotResult } from './snapshot-port.ts';
import type { SnapshotReply, SnapshotRequest, SnapshotScanRequest, SnapshotWorkerData } from './snapshot-protocol.ts';

/** The compiled worker script next to this module (mapped from `src/*.ts` to `dist/*.js` under tests). */
export function snapshotWorkerUrl(moduleUrl: string = import.meta.url): URL {
  let base = moduleUrl;
  if (base.endsWith('.ts')) {
    const at = base.lastIndexOf('/src/');
    base = `${base.slice(0, at)}/dist/${base.slice(at + 5, -3)}.js`;
  }
  return new URL('./snapshot-worker.js', base);
}

/** Client settings. */
export interface SnapshotWorkerClientOptions {
  readonly procRoot?: string;
  /** Reuse of slow fields between scans in ms (default 10,000; 0 reads everything every time). */
  readonly reuseMs?: number;
  /** Records each worker posts at a time while it scans (default 512). */
  readonly batchSize?: number;
  /** A scan taking longer fails and the workers are replaced (default 30 s). */
  readonly scanTimeoutMs?: number;
  /** Worker threads sharing each scan (default: 2, or 1 on a single-core host). */
  readonly workers?: number;
}

/**
 * How long a worker may take to end after `stop` before it is terminated. Terminating a worker that
 * is inside a native call (binding the FFI at start-up, say) can abort the whole process, so it is
 * the last resort.
 */
const STOP_GRACE_MS = 2000;

/** One snapshot worker thread. */
type SnapshotWorker = WorkerHost<SnapshotRequest, SnapshotReply>;

interface Pending {
  readonly parts: ProcessSnapshot[][];
  readonly started: number;
  remaining: number;
  readonly resolve: (r: SnapshotResult) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Runs /proc scans in worker threads. */
export class SnapshotWorkerClient implements SnapshotPort {
  readonly #options: SnapshotWorkerClientOptions;
  readonly #shards: number;
  #workers: SnapshotWorker[] | undefined;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #failure: string | undefined;
  #closed = false;

  constructor(options: SnapshotWorkerClientOptions = {}) {
    this.#options = options;
    this.#shards = Math.max(1, options.workers ?? Math.min(2, availableParallelism()));
  }

  /** Why the last worker died or failed a scan; `undefined` after a later scan succeeded. */
  failure(): string | undefined {
    return this.#failure;
  }

  /**
   * Scans /proc in the workers. Rejects when the client is closed, a worker dies or exits, the scan
   * throws inside a worker, or it exceeds the timeout (the workers are then terminated).
   */
  scan(includeKernelThreads: boolean): Promise<SnapshotResult> {
    if (this.#closed) return Promise.reject(new Error('snapshot worker is closed'));
    const workers = this.#ensureWorkers();
    const id = this.#nextId++;
    return new Promise<SnapshotResult>((resolve, reject) => {
      const timeoutMs = this.#options.scanTimeoutMs ?? 30_000;
      const timer = setTimeout(() => this.#fail(`scan took longer than ${timeoutMs} ms`, workers), timeoutMs);
      const started = performance.now();
      this.#pending.set(id, { parts: [], started, remaining: workers.length, resolve, reject, timer });
      for (const [shard, worker] of workers.entries()) {
        worker.ref();
        const request: SnapshotScanRequest = { type: 'scan', id, includeKernelThreads, shard, shards: workers.length };
        worker.post(request);
      }
    });
  }

  /**
   * Asks the workers to end (each finishes any scan it is in, or its start-up; one that has not
   * ended within 2 s is terminated) and rejects pending scans. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const workers = this.#workers ?? [];
    this.#workers = undefined;
    this.#rejectAll(new Error('snapshot worker is closed'));
    await Promise.all(workers.map((w) => w.close()));
  }

  #ensureWorkers(): SnapshotWorker[] {
    if (this.#workers !== undefined) return this.#workers;
    const o = this.#options;
    const data: SnapshotWorkerData = {
      ...(o.procRoot === undefined ? {} : { procRoot: o.procRoot }),
      ...(o.reuseMs === undefined ? {} : { reuseMs: o.reuseMs }),
      ...(o.batchSize === undefined ? {} : { batchSize: o.batchSize }),
    };
    const workers: SnapshotWorker[] = [];
    for (let i = 0; i < this.#shards; i++) {
      // Started without command-line options (the host's rule), unreferenced until a scan is pending;
      // closing posts `stop` and terminates only a worker that has not ended within the grace period.
      const worker = startWorkerHost<SnapshotRequest, SnapshotReply>({
        script: snapshotWorkerUrl(),
        workerData: data,
        name: `daemoneye-process-snapshot-${i}`,
        keepAlive: false,
        stopMessage: { type: 'stop' } satisfies SnapshotRequest,
        stopGraceMs: STOP_GRACE_MS,
      });
      worker.onMessage((reply) => this.#onReply(reply));
      worker.onError((e) => this.#fail(`snapshot worker failed: ${e.message}`, workers));
      worker.onExit((code) => {
        if (!this.#closed) this.#fail(`snapshot worker exited with code ${code}`, workers);
      });
      workers.push(worker);
    }
    this.#workers = workers;
    return workers;
  }

  #onReply(reply: SnapshotReply): void {
    const p = this.#pending.get(reply.id);
    if (p === undefined) return;
    if (reply.type === 'error') {
      this.#settle(reply.id, p);
      this.#failure = `scan failed: ${reply.message}`;
      p.reject(new Error(this.#failure));
      return;
    }
    p.parts.push(reply.processes);
    if (reply.type === 'part' || --p.remaining > 0) return;
    this.#settle(reply.id, p);
    this.#failure = undefined;
    const processes = p.parts.length === 1 ? (p.parts[0] ?? []) : p.parts.flat().sort((a, b) => a.pid - b.pid);
    p.resolve({ processes, durationMs: performance.now() - p.started });
  }

  #settle(id: number, p: Pending): void {
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (this.#pending.size === 0) for (const w of this.#workers ?? []) w.unref();
  }

  #fail(reason: string, workers: SnapshotWorker[]): void {
    if (workers !== this.#workers) return;
    this.#failure = reason;
    this.#workers = undefined;
    for (const w of workers) void w.close();
    this.#rejectAll(new Error(reason));
  }

  #rejectAll(error: Error): void {
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    this.#pending.clear();
  }
}
