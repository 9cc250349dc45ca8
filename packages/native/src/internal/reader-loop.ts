/**
 * The worker-thread side of every reader: a loop that sleeps in poll() on one fd (and the host's
 * wake-up eventfd), drains it with non-blocking reads, decodes the bytes and posts batches to the
 * host thread. At most
 * `maxInFlight` batches wait for the host's acknowledgement; beyond that the loop stops reading, so
 * the kernel queue (not memory) absorbs a slow consumer and its overflow is counted as loss. It does
 * not open or configure fds: the worker entry scripts do that.
 */
import { type MessagePort, workerData } from 'node:worker_threads';
import { Errno, Sock } from './constants.ts';
import { errnoName, libc, WOKEN } from './libc.ts';
import { type HostMessage, InFlight, type WorkerMessage } from './worker-protocol.ts';

/** Longest sleep in poll() when woken by the host's eventfd (a safety net, not a schedule). */
const IDLE_POLL_MS = 10_000;

/** Options for {@link runReaderLoop}. */
export interface ReaderLoopOptions<T> {
  readonly port: MessagePort;
  readonly fd: number;
  /** `recv` (sockets, MSG_DONTWAIT) or `read` (inotify/fanotify fds opened non-blocking). */
  readonly mode: 'recv' | 'read';
  /** Size of the read buffer in bytes. */
  readonly bufferBytes: number;
  /** Decodes `buf[0..n)` into `out`. Must not throw on malformed input. */
  readonly decode: (buf: Buffer, n: number, out: T[]) => void;
  /** Called once per loop turn after reading, e.g. to flush partial state into `out`. */
  readonly afterRead?: (out: T[]) => void;
  /** Called once when the host asks to stop, before the worker ends; releases the fd. */
  readonly cleanup: () => void;
  /** Batches awaiting acknowledgement before reading pauses (default 64). */
  readonly maxInFlight?: number;
  /** Items per batch at most (default 4096). */
  readonly maxBatch?: number;
  /**
   * After a turn that read something, wait this many ms before polling again, so a stream of events
   * is read in fewer, larger reads (default 0: poll again at once). Kernel queues that hold many
   * events (inotify, fanotify) absorb the wait.
   */
  readonly settleMs?: number;
}

/** Runs the poll/read loop until the host posts `stop`; returns immediately (the loop is scheduled). */
export function runReaderLoop<T>(opts: ReaderLoopOptions<T>): void {
  const c = libc();
  const buf = Buffer.alloc(opts.bufferBytes);
  const maxInFlight = opts.maxInFlight ?? 64;
  const maxBatch = opts.maxBatch ?? 4096;
  const settleMs = opts.settleMs ?? 0;
  const post = (m: WorkerMessage<T>): void => opts.port.postMessage(m);
  const inFlight = new InFlight(workerData);
  let stopping = false;
  // With the host's wake-up eventfd the loop sleeps in poll() until data arrives or the host stops
  // it (no periodic wake-ups at idle); without one it polls every 100 ms to see the stop message.
  const wakeFd = (workerData as { wakeFd?: unknown } | null)?.wakeFd;
  const wait =
    typeof wakeFd === 'number' && wakeFd >= 0
      ? (): number => {
          const r = c.pollWake(opts.fd, wakeFd, IDLE_POLL_MS);
          return r < 0 ? r : r & ~WOKEN;
        }
      : (): number => c.pollIn(opts.fd, 100);
  opts.port.on('message', (m: HostMessage) => {
    if (m.type === 'ack') inFlight.acked();
    else if (m.type === 'stop') stopping = true;
  });

  const readOnce = (): number =>
    opts.mode === 'recv' ? c.recv(opts.fd, buf, Sock.MSG_DONTWAIT) : c.read(opts.fd, buf);

  const finish = (): void => {
    opts.cleanup();
    opts.port.close();
  };

  const fail = (message: string, errno: number): void => {
    post({ type: 'error', code: 'ERR_NATIVE_CALL', message, errno, fatal: true });
    finish();
  };

  const tick = (): void => {
    if (stopping) {
      finish();
      return;
    }
    if (inFlight.count() >= maxInFlight) {
      setTimeout(tick, 5);
      return;
    }
    const items: T[] = [];
    const ready = wait();
    if (ready < 0 && ready !== -Errno.EINTR) {
      fail(`poll failed: ${errnoName(-ready)}`, -ready);
      return;
    }
    if (ready > 0 && (ready & Sock.POLLNVAL) !== 0) {
      fail('poll: fd is not open', Errno.EBADF);
      return;
    }
    let lost = 0;
    while (ready > 0 && items.length < maxBatch) {
      const n = readOnce();
      if (n === -Errno.ENOBUFS) {
        lost++;
        continue;
      }
      if (n === -Errno.EAGAIN || n === -Errno.EINTR || n === 0) break;
      if (n < 0) {
        fail(`read failed: ${errnoName(-n)}`, -n);
        return;
      }
      opts.decode(buf, n, items);
    }
    opts.afterRead?.(items);
    if (lost > 0) post({ type: 'loss', reason: 'enobufs', count: lost, at: Date.now() });
    if (items.length > 0) {
      inFlight.posted();
      post({ type: 'batch', items });
    }
    if (settleMs > 0 && ready > 0 && items.length < maxBatch) setTimeout(tick, settleMs);
    else setImmediate(tick);
  };
  setImmediate(tick);
}
