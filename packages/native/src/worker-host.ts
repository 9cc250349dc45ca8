/**
 * The one way this code base runs a worker thread: {@link startWorkerHost} starts a worker script
 * without the parent's command-line options, hands its messages, failures and exit to registered
 * callbacks, decides whether it keeps the process alive, and stops it gently — a `stop` message
 * first, `terminate()` only when the worker has not ended after a grace period, because terminating
 * a thread that is inside a native call (binding the FFI, say) can abort the whole process. It knows
 * nothing about what the worker does: readers, request workers and /proc scanners build on it.
 */
import { Worker } from 'node:worker_threads';
import { openPrivilegeChannel, PRIVILEGE_PORT_KEY } from './privileges.ts';

/** Options for {@link startWorkerHost}. */
export interface WorkerHostOptions {
  /** The worker script (compiled JavaScript: Node cannot start a `.ts` worker). */
  readonly script: URL;
  /** Passed to the worker as `workerData` (structured clone). */
  readonly workerData?: unknown;
  /** Thread name, shown in diagnostics. */
  readonly name?: string;
  /**
   * Whether the running worker keeps the process alive (default `true`). With `false` the worker is
   * unreferenced until {@link WorkerHost.ref} is called, e.g. only while a request is pending.
   */
  readonly keepAlive?: boolean;
  /** The message that asks the worker to end (default `{ type: 'stop' }`). */
  readonly stopMessage?: unknown;
  /** Called right after the stop message is posted, e.g. to wake a worker sleeping in `poll(2)`. */
  readonly onStop?: () => void;
  /** How long the worker may take to end after the stop message before it is terminated (default 2000 ms). */
  readonly stopGraceMs?: number;
  /**
   * Wakes the worker when a message that is not the stop message must be seen soon (a privilege drop);
   * for a worker sleeping in `poll(2)`. Defaults to `onStop`.
   */
  readonly onWake?: () => void;
}

/** A running worker thread, seen from the thread that started it. */
export interface WorkerHost<In = unknown, Out = unknown> {
  /** The worker's thread id. */
  readonly threadId: number;
  /** True once the worker has ended (by itself, by a failure or after {@link WorkerHost.close}). */
  exited(): boolean;
  /** True once {@link WorkerHost.close} was called. */
  closing(): boolean;
  /** Posts a message to the worker; does nothing once it has ended. */
  post(message: In): void;
  /** Registers a callback for the worker's messages; returns a function that unregisters it. */
  onMessage(cb: (message: Out) => void): () => void;
  /** Registers a callback for an uncaught error in the worker (it then ends); returns an unsubscribe function. */
  onError(cb: (err: Error) => void): () => void;
  /** Registers a callback for the worker's end with its exit code; returns an unsubscribe function. */
  onExit(cb: (code: number) => void): () => void;
  /** Lets the running worker keep the process alive. */
  ref(): void;
  /** Stops the running worker from keeping the process alive. */
  unref(): void;
  /**
   * Asks the worker to end (the stop message, then `onStop`) and resolves when it has; a worker
   * that has not ended within the grace period is terminated. Idempotent; never rejects.
   */
  close(): Promise<void>;
}

/** Workers started through {@link startWorkerHost} that have not ended yet. */
const live = new Set<Worker>();
const ended = new Set<() => void>();

/**
 * Resolves once every worker started through {@link startWorkerHost} has ended, or after `timeoutMs`
 * (resolving `false`). A command calls it before `process.exit`: exiting terminates a worker still
 * setting up inside a native call (one whose start was aborted by an early SIGINT stops only once its
 * setup ends), and terminating a thread inside the FFI aborts the whole process.
 */
export function allWorkersEnded(timeoutMs: number): Promise<boolean> {
  if (live.size === 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      ended.delete(check);
      resolve(ok);
    };
    const check = (): void => {
      if (live.size === 0) done(true);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    timer.unref();
    ended.add(check);
  });
}

/** The default grace period of {@link WorkerHost.close}, in ms. */
export const DEFAULT_STOP_GRACE_MS = 2000;

/**
 * Starts `options.script` in a worker thread with no command-line options (`execArgv: []`: a
 * worker needs none, and refuses some of the parent's, such as V8 flags or the `--input-type` of an
 * `--eval` script). Throws what the `Worker` constructor throws (a missing script, say); failures
 * after start are reported through {@link WorkerHost.onError} and {@link WorkerHost.onExit}.
 */
export function startWorkerHost<In = unknown, Out = unknown>(options: WorkerHostOptions): WorkerHost<In, Out> {
  const data = options.workerData;
  // A worker given an object (or nothing) also gets its end of the privilege channel, so a later
  // privilege drop (see privileges.ts) reaches its thread.
  const channel =
    data === undefined || (typeof data === 'object' && data !== null && !Array.isArray(data))
      ? openPrivilegeChannel(options.name ?? options.script.pathname, options.onWake ?? options.onStop)
      : undefined;
  let worker: Worker;
  try {
    worker = new Worker(options.script, {
      workerData: channel === undefined ? data : { ...(data as object), [PRIVILEGE_PORT_KEY]: channel.port },
      ...(channel === undefined ? {} : { transferList: [channel.port] }),
      execArgv: [],
      ...(options.name === undefined ? {} : { name: options.name }),
    });
  } catch (e) {
    channel?.release();
    throw e;
  }
  const messageCbs = new Set<(m: Out) => void>();
  const errorCbs = new Set<(err: Error) => void>();
  const exitCbs = new Set<(code: number) => void>();
  let exited = false;
  let closing: Promise<void> | undefined;
  worker.on('message', (m: Out) => {
    for (const cb of [...messageCbs]) cb(m);
  });
  worker.on('error', (e: Error) => {
    for (const cb of [...errorCbs]) cb(e);
  });
  live.add(worker);
  worker.on('exit', (code: number) => {
    exited = true;
    live.delete(worker);
    for (const check of [...ended]) check();
    channel?.release();
    for (const cb of [...exitCbs]) cb(code);
  });
  // After the listeners: adding a 'message' listener references the worker again.
  if (options.keepAlive === false) worker.unref();
  const subscribe =
    <T>(set: Set<T>) =>
    (cb: T): (() => void) => {
      set.add(cb);
      return () => void set.delete(cb);
    };
  return {
    threadId: worker.threadId,
    exited: () => exited,
    closing: () => closing !== undefined,
    post(message) {
      if (exited) return;
      try {
        worker.postMessage(message);
      } catch {
        // the worker is ending: its exit is reported through onExit
      }
    },
    onMessage: subscribe(messageCbs),
    onError: subscribe(errorCbs),
    onExit: subscribe(exitCbs),
    ref: () => worker.ref(),
    unref: () => worker.unref(),
    close() {
      closing ??= new Promise<void>((resolve) => {
        if (exited) return resolve();
        const timer = setTimeout(() => void worker.terminate(), options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS);
        worker.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        try {
          worker.postMessage(options.stopMessage ?? { type: 'stop' });
        } catch {
          void worker.terminate(); // the worker is already gone or going
          return;
        }
        options.onStop?.();
      });
      return closing;
    },
  };
}
