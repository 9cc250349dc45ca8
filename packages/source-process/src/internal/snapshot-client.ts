/**
 * `SnapshotWorkerClient`: the main-thread side of the snapshot worker. It starts the worker lazily,
 * sends scan requests, matches replies by id, bounds each scan with a timeout, and remembers why the
 * worker died so health checks can say so; the next scan starts a fresh worker. The worker is only
 * referenced while a scan is pending, so an idle client never keeps the process alive. Node cannot
 * run a `.ts` worker file: the worker script is always the compiled one under `dist/`.
 */
import { Worker } from 'node:worker_threads';
import type { SnapshotPort, SnapshotResult } from './snapshot-port.ts';
import type { SnapshotReply, SnapshotRequest, SnapshotWorkerData } from './snapshot-protocol.ts';

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
  /** A scan taking longer fails and the worker is replaced (default 30 s). */
  readonly scanTimeoutMs?: number;
}

interface Pending {
  readonly resolve: (r: SnapshotResult) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Runs /proc scans in a worker thread. */
export class SnapshotWorkerClient implements SnapshotPort {
  readonly #options: SnapshotWorkerClientOptions;
  #worker: Worker | undefined;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #failure: string | undefined;
  #closed = false;

  constructor(options: SnapshotWorkerClientOptions = {}) {
    this.#options = options;
  }

  /** Why the last worker died or failed a scan; `undefined` after a later scan succeeded. */
  failure(): string | undefined {
    return this.#failure;
  }

  /**
   * Scans /proc in the worker. Rejects when the client is closed, the worker dies or exits, the scan
   * throws inside the worker, or it exceeds the timeout (the worker is then terminated).
   */
  scan(includeKernelThreads: boolean): Promise<SnapshotResult> {
    if (this.#closed) return Promise.reject(new Error('snapshot worker is closed'));
    const worker = this.#ensureWorker();
    const id = this.#nextId++;
    return new Promise<SnapshotResult>((resolve, reject) => {
      const timeoutMs = this.#options.scanTimeoutMs ?? 30_000;
      const timer = setTimeout(() => {
        this.#fail(`scan took longer than ${timeoutMs} ms`);
        void worker.terminate();
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      worker.ref();
      const request: SnapshotRequest = { type: 'scan', id, includeKernelThreads };
      worker.postMessage(request);
    });
  }

  /** Terminates the worker and rejects pending scans. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    this.#rejectAll(new Error('snapshot worker is closed'));
    if (worker !== undefined) await worker.terminate();
  }

  #ensureWorker(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const data: SnapshotWorkerData = this.#options.procRoot === undefined ? {} : { procRoot: this.#options.procRoot };
    const worker = new Worker(snapshotWorkerUrl(), { workerData: data, name: 'daemoneye-process-snapshot' });
    worker.on('message', (reply: SnapshotReply) => this.#onReply(reply));
    worker.on('error', (e) => this.#fail(`snapshot worker failed: ${e.message}`, worker));
    worker.on('exit', (code) => {
      if (!this.#closed) this.#fail(`snapshot worker exited with code ${code}`, worker);
    });
    worker.unref();
    this.#worker = worker;
    return worker;
  }

  #onReply(reply: SnapshotReply): void {
    const p = this.#pending.get(reply.id);
    if (p === undefined) return;
    this.#pending.delete(reply.id);
    clearTimeout(p.timer);
    if (this.#pending.size === 0) this.#worker?.unref();
    if (reply.type === 'error') {
      this.#failure = `scan failed: ${reply.message}`;
      p.reject(new Error(this.#failure));
    } else {
      this.#failure = undefined;
      p.resolve({ processes: reply.processes, durationMs: reply.durationMs });
    }
  }

  #fail(reason: string, worker: Worker | undefined = this.#worker): void {
    if (worker !== this.#worker) return;
    this.#failure = reason;
    this.#worker = undefined;
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
