/**
 * The proc connector reader: a worker thread subscribes to the kernel's process events
 * (NETLINK_CONNECTOR, CN_IDX_PROC) and posts them in batches, so the event loop never blocks on the
 * kernel. Events carry pids only; enriching them from /proc is the caller's job, except that the
 * reader thread can capture chosen /proc files of an exec'd process at once. Loss (ENOBUFS when
 * the receive buffer overflowed) is reported, never thrown: the reader keeps going.
 */

import { startReader } from './internal/worker-host.ts';
import { NativeError } from './native-error.ts';
import type { ProcConnectorEvent } from './proc-event.ts';

/** A running proc connector subscription. */
export interface ProcConnectorReader {
  /** Registers a callback for event batches, in kernel order. Batches that arrived before the first callback are delivered to it. */
  onEvents(cb: (events: readonly ProcConnectorEvent[]) => void): void;
  /** Registers a callback for loss: the kernel dropped events (ENOBUFS, errno 105); `at` is epoch ms. */
  onLoss(cb: (info: { reason: 'enobufs'; at: number }) => void): void;
  /** Registers a callback for failures after open (a read error ends the reader; a throwing callback is reported here). */
  onError(cb: (err: Error) => void): void;
  /** Events delivered, loss reports seen, and the receive buffer in effect. */
  stats(): { received: number; lossEvents: number; receiveBufferBytes: number };
  /** Unsubscribes (PROC_CN_MCAST_IGNORE), closes the socket and ends the worker. Idempotent. */
  close(): Promise<void>;
}

/** Options for {@link openProcConnector}. */
export interface ProcConnectorOptions {
  /**
   * Receive buffer to request, in bytes (default 32 MiB). Set with SO_RCVBUFFORCE when permitted,
   * else SO_RCVBUF (capped by net.core.rmem_max). With the kernel default only ~256 events survive
   * a burst.
   */
  readonly receiveBufferBytes?: number;
  /**
   * Read these files and links of `/proc/<pid>/` in the reader thread the moment an exec event is
   * decoded, in the order given, and attach them to the event as `captured`. A process that exits
   * within a millisecond is often gone before the main thread could read it; the reader thread gets
   * there first. At most {@link MAX_EXEC_CAPTURES_PER_READ} execs per read of the socket are
   * captured, so a storm of execs cannot stall the reader (the rest arrive without `captured`).
   * Off by default.
   */
  readonly captureOnExec?: {
    /** File names such as `stat`, `cmdline`, `status`, `cgroup`. */
    readonly files?: readonly string[];
    /** Link names such as `exe`, `cwd`. */
    readonly links?: readonly string[];
  };
}

/** Exec events captured per read of the proc connector socket at most (see `captureOnExec`). */
export const MAX_EXEC_CAPTURES_PER_READ = 256;

/** The default receive buffer of the proc connector reader: 32 MiB. */
export const DEFAULT_PROC_CONNECTOR_BUFFER = 32 * 1024 * 1024;

/**
 * Subscribes to proc connector events. Rejects with NativeError `ERR_NATIVE_UNAVAILABLE` (with the
 * reason) off Linux, without CAP_NET_ADMIN, or outside the initial pid/user namespace, and with
 * `ERR_NATIVE_CALL` for other system call failures.
 */
export async function openProcConnector(opts: ProcConnectorOptions = {}): Promise<ProcConnectorReader> {
  if (process.platform !== 'linux') {
    throw new NativeError('ERR_NATIVE_UNAVAILABLE', `the proc connector needs Linux (platform is ${process.platform})`);
  }
  const receiveBufferBytes = opts.receiveBufferBytes ?? DEFAULT_PROC_CONNECTOR_BUFFER;
  if (!Number.isInteger(receiveBufferBytes) || receiveBufferBytes <= 0) {
    throw new RangeError(`receiveBufferBytes must be a positive integer, got ${String(opts.receiveBufferBytes)}`);
  }
  const files = [...(opts.captureOnExec?.files ?? [])];
  const links = [...(opts.captureOnExec?.links ?? [])];
  for (const name of [...files, ...links]) {
    if (typeof name !== 'string' || name === '' || name.includes('/') || name === '.' || name === '..') {
      throw new RangeError(`captureOnExec names must be plain /proc/<pid>/ entry names, got ${JSON.stringify(name)}`);
    }
  }
  const host = await startReader<ProcConnectorEvent>('proc-connector-worker', {
    receiveBufferBytes,
    capture: { files, links, max: MAX_EXEC_CAPTURES_PER_READ },
  });
  let lossEvents = 0;
  host.onLoss((info) => {
    lossEvents += info.count;
  });
  return {
    onEvents: (cb) => host.onItems(cb),
    onLoss: (cb) => host.onLoss((info) => cb({ reason: 'enobufs', at: info.at })),
    onError: (cb) => host.onError(cb),
    stats: () => ({ received: host.delivered(), lossEvents, receiveBufferBytes: host.ready.receiveBufferBytes }),
    close: () => host.close(),
  };
}
