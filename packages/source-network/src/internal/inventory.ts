/**
 * Socket inventories: the backends that list the host's sockets. `netlink` dumps through
 * NETLINK_SOCK_DIAG in `@daemoneye/native`'s worker, as columns (with tcp_info counters when asked
 * for), and Unix sockets when asked for; `procfs` parses
 * /proc/net/{tcp,tcp6,udp,udp6} (read asynchronously, no counters) when netlink is refused;
 * `systeminformation` is the portable fallback off Linux. `openInventory` picks the best one that
 * opens and says why it fell back. Nothing here diffs or emits events.
 */
import { readFile } from 'node:fs/promises';
import { describeError } from '@daemoneye/core';
import type { SockDiagReader } from '@daemoneye/native';
import type { SocketProtocol, SocketRecord } from '../socket-record.ts';
import { stateName } from '../socket-record.ts';
import { parseProcNet } from './proc-net-parse.ts';
import { columnBatch, recordBatch, type SocketBatch, unixBatch } from './socket-batch.ts';

/** The backend that lists sockets. */
export type NetworkBackend = 'netlink' | 'procfs' | 'systeminformation';

/** What one dump asks for. */
export interface DumpRequest {
  readonly protocols: readonly SocketProtocol[];
  readonly families: readonly (4 | 6)[];
  /** Ask for the tcp_info counters (only the netlink backend has them). */
  readonly counters: boolean;
  /** Dump Unix domain sockets too (only the netlink backend can). */
  readonly unix: boolean;
}

/** One dump's sockets, and the records a backend could not decode. */
export interface DumpResult {
  /** The TCP and UDP sockets. */
  readonly inet: SocketBatch;
  /** The Unix sockets, when asked for and the backend lists them. */
  readonly unix: SocketBatch | undefined;
  readonly malformed: number;
}

/** An open backend. `dump` rejects when the backend fails; `close` is idempotent. */
export interface SocketInventory {
  readonly backend: NetworkBackend;
  dump(request: DumpRequest): Promise<DumpResult>;
  close(): Promise<void>;
}

/** The part of `@daemoneye/native`'s sock_diag reader the source uses. */
export type SockDiagPort = Pick<SockDiagReader, 'dumpColumns' | 'dumpUnix' | 'close'>;

/** Port: opens a sock_diag reader (default: `@daemoneye/native`'s `openSockDiag`). */
export type OpenSockDiag = (signal: AbortSignal) => Promise<SockDiagPort>;

/** Port: reads a /proc/net file (default: `fs.promises.readFile`). */
export type ReadProcNet = (path: string) => Promise<string>;

/** The sock_diag backend over an open reader: one trip to its worker per dump, columns back. */
export function netlinkInventory(reader: SockDiagPort): SocketInventory {
  return {
    backend: 'netlink',
    async dump(request) {
      const [columns, unix] = await Promise.all([
        reader.dumpColumns({ families: request.families, protocols: request.protocols, withInfo: request.counters }),
        request.unix ? reader.dumpUnix() : undefined,
      ]);
      return { inet: columnBatch(columns), unix: unix === undefined ? undefined : unixBatch(unix), malformed: 0 };
    },
    close: () => reader.close(),
  };
}

/** The /proc/net parsing backend (`procRoot` defaults to `/proc`). */
export function procfsInventory(read: ReadProcNet = (p) => readFile(p, 'latin1'), procRoot = '/proc'): SocketInventory {
  return {
    backend: 'procfs',
    async dump(request) {
      const files = request.protocols.flatMap((protocol) =>
        request.families.map((family) => ({
          protocol,
          family,
          path: `${procRoot}/net/${protocol}${family === 6 ? '6' : ''}`,
        })),
      );
      const texts = await Promise.all(
        files.map((f) =>
          read(f.path).catch((e: unknown) => {
            // A kernel without IPv6 has no tcp6/udp6: that family simply has no sockets.
            if ((e as { code?: unknown }).code === 'ENOENT') return '';
            throw e;
          }),
        ),
      );
      const sockets: SocketRecord[] = [];
      let malformed = 0;
      files.forEach((f, i) => {
        const r = parseProcNet(texts[i] ?? '', f.family, f.protocol);
        for (const s of r.sockets) sockets.push(s);
        malformed += r.malformed;
      });
      return { inet: recordBatch(sockets), unix: undefined, malformed };
    },
    close: async () => {},
  };
}

/** One connection as systeminformation reports it. */
export interface SiConnection {
  readonly protocol: string;
  readonly localAddress: string;
  readonly localPort: string;
  readonly peerAddress: string;
  readonly peerPort: string;
  readonly state: string;
  readonly pid: number;
  readonly process: string;
}

