/**
 * The columnar form of an inet sock_diag dump: one typed array per field, addresses as raw bytes,
 * so a dump of thousands of sockets crosses from the worker thread to the caller as a few
 * transferred buffers instead of thousands of cloned objects. Helpers turn one row, or all of them,
 * into {@link InetDiagSocket} objects for callers who want objects. Pure: no system calls.
 */
import { Sock } from './internal/constants.ts';
import { formatAddress, stateName } from './internal/sock-diag-codec.ts';
import type { InetDiagSocket } from './sock-diag.ts';

/**
 * Sockets of one or more inet dumps, row `i` of every array describing one socket. Ports are host
 * order; `addresses` holds 32 bytes per row, the source address then the destination address, 16
 * bytes each in network order (an IPv4 address in the first 4, the rest zero). The tcp_info fields
 * are meaningful where `hasInfo[i]` is 1 (TCP sockets of a dump with `withInfo`), 0 elsewhere.
 */
export interface InetDiagColumns {
  readonly length: number;
  /** 4 or 6. */
  readonly family: Uint8Array;
  /** IP protocol number: 6 (TCP) or 17 (UDP). */
  readonly protocol: Uint8Array;
  /** Kernel state number (TCP_ESTABLISHED = 1, ..., TCP_LISTEN = 10; unconnected UDP is 7). */
  readonly state: Uint8Array;
  readonly srcPort: Uint16Array;
  readonly dstPort: Uint16Array;
  readonly uid: Uint32Array;
  /** Socket inode; 0 for time-wait entries and orphaned sockets. */
  readonly inode: Uint32Array;
  readonly addresses: Uint8Array;
  readonly hasInfo: Uint8Array;
  /** tcpi_bytes_sent (tcpi_bytes_acked on kernels before 4.19). */
  readonly bytesSent: BigUint64Array;
  readonly bytesReceived: BigUint64Array;
  /** tcpi_total_retrans. */
  readonly retransmits: Uint32Array;
  /** tcpi_rtt, microseconds. */
  readonly rttUs: Uint32Array;
}

/** The protocol name of row `i`. */
export function columnProtocol(c: InetDiagColumns, i: number): 'tcp' | 'udp' {
  return c.protocol[i] === Sock.IPPROTO_UDP ? 'udp' : 'tcp';
}

/** The source (`'src'`) or destination (`'dst'`) address of row `i` as text (IPv6 per RFC 5952). */
export function columnAddress(c: InetDiagColumns, i: number, end: 'src' | 'dst'): string {
  return formatAddress(
    c.addresses,
    i * 32 + (end === 'src' ? 0 : 16),
    c.family[i] === 4 ? Sock.AF_INET : Sock.AF_INET6,
  );
}

/** The state name of row `i` as `ss` shows it (`LISTEN`, `ESTABLISHED`, `UNCONN` for unconnected UDP). */
export function columnStateName(c: InetDiagColumns, i: number): string {
  return stateName(columnProtocol(c, i), c.state[i] ?? 0);
}

/** Row `i` as an object. */
export function inetDiagSocketAt(c: InetDiagColumns, i: number): InetDiagSocket {
  const s: InetDiagSocket = {
    family: c.family[i] === 4 ? 4 : 6,
    protocol: columnProtocol(c, i),
    state: c.state[i] ?? 0,
    stateName: columnStateName(c, i),
    srcAddr: columnAddress(c, i, 'src'),
    srcPort: c.srcPort[i] ?? 0,
    dstAddr: columnAddress(c, i, 'dst'),
    dstPort: c.dstPort[i] ?? 0,
    uid: c.uid[i] ?? 0,
    inode: c.inode[i] ?? 0,
  };
  if (c.hasInfo[i] === 1) {
    s.bytesSent = c.bytesSent[i] ?? 0n;
    s.bytesReceived = c.bytesReceived[i] ?? 0n;
    s.retransmits = c.retransmits[i] ?? 0;
    s.rttUs = c.rttUs[i] ?? 0;
  }
  return s;
}

/** Every row as an object, in dump order. */
export function inetDiagSockets(c: InetDiagColumns): InetDiagSocket[] {
  const out = new Array<InetDiagSocket>(c.length);
  for (let i = 0; i < c.length; i++) out[i] = inetDiagSocketAt(c, i);
  return out;
}
