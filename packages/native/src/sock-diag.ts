/**
 * Socket inventory through NETLINK_SOCK_DIAG: a dump of every TCP or UDP socket of one address
 * family in the caller's network namespace, far cheaper than parsing /proc/net/tcp or spawning
 * `ss`. Works unprivileged. The dump runs in the reader's worker thread (it waits on the kernel),
 * never on the calling thread. It lists sockets; mapping inodes to processes is the caller's job
 * (via /proc/PID/fd).
 */
import { checkOpenOptions, closeOnAbort } from './internal/abort.ts';
import { createListeners } from './internal/listeners.ts';
import { startReader } from './internal/reader-host.ts';
import { invalidArgument, NativeError } from './native-error.ts';
import type { NativeOpenOptions } from './reader-options.ts';

/** One inet socket as sock_diag reports it. Addresses are text (IPv6 per RFC 5952); ports are host order. */
export interface InetDiagSocket {
  family: 4 | 6;
  protocol: 'tcp' | 'udp';
  /** Kernel state number (TCP_ESTABLISHED = 1, ..., TCP_LISTEN = 10). */
  state: number;
  /** `LISTEN`, `ESTABLISHED`, ...; unconnected UDP sockets (state 7) are `UNCONN`, like `ss`. */
  stateName: string;
  srcAddr: string;
  srcPort: number;
  dstAddr: string;
  dstPort: number;
  /** Owner uid of the socket. */
  uid: number;
  /** Socket inode (matches `socket:[INODE]` links under /proc/PID/fd); 0 for time-wait entries. */
  inode: number;
  /** TCP only, with `withInfo`: tcpi_bytes_sent (tcpi_bytes_acked on kernels before 4.19). */
  bytesSent?: bigint;
  /** TCP only, with `withInfo`: tcpi_bytes_received. */
  bytesReceived?: bigint;
  /** TCP only, with `withInfo`: tcpi_total_retrans, segments retransmitted over the socket's life. */
  retransmits?: number;
  /** TCP only, with `withInfo`: tcpi_rtt, the smoothed round-trip time in microseconds. */
  rttUs?: number;
}

/** What to dump. */
export interface SockDiagDumpOptions {
  /** The address family: 4 or 6. */
  readonly family: 4 | 6;
  readonly protocol: 'tcp' | 'udp';
  /** Ask for tcp_info to fill the byte counters (TCP only). Default false. */
  readonly withInfo?: boolean;
}

/** Counters of a sock_diag reader. */
export interface SockDiagStats {
  /** Dumps completed. */
  readonly dumps: number;
  /** Sockets returned by those dumps. */
  readonly sockets: number;
  /** Dumps that failed. */
  readonly errors: number;
  /** The worker's NETLINK_SOCK_DIAG socket, -1 once closed. */
  readonly fd: number;
}

/** A sock_diag socket owned by a worker thread, answering dumps. */
export interface SockDiagReader {
  /**
   * Dumps every socket of `family`/`protocol` (all states) in the worker, reading multi-part replies
   * to the end. Rejects with NativeError: `ERR_NATIVE_INVALID_ARGUMENT` for bad options,
   * `ERR_NATIVE_CALL` for a netlink error (with errno) or after close, `ERR_NETLINK_PROTOCOL` for a
   * malformed or missing reply (each reply datagram is awaited up to 2 s), `ERR_NATIVE_ABORTED` when
   * the reader closes while the dump is pending.
   */
  dump(opts: SockDiagDumpOptions): Promise<InetDiagSocket[]>;
  /** Registers a callback for failures of the worker after open (a failed dump rejects its own promise instead); returns an unsubscribe function. */
  onError(cb: (err: Error) => void): () => void;
  /** Dumps, sockets and the socket fd. */
  stats(): SockDiagStats;
  /** Closes the socket and ends the worker; pending dumps reject. Idempotent; aborting the open call's `signal` does the same. */
  close(): Promise<void>;
}

/** Options for {@link openSockDiag}. */
export type SockDiagOptions = NativeOpenOptions;

function checkDump(opts: SockDiagDumpOptions): { family: 4 | 6; protocol: 'tcp' | 'udp'; withInfo: boolean } {
  if (typeof opts !== 'object' || opts === null) throw invalidArgument('options', opts, 'an object');
  if (opts.family !== 4 && opts.family !== 6) throw invalidArgument('family', opts.family, '4 or 6');
  if (opts.protocol !== 'tcp' && opts.protocol !== 'udp')
    throw invalidArgument('protocol', opts.protocol, "'tcp' or 'udp'");
  if (opts.withInfo !== undefined && typeof opts.withInfo !== 'boolean')
    throw invalidArgument('withInfo', opts.withInfo, 'a boolean');
  return { family: opts.family, protocol: opts.protocol, withInfo: opts.withInfo === true };
}

/**
 * Opens a NETLINK_SOCK_DIAG socket in a worker thread. Rejects with NativeError:
 * `ERR_NATIVE_UNAVAILABLE` off Linux or without sock_diag, `ERR_NATIVE_ABORTED` when `signal`
 * aborts first.
 */
export async function openSockDiag(opts: SockDiagOptions = {}): Promise<SockDiagReader> {
  if (process.platform !== 'linux')
    throw new NativeError('ERR_NATIVE_UNAVAILABLE', `sock_diag needs Linux (platform is ${process.platform})`);
  const { logger: log } = checkOpenOptions('openSockDiag', opts);
  const host = await startReader<never>('request-worker', { sockDiag: true }, { signal: opts.signal });
  const { fd } = host.ready;
  log.debug({ fd, receiveBufferBytes: host.ready.receiveBufferBytes }, 'sock_diag reader opened');
  const counts = { dumps: 0, sockets: 0, errors: 0 };
  const errors = createListeners<Error>();
  host.onError((e) => errors.emit(e));
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      stopListening();
      await host.close();
      log.debug({ fd, ...counts }, 'sock_diag reader closed');
    })();
    return closing;
  };
  const stopListening = closeOnAbort(opts.signal, close);
  return {
    async dump(dumpOpts) {
      const req = checkDump(dumpOpts);
      if (host.closed()) throw new NativeError('ERR_NATIVE_CALL', 'sock_diag reader is closed');
      try {
        const sockets = await host.request<InetDiagSocket[]>({ kind: 'sock-diag-dump', ...req });
        counts.dumps++;
        counts.sockets += sockets.length;
        return sockets;
      } catch (e) {
        counts.errors++;
        throw e;
      }
    },
    onError: (cb) => errors.add(cb),
    stats: () => ({ ...counts, fd: host.closed() ? -1 : fd }),
    close,
  };
}

/**
 * Dumps every socket of `family`/`protocol` once, through a short-lived {@link openSockDiag} reader
 * (its worker thread does the waiting). For repeated dumps keep a reader open instead. Rejects like
 * {@link SockDiagReader.dump}, and with `ERR_NATIVE_UNAVAILABLE` off Linux or without sock_diag.
 */
export async function sockDiagDump(opts: SockDiagDumpOptions): Promise<InetDiagSocket[]> {
  if (process.platform !== 'linux')
    throw new NativeError('ERR_NATIVE_UNAVAILABLE', `sock_diag needs Linux (platform is ${process.platform})`);
  checkDump(opts);
  const reader = await openSockDiag();
  try {
    return await reader.dump(opts);
  } finally {
    await reader.close();
  }
}
