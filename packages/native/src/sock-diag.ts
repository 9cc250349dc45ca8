/**
 * Socket inventory through NETLINK_SOCK_DIAG: dumps of the TCP, UDP and Unix domain sockets in the
 * caller's network namespace, far cheaper than parsing /proc/net or spawning `ss`. Works
 * unprivileged. Dumps run in the reader's worker thread (it waits on the kernel), never on the
 * calling thread; inet dumps come back as columns in transferred buffers (`dumpColumns`), which
 * `dump` turns into objects. It lists sockets; mapping inodes to processes is the caller's job (via
 * /proc/PID/fd).
 */
import { checkOpenOptions, closeOnAbort } from './internal/abort.ts';
import { SockDiag } from './internal/constants.ts';
import { createListeners } from './internal/listeners.ts';
import { startReader } from './internal/reader-host.ts';
import type { WorkerRequest } from './internal/worker-protocol.ts';
import { invalidArgument, NativeError } from './native-error.ts';
import type { NativeOpenOptions } from './reader-options.ts';
import { type InetDiagColumns, inetDiagSockets } from './sock-diag-columns.ts';

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
  /** Kernel state numbers to dump (the request's idiag_states; default every state). */
  readonly states?: readonly number[];
}

/** What {@link SockDiagReader.dumpColumns} dumps: every combination of `families` and `protocols`. */
export interface SockDiagColumnsOptions {
  /** Default `[4, 6]`. */
  readonly families?: readonly (4 | 6)[];
  /** Default `['tcp', 'udp']`. */
  readonly protocols?: readonly ('tcp' | 'udp')[];
  /** Ask for tcp_info (TCP dumps only). Default false: the kernel then skips building it. */
  readonly withInfo?: boolean;
  /** Kernel state numbers to dump (default every state). */
  readonly states?: readonly number[];
}

/** One Unix domain socket as sock_diag reports it. */
export interface UnixDiagSocket {
  readonly type: 'stream' | 'dgram' | 'seqpacket';
  /** Kernel state number: 1 connected, 10 listening, 7 unconnected, 2 connecting. */
  readonly state: number;
  /** `ESTABLISHED`, `LISTEN`, `UNCONN`, `SYN_SENT`. */
  readonly stateName: string;
  /** Socket inode (`socket:[INODE]` under /proc/PID/fd). */
  readonly inode: number;
  /** The bound name: a filesystem path, or `@` and the abstract name as `ss` shows it; absent when unbound. */
  path?: string;
  /** The inode of the connected peer, 0 when there is none. */
  peerInode: number;
  /** Owner uid (kernel 5.3 and later). */
  uid?: number;
  /** Bytes queued for reading (a listener: connections waiting to be accepted). */
  recvQueue?: number;
  /** Bytes queued for sending (a listener: its backlog). */
  sendQueue?: number;
}

/** What {@link SockDiagReader.dumpUnix} dumps. */
export interface UnixDiagDumpOptions {
  /** Kernel state numbers to dump (default every state). */
  readonly states?: readonly number[];
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
  /**
   * Dumps every combination of `families` and `protocols` in one trip to the worker, decoded there
   * straight from the receive buffer into columns whose buffers are transferred to the caller (no
   * object per socket, no clone): the fast path. Rejects like {@link dump}.
   */
  dumpColumns(opts?: SockDiagColumnsOptions): Promise<InetDiagColumns>;
  /** Dumps the Unix domain sockets with their names, peers, queues and owners. Rejects like {@link dump}. */
  dumpUnix(opts?: UnixDiagDumpOptions): Promise<UnixDiagSocket[]>;
  /** Registers a callback for failures of the worker after open (a failed dump rejects its own promise instead); returns an unsubscribe function. */
  onError(cb: (err: Error) => void): () => void;
  /** Dumps, sockets and the socket fd. */
  stats(): SockDiagStats;
  /** Closes the socket and ends the worker; pending dumps reject. Idempotent; aborting the open call's `signal` does the same. */
  close(): Promise<void>;
}

/** Options for {@link openSockDiag}. */
export type SockDiagOptions = NativeOpenOptions;

function checkStates(states: unknown): number {
  if (states === undefined) return SockDiag.ALL_STATES;
  const ok = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 31;
  if (!Array.isArray(states) || !states.every(ok))
    throw invalidArgument('states', states, 'a list of state numbers 0-31');
  let mask = 0;
  for (const s of states as number[]) mask |= 1 << s;
  return mask >>> 0;
}

function checkWithInfo(v: unknown): boolean {
  if (v !== undefined && typeof v !== 'boolean') throw invalidArgument('withInfo', v, 'a boolean');
  return v === true;
}

function checkList<T>(name: string, v: unknown, fallback: readonly T[], allowed: readonly T[]): readonly T[] {
  if (v === undefined) return fallback;
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => allowed.includes(x as T)))
    throw invalidArgument(name, v, `a non-empty list of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
  return [...new Set(v as T[])];
}

function checkDump(opts: SockDiagDumpOptions): Extract<WorkerRequest, { kind: 'sock-diag-columns' }> {
  if (typeof opts !== 'object' || opts === null) throw invalidArgument('options', opts, 'an object');
  if (opts.family !== 4 && opts.family !== 6) throw invalidArgument('family', opts.family, '4 or 6');
  if (opts.protocol !== 'tcp' && opts.protocol !== 'udp')
    throw invalidArgument('protocol', opts.protocol, "'tcp' or 'udp'");
  return {
    kind: 'sock-diag-columns',
    queries: [{ family: opts.family, protocol: opts.protocol }],
    withInfo: checkWithInfo(opts.withInfo),
    states: checkStates(opts.states),
  };
}

function checkColumns(opts: SockDiagColumnsOptions | undefined): Extract<WorkerRequest, { kind: 'sock-diag-columns' }> {
  const o: SockDiagColumnsOptions = opts ?? {};
  if (typeof o !== 'object' || o === null) throw invalidArgument('options', o, 'an object');
  const families = checkList<4 | 6>('families', o.families, [4, 6], [4, 6]);
  const protocols = checkList<'tcp' | 'udp'>('protocols', o.protocols, ['tcp', 'udp'], ['tcp', 'udp']);
  return {
    kind: 'sock-diag-columns',
    queries: protocols.flatMap((protocol) => families.map((family) => ({ family, protocol }))),
    withInfo: checkWithInfo(o.withInfo),
    states: checkStates(o.states),
  };
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
  const run = async <R>(req: WorkerRequest, size: (r: R) => number): Promise<R> => {
    if (host.closed()) throw new NativeError('ERR_NATIVE_CALL', 'sock_diag reader is closed');
    try {
      const r = await host.request<R>(req);
      counts.dumps++;
      counts.sockets += size(r);
      return r;
    } catch (e) {
      counts.errors++;
      throw e;
    }
  };
  const columns = (req: WorkerRequest) => run<InetDiagColumns>(req, (c) => c.length);
  return {
    dump: async (dumpOpts) => inetDiagSockets(await columns(checkDump(dumpOpts))),
    dumpColumns: async (o) => columns(checkColumns(o)),
    dumpUnix: async (o) => {
      if (o !== undefined && (typeof o !== 'object' || o === null)) throw invalidArgument('options', o, 'an object');
      return run<UnixDiagSocket[]>({ kind: 'sock-diag-unix', states: checkStates(o?.states) }, (r) => r.length);
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