const SI_STATES: Readonly<Record<string, string>> = {
  LISTEN: 'LISTEN',
  LISTENING: 'LISTEN',
  ESTABLISHED: 'ESTABLISHED',
  TIME_WAIT: 'TIME_WAIT',
  CLOSE_WAIT: 'CLOSE_WAIT',
  SYN_SENT: 'SYN_SENT',
  SYN_RECV: 'SYN_RECV',
  SYN_RECEIVED: 'SYN_RECV',
  FIN_WAIT1: 'FIN_WAIT1',
  FIN_WAIT_1: 'FIN_WAIT1',
  FIN_WAIT2: 'FIN_WAIT2',
  FIN_WAIT_2: 'FIN_WAIT2',
  LAST_ACK: 'LAST_ACK',
  CLOSING: 'CLOSING',
  CLOSED: 'CLOSE',
};

/** Converts systeminformation's `networkConnections()` rows; rows with unusable ports are counted. */
export function fromSystemInformation(rows: readonly SiConnection[]): { sockets: SocketRecord[]; malformed: number } {
  const sockets: SocketRecord[] = [];
  let malformed = 0;
  for (const r of rows) {
    const protocol: SocketProtocol | undefined = r.protocol.startsWith('tcp')
      ? 'tcp'
      : r.protocol.startsWith('udp')
        ? 'udp'
        : undefined;
    const srcPort = Number(r.localPort);
    const dstPort = r.peerPort === '*' || r.peerPort === '' ? 0 : Number(r.peerPort);
    if (protocol === undefined || !Number.isInteger(srcPort) || !Number.isInteger(dstPort)) {
      malformed++;
      continue;
    }
    const family: 4 | 6 = r.localAddress.includes(':') || r.protocol.endsWith('6') ? 6 : 4;
    const anyAddr = family === 6 ? '::' : '0.0.0.0';
    const state =
      protocol === 'udp'
        ? dstPort === 0
          ? 'UNCONN'
          : 'ESTABLISHED'
        : (SI_STATES[r.state.toUpperCase()] ?? stateName('tcp', 0));
    sockets.push({
      family,
      protocol,
      state,
      srcAddr: r.localAddress === '*' ? anyAddr : r.localAddress,
      srcPort,
      dstAddr: r.peerAddress === '*' || r.peerAddress === '' ? anyAddr : r.peerAddress,
      dstPort,
      inode: 0,
      ...(r.pid > 0 ? { pid: r.pid } : {}),
      ...(r.process !== '' ? { processName: r.process } : {}),
    });
  }
  return { sockets, malformed };
}

/** The systeminformation backend. */
export function systemInformationInventory(): SocketInventory {
  return {
    backend: 'systeminformation',
    async dump(request) {
      const si = await import('systeminformation');
      const rows = (await si.default.networkConnections()) as unknown as SiConnection[];
      const all = fromSystemInformation(rows);
      const sockets = all.sockets.filter(
        (s) => request.protocols.includes(s.protocol) && request.families.includes(s.family),
      );
      return { inet: recordBatch(sockets), unix: undefined, malformed: all.malformed };
    },
    close: async () => {},
  };
}

/** Which backend to use: `auto` tries netlink, then /proc/net (Linux), then systeminformation. */
export type BackendChoice = 'auto' | NetworkBackend;

/** An opened inventory and, when it is not the best one, why. */
export interface OpenedInventory {
  readonly inventory: SocketInventory;
  readonly fallbackReason: string | undefined;
}

const defaultOpenSockDiag: OpenSockDiag = async (signal) => {
  const native = await import('@daemoneye/native');
  return native.openSockDiag({ signal });
};

/** Opens the chosen backend. Rejects only when a backend named explicitly cannot open. */
export async function openInventory(opts: {
  readonly choice: BackendChoice;
  readonly signal: AbortSignal;
  readonly openSockDiag?: OpenSockDiag | undefined;
  readonly readProcNet?: ReadProcNet | undefined;
  readonly platform?: NodeJS.Platform;
}): Promise<OpenedInventory> {
  const platform = opts.platform ?? process.platform;
  const procfs = () => procfsInventory(opts.readProcNet);
  if (opts.choice === 'procfs') return { inventory: procfs(), fallbackReason: 'backend = "procfs" was configured' };
  if (opts.choice === 'systeminformation') {
    return { inventory: systemInformationInventory(), fallbackReason: 'backend = "systeminformation" was configured' };
  }
  if (platform !== 'linux' && opts.choice === 'auto') {
    return { inventory: systemInformationInventory(), fallbackReason: `no sock_diag on ${platform}` };
  }
  try {
    const reader = await (opts.openSockDiag ?? defaultOpenSockDiag)(opts.signal);
    return { inventory: netlinkInventory(reader), fallbackReason: undefined };
  } catch (e) {
    if (opts.choice === 'netlink') throw e;
    return { inventory: procfs(), fallbackReason: `sock_diag refused (${describeError(e)}); parsing /proc/net` };
  }
}
