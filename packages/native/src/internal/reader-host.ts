/**
 * The host-thread side of every reader and request worker, built on the package's worker host:
 * starts a worker script from the compiled output, waits for its `ready` (or the setup error, which
 * rejects), then dispatches batches, loss reports and errors to registered callbacks, acknowledges
 * each batch, and matches request replies to their callers. Batches that arrive before the first
 * item callback is registered wait in a bounded queue (64 batches; older ones are dropped and
 * reported as `overflow` loss). It does not decode bytes: the worker already did.
 */
import { NativeError } from '../native-error.ts';
import type { LossInfo } from '../reader-options.ts';
import { startWorkerHost, type WorkerHost } from '../worker-host.ts';
import { abortedError } from './abort.ts';
import { EventFd } from './constants.ts';
import { libc } from './libc.ts';
import { createListeners } from './listeners.ts';
import {
  ACK_COUNTER_KEY,
  type HostMessage,
  type ReadyMessage,
  type WorkerMessage,
  type WorkerRequest,
} from './worker-protocol.ts';

/**
 * Resolves a worker script in the compiled output. Under a test runner executing the TypeScript
 * sources, `.../src/internal/x.ts` maps to `.../dist/internal/x.js`, so the package must be built.
 */
export function workerScriptUrl(name: string): URL {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const distDir = here.replace(/\/src\/internal\/[^/]+\.ts$/, '/dist/internal/');
    return new URL(`${name}.js`, distDir);
  }
  return new URL(`./${name}.js`, here);
}

/** A running reader worker, seen from the host thread. */
export interface ReaderHost<T> {
  readonly ready: ReadyMessage;
  /** Registers a callback for item batches; returns an unsubscribe function. */
  onItems(cb: (items: readonly T[]) => void): () => void;
  onLoss(cb: (info: LossInfo) => void): () => void;
  onError(cb: (err: Error) => void): () => void;
  /**
   * Runs `req` in the worker. Rejects with the worker's NativeError, or `ERR_NATIVE_ABORTED` when
   * the reader closes first (or was already closed).
   */
  request<R>(req: WorkerRequest): Promise<R>;
  /** Items delivered so far. */
  delivered(): number;
  /** True once `close` was called or the worker ended. */
  closed(): boolean;
  /** Stops the worker (it releases its fd); idempotent. A worker that does not stop within 2 s is terminated. */
  close(): Promise<void>;
}

const MAX_PENDING_BATCHES = 64;

function toError(m: { code: NativeError['code']; message: string; errno?: number }): NativeError {
  return new NativeError(m.code, m.message, m.errno === undefined ? {} : { errno: m.errno });
}

/** An eventfd the worker polls beside its own fd, so it can sleep in poll() until data or stop; -1 without one. */
function createWakeFd(): number {
  try {
    return libc().eventfd(0, EventFd.EFD_CLOEXEC | EventFd.EFD_NONBLOCK);
  } catch {
    return -1;
  }
}

/** How long a worker whose start was aborted may take to report ready before it is stopped anyway. */
const ABANDONED_START_BOUND_MS = 30_000;

/**
 * Starts `script` (a name under internal/) with `workerData`; resolves at `ready`, rejects on setup
 * failure. When `signal` aborts before `ready`, the call rejects with `ERR_NATIVE_ABORTED` at once and
 * the worker is stopped as soon as its setup ends; the caller checks an already-aborted signal before calling.
 */
