/**
 * The proc connector reader: a worker thread subscribes to the kernel's process events
 * (NETLINK_CONNECTOR, CN_IDX_PROC) and posts them in batches, so the event loop never blocks on the
 * kernel. Events carry pids only; enriching them from /proc is the caller's job, except that the
 * reader thread can capture chosen /proc files of an exec'd process at once. Loss (ENOBUFS when
 * the receive buffer overflowed) is reported, never thrown: the reader keeps going.
 */

import { checkOpenOptions, closeOnAbort } from './internal/abort.ts';
import { effectiveCapabilities } from './internal/capabilities.ts';
import { startReader } from './internal/reader-host.ts';
import { invalidArgument, NativeError } from './native-error.ts';
import type { ProcConnectorEvent } from './proc-event.ts';
import type { LossInfo, NativeOpenOptions } from './reader-options.ts';

/** A loss report of the proc connector reader. */
export interface ProcConnectorLossInfo extends LossInfo {
  /** `enobufs`: the kernel dropped events (ENOBUFS, errno 105); `overflow`: batches waiting for a first `onEvents` were dropped. */
  readonly reason: 'enobufs' | 'overflow';
}

/** Counters of a proc connector reader. */
export interface ProcConnectorStats {
  /** Events delivered. */
  readonly received: number;
  /** The sum of loss counts. */
  readonly lossEvents: number;
  /** The receive buffer in effect, in bytes. */
  readonly receiveBufferBytes: number;
  /** The subscribed socket, -1 once closed. */
  readonly fd: number;
}

/** A running proc connector subscription. */
export interface ProcConnectorReader {
  /**
   * Registers a callback for event batches, in kernel order; returns a function that unregisters
   * it. Batches that arrived before the first callback are delivered to it.
   */
  onEvents(cb: (events: readonly ProcConnectorEvent[]) => void): () => void;
  /** Registers a callback for loss; returns an unsubscribe function. */
  onLoss(cb: (info: ProcConnectorLossInfo) => void): () => void;
  /** Registers a callback for failures after open (a read error ends the reader; a throwing callback is reported here); returns an unsubscribe function. */
  onError(cb: (err: Error) => void): () => void;
  /** Events delivered, loss reports seen, the receive buffer in effect and the socket. */
  stats(): ProcConnectorStats;
  /** Unsubscribes (PROC_CN_MCAST_IGNORE), closes the socket and ends the worker. Idempotent; aborting the `signal` does the same. */
  close(): Promise<void>;
}

/** Options for {@link openProcConnector}. */
export interface ProcConnectorOptions extends NativeOpenOptions {
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
 * reason) off Linux, without CAP_NET_ADMIN, or outside the initial pid/user namespace;
 * `ERR_NATIVE_INVALID_ARGUMENT` for a bad option; `ERR_NATIVE_ABORTED` when `signal` aborts first;
 * `ERR_NATIVE_CALL` for other system call failures.
 */
export async function openProcConnector(opts: ProcConnectorOptions = {}): Promise<ProcConnectorReader> {
  if (process.platform !== 'linux') {
    throw new NativeError('ERR_NATIVE_UNAVAILABLE', `the proc connector needs Linux (platform is ${process.platform})`);
  }
  const { logger: log } = checkOpenOptions('openProcConnector', opts);
  const receiveBufferBytes = opts.receiveBufferBytes ?? DEFAULT_PROC_CONNECTOR_BUFFER;
  if (!Number.isInteger(receiveBufferBytes) || receiveBufferBytes <= 0)
    throw invalidArgument('receiveBufferBytes', opts.receiveBufferBytes, 'a positive integer');
  const files = [...(opts.captureOnExec?.files ?? [])];
  const links = [...(opts.captureOnExec?.links ?? [])];
  for (const [option, names] of [
    ['captureOnExec.files', files],
    ['captureOnExec.links', links],
  ] as const) {
    for (const name of names) {
      if (typeof name !== 'string' || name === '' || name.includes('/') || name === '.' || name === '..')
        throw invalidArgument(option, name, 'plain /proc/<pid>/ entry names');
    }
  }
  log.debug(effectiveCapabilities(['CAP_NET_ADMIN']) ?? {}, 'proc connector privileges found');
  const host = await startReader<ProcConnectorEvent>(
    'proc-connector-worker',
    { receiveBufferBytes, capture: { files, links, max: MAX_EXEC_CAPTURES_PER_READ } },
    { signal: opts.signal },
  );
  const { fd } = host.ready;
  log.debug({ fd, receiveBufferBytes: host.ready.receiveBufferBytes }, 'proc connector opened');
  let lossEvents = 0;
  host.onLoss((info) => {
    lossEvents += info.count;
  });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      stopListening();
      await host.close();
      log.debug({ fd, received: host.delivered(), lossEvents }, 'proc connector closed');
    })();
    return closing;
  };
  const stopListening = closeOnAbort(opts.signal, close);
  return {
    onEvents: (cb) => host.onItems(cb),
    onLoss: (cb) => host.onLoss((info) => cb({ ...info, reason: info.reason === 'enobufs' ? 'enobufs' : 'overflow' })),
    onError: (cb) => host.onError(cb),
    stats: () => ({
      received: host.delivered(),
      lossEvents,
      receiveBufferBytes: host.ready.receiveBufferBytes,
      fd: host.closed() ? -1 : fd,
    }),
    close,
  };
}
