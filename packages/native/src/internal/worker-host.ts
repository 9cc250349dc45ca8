/**
 * The host-thread side of every reader: starts a worker script from the compiled output, waits for
 * its `ready` (or the setup error, which rejects), then dispatches batches, loss reports and errors to
 * registered callbacks and acknowledges each batch. Batches that arrive before the first item
 * callback is registered wait in a bounded queue (64 batches; older ones are dropped and counted).
 * It does not decode bytes: the worker already did.
 */
import { Worker } from 'node:worker_threads';
import { NativeError } from '../native-error.ts';
import { EventFd } from './constants.ts';
import { libc } from './libc.ts';
import type { HostMessage, ReadyMessage, WorkerMessage } from './worker-protocol.ts';

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

/** Loss reported by a worker. */
export interface LossInfo {
  readonly reason: 'enobufs' | 'overflow';
  readonly count: number;
  readonly at: number;
}

/** A running reader worker, seen from the host thread. */
export interface ReaderHost<T> {
  readonly ready: ReadyMessage;
  onItems(cb: (items: readonly T[]) => void): void;
  onLoss(cb: (info: LossInfo) => void): void;
  onError(cb: (err: Error) => void): void;
  /** Items delivered so far. */
  delivered(): number;
  /** Stops the worker (it releases its fd); idempotent. A worker that does not stop within 2 s is terminated. */
  close(): Promise<void>;
}

const MAX_PENDING_BATCHES = 64;

function toError(m: WorkerMessage<unknown> & { type: 'error' }): NativeError {
  return new NativeError(m.code, m.message, m.errno === undefined ? {} : { errno: m.errno });
}

/** Starts `script` (a name under internal/) with `workerData`; resolves at `ready`, rejects on setup failure. */
export function startReader<T>(script: string, workerData: unknown): Promise<ReaderHost<T>> {
  return new Promise((resolve, reject) => {
    let worker: Worker;
    // An eventfd the worker polls beside its own fd, so it can sleep in poll() until data or stop.
    let wakeFd = -1;
    try {
      wakeFd = libc().eventfd(0, EventFd.EFD_CLOEXEC | EventFd.EFD_NONBLOCK);
    } catch {
      wakeFd = -1;
    }
    const releaseWake = (): void => {
      if (wakeFd >= 0) libc().close(wakeFd);
      wakeFd = -1;
    };
    try {
      const data = wakeFd >= 0 ? { ...(workerData as object), wakeFd } : workerData;
      // No command-line options for the reader: it needs none, and a worker refuses some of the
      // parent's (V8 flags such as --max-old-space-size, or --input-type of an --eval script).
      worker = new Worker(workerScriptUrl(script), { workerData: data, execArgv: [] });
    } catch (cause) {
      reject(new NativeError('ERR_NATIVE_UNAVAILABLE', `cannot start the ${script} worker`, { cause }));
      return;
    }
    const itemCbs: ((items: readonly T[]) => void)[] = [];
    const lossCbs: ((info: LossInfo) => void)[] = [];
    const errorCbs: ((err: Error) => void)[] = [];
    const pending: T[][] = [];
    let delivered = 0;
    let ready: ReadyMessage | undefined;
    let closing: Promise<void> | undefined;
    let exited = false;

    const emitError = (err: Error): void => {
      for (const cb of errorCbs) cb(err);
    };
    const deliver = (items: readonly T[]): void => {
      delivered += items.length;
      for (const cb of itemCbs) {
        try {
          cb(items);
        } catch (e) {
          emitError(e instanceof Error ? e : new Error(String(e)));
        }
      }
    };
    const post = (m: HostMessage): void => {
      if (!exited) worker.postMessage(m);
    };

    worker.on('message', (m: WorkerMessage<T>) => {
      if (m.type === 'ready') {
        ready = m;
        resolve(host(m));
      } else if (m.type === 'error') {
        if (ready === undefined) reject(toError(m));
        else emitError(toError(m));
      } else if (m.type === 'loss') {
        for (const cb of lossCbs) cb({ reason: m.reason, count: m.count, at: m.at });
      } else {
        if (itemCbs.length === 0) {
          pending.push(m.items);
          if (pending.length > MAX_PENDING_BATCHES) {
            const dropped = pending.shift() ?? [];
            for (const cb of lossCbs) cb({ reason: 'overflow', count: dropped.length, at: Date.now() });
          }
        } else deliver(m.items);
        post({ type: 'ack' });
      }
    });
    worker.on('error', (e) => {
      const err = new NativeError('ERR_NATIVE_CALL', `${script} worker failed: ${e.message}`, { cause: e });
      if (ready === undefined) reject(err);
      else emitError(err);
    });
    worker.on('exit', (code) => {
      exited = true;
      releaseWake();
      if (ready === undefined) {
        reject(new NativeError('ERR_NATIVE_CALL', `${script} worker exited (code ${code}) before it was ready`));
      } else if (closing === undefined) {
        emitError(new NativeError('ERR_NATIVE_CALL', `${script} worker ended unexpectedly (code ${code})`));
      }
    });

    const host = (r: ReadyMessage): ReaderHost<T> => ({
      ready: r,
      onItems(cb) {
        itemCbs.push(cb);
        if (itemCbs.length === 1 && pending.length > 0) {
          const queued = pending.splice(0);
          queueMicrotask(() => {
            for (const items of queued) deliver(items);
          });
        }
      },
      onLoss: (cb) => void lossCbs.push(cb),
      onError: (cb) => void errorCbs.push(cb),
      delivered: () => delivered,
      close() {
        closing ??= new Promise<void>((done) => {
          if (exited) return done();
          const timer = setTimeout(() => void worker.terminate(), 2000);
          worker.once('exit', () => {
            clearTimeout(timer);
            done();
          });
          post({ type: 'stop' });
          if (wakeFd >= 0) libc().wake(wakeFd);
        });
        return closing;
      },
    });
  });
}
