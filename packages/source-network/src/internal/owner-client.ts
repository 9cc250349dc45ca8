/**
 * The main-thread side of the owner worker: posts the inodes of a dump, resolves the owners. The
 * worker runs on `@daemoneye/native`'s worker host, referenced only while a lookup is pending, so an
 * idle source never holds the process open, and ended once no lookup came for `idleMs` (a quiet host
 * opens no connections for minutes: the thread and its heap need not stay resident meanwhile; the next
 * lookup starts a fresh worker). A lookup taking longer than its timeout fails and the worker is
 * replaced on the next one. Node cannot run a `.ts` worker: the script is the compiled one.
 */
import { startWorkerHost, type WorkerHost } from '@daemoneye/native';
import type { OwnerMissReason, SocketOwner } from './owner-index.ts';
import type { OwnerReply, OwnerRequest } from './owner-protocol.ts';

/** What a lookup returns. */
export interface OwnerResult {
  readonly owners: Map<number, SocketOwner>;
  readonly missing: Map<number, OwnerMissReason>;
  readonly walked: boolean;
  readonly linksRead: number;
  readonly durationMs: number;
}

/** Port: maps socket inodes to processes (default: the owner worker over /proc). */
export interface OwnerResolver {
  /** Owners of the inodes of one whole dump. Rejects when the lookup fails or the resolver is closed. */
  lookup(inodes: number[]): Promise<OwnerResult>;
  /** Idempotent. */
  close(): Promise<void>;
}

/** The compiled worker script next to this module (mapped from `src/*.ts` to `dist/*.js` under tests). */
export function ownerWorkerUrl(moduleUrl: string = import.meta.url): URL {
  let base = moduleUrl;
  if (base.endsWith('.ts')) {
    const at = base.lastIndexOf('/src/');
    base = `${base.slice(0, at)}/dist/${base.slice(at + 5, -3)}.js`;
  }
  return new URL('./owner-worker.js', base);
}

interface Pending {
  readonly resolve: (r: OwnerResult) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Resolves owners in a worker thread. */
export class OwnerWorkerClient implements OwnerResolver {
  readonly #timeoutMs: number;
  readonly #idleMs: number;
  readonly #procRoot: string | undefined;
  #worker: WorkerHost<OwnerRequest, OwnerReply> | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;

  /** `idleMs`: how long the worker stays after its last lookup (default 30 s). */
  constructor(options: { timeoutMs?: number; idleMs?: number; procRoot?: string } = {}) {
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#idleMs = options.idleMs ?? 30_000;
    this.#procRoot = options.procRoot;
  }

  /** Whether a worker thread is running now. */
  workerRunning(): boolean {
    return this.#worker !== undefined && !this.#worker.exited();
  }

  lookup(inodes: number[]): Promise<OwnerResult> {
    if (this.#closed) return Promise.reject(new Error('owner worker is closed'));
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const worker = this.#ensure();
    const id = this.#nextId++;
    return new Promise<OwnerResult>((resolve, reject) => {
      const timer = setTimeout(
        () => this.#fail(`owner lookup took longer than ${this.#timeoutMs} ms`),
        this.#timeoutMs,
      );
      this.#pending.set(id, { resolve, reject, timer });
      worker.ref();
      worker.post({ type: 'lookup', id, inodes });
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    const w = this.#worker;
    this.#worker = undefined;
    this.#rejectAll(new Error('owner worker is closed'));
    await w?.close();
  }

  #ensure(): WorkerHost<OwnerRequest, OwnerReply> {
    if (this.#worker !== undefined) return this.#worker;
    const worker = startWorkerHost<OwnerRequest, OwnerReply>({
      script: ownerWorkerUrl(),
      workerData: this.#procRoot === undefined ? {} : { procRoot: this.#procRoot },
      name: 'daemoneye-network-owners',
      keepAlive: false,
      stopMessage: { type: 'stop' },
    });
    worker.onMessage((reply) => this.#onReply(reply));
    worker.onError((e) => this.#fail(`owner worker failed: ${e.message}`));
    worker.onExit((code) => {
      if (!this.#closed && this.#worker === worker) this.#fail(`owner worker exited with code ${code}`);
    });
    this.#worker = worker;
    return worker;
  }

  #onReply(reply: OwnerReply): void {
    const p = this.#pending.get(reply.id);
    if (p === undefined) return;
    this.#pending.delete(reply.id);
    clearTimeout(p.timer);
    if (this.#pending.size === 0) {
      this.#worker?.unref();
      this.#retireWhenIdle();
    }
    if (reply.type === 'error') {
      p.reject(new Error(`owner lookup failed: ${reply.message}`));
      return;
    }
    const owners = new Map<number, SocketOwner>();
    reply.ownerInodes.forEach((inode, i) => {
      owners.set(inode, { pid: reply.ownerPids[i] ?? 0, name: reply.ownerNames[i] ?? '' });
    });
    const missing = new Map<number, OwnerMissReason>();
    reply.missingInodes.forEach((inode, i) => {
      missing.set(inode, reply.missingDenied[i] === 1 ? 'not_permitted' : 'not_found');
    });
    p.resolve({ owners, missing, walked: reply.walked, linksRead: reply.linksRead, durationMs: reply.durationMs });
  }

  /** Ends the worker once no lookup came for `idleMs`; the next lookup starts another. */
  #retireWhenIdle(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      const w = this.#worker;
      if (this.#closed || w === undefined || this.#pending.size > 0) return;
      this.#worker = undefined;
      void w.close();
    }, this.#idleMs);
    this.#idleTimer.unref();
  }

  #fail(reason: string): void {
    const w = this.#worker;
    this.#worker = undefined;
    void w?.close();
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