export function startReader<T>(
  script: string,
  workerData: object,
  options: { readonly signal?: AbortSignal | undefined } = {},
): Promise<ReaderHost<T>> {
  return new Promise((resolve, reject) => {
    let wakeFd = createWakeFd();
    const wake = (): void => {
      if (wakeFd >= 0) libc().wake(wakeFd);
    };
    // Batches are acknowledged through shared memory: a message per batch would cost this thread a
    // postMessage and the worker a wake-up, at every batch of a busy stream.
    const acks = new Int32Array(new SharedArrayBuffer(4));
    let worker: WorkerHost<HostMessage, WorkerMessage<T>>;
    try {
      worker = startWorkerHost({
        script: workerScriptUrl(script),
        workerData: { ...workerData, ...(wakeFd >= 0 ? { wakeFd } : {}), [ACK_COUNTER_KEY]: acks.buffer },
        name: `daemoneye-native-${script}`,
        onStop: wake,
      });
    } catch (cause) {
      if (wakeFd >= 0) libc().close(wakeFd);
      reject(new NativeError('ERR_NATIVE_UNAVAILABLE', `cannot start the ${script} worker`, { cause }));
      return;
    }
    const errors = createListeners<Error>();
    const loss = createListeners<LossInfo>();
    const items = createListeners<readonly T[]>({
      bufferUntilFirst: MAX_PENDING_BATCHES,
      onDrop: (dropped) => loss.emit({ reason: 'overflow', count: dropped.length, at: Date.now() }),
      onThrow: (e) => errors.emit(e),
    });
    const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
    let nextId = 1;
    let delivered = 0;
    let ready: ReadyMessage | undefined;
    const signal = options.signal;
    // Aborted before ready, the call rejects at once but the worker is stopped only once it reports
    // ready, fails or exits (or after a long bound): while it sets up it is inside native calls (binding
    // the FFI), and the grace period of a close could run out there and terminate it, which aborts the
    // whole process.
    let abandoned: ReturnType<typeof setTimeout> | undefined;
    const onAbort = (): void => {
      if (ready !== undefined || signal === undefined) return;
      abandoned = setTimeout(() => void worker.close(), ABANDONED_START_BOUND_MS);
      abandoned.unref();
      reject(abortedError(`starting the ${script} worker`, signal));
    };
    const stopAbandoned = (): void => {
      clearTimeout(abandoned);
      void worker.close();
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    worker.onMessage((m) => {
      if (m.type === 'ready') {
        signal?.removeEventListener('abort', onAbort);
        if (signal?.aborted) {
          stopAbandoned();
          return;
        }
        ready = m;
        resolve(host(m));
      } else if (m.type === 'error') {
        if (signal?.aborted && ready === undefined) stopAbandoned();
        if (ready === undefined) reject(toError(m));
        else errors.emit(toError(m));
      } else if (m.type === 'loss') {
        loss.emit({ reason: m.reason, count: m.count, at: m.at });
      } else if (m.type === 'reply') {
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (m.ok) p?.resolve(m.value);
        else p?.reject(toError(m));
      } else {
        delivered += m.items.length;
        items.emit(m.items);
        Atomics.add(acks, 0, 1);
      }
    });
    worker.onError((e) => {
      const err = new NativeError('ERR_NATIVE_CALL', `${script} worker failed: ${e.message}`, { cause: e });
      if (ready === undefined) reject(err);
      else errors.emit(err);
    });
    worker.onExit((code) => {
      signal?.removeEventListener('abort', onAbort);
      clearTimeout(abandoned);
      if (wakeFd >= 0) libc().close(wakeFd);
      wakeFd = -1;
      const closing = worker.closing();
      for (const p of pending.values())
        p.reject(
          closing
            ? new NativeError('ERR_NATIVE_ABORTED', `${script} worker: the reader was closed`)
            : new NativeError('ERR_NATIVE_CALL', `${script} worker ended (code ${code})`),
        );
      pending.clear();
      if (ready === undefined) {
        reject(new NativeError('ERR_NATIVE_CALL', `${script} worker exited (code ${code}) before it was ready`));
      } else if (!closing) {
        errors.emit(new NativeError('ERR_NATIVE_CALL', `${script} worker ended unexpectedly (code ${code})`));
      }
    });

    const host = (r: ReadyMessage): ReaderHost<T> => ({
      ready: r,
      onItems: (cb) => items.add(cb),
      onLoss: (cb) => loss.add(cb),
      onError: (cb) => errors.add(cb),
      request<R>(req: WorkerRequest): Promise<R> {
        if (worker.closing() || worker.exited())
          return Promise.reject(new NativeError('ERR_NATIVE_ABORTED', `${script} worker: the reader was closed`));
        const id = nextId++;
        return new Promise<R>((res, rej) => {
          pending.set(id, { resolve: res as (v: unknown) => void, reject: rej });
          worker.post({ type: 'request', id, request: req });
          wake();
        });
      },
      delivered: () => delivered,
      closed: () => worker.closing() || worker.exited(),
      close: () => worker.close(),
    });
  });
}
