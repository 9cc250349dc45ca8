/**
 * The NETLINK_SOCK_DIAG wire format for inet sockets: encoding an inet_diag_req_v2 dump request (or the
 * older inet_diag_req of a TCP dump of both families) and
 * decoding inet_diag_msg replies (addresses, ports, state, owner, inode, and the tcp_info byte
 * counters when asked for). Pure: no system calls, tested against recorded kernel bytes.
 */

import type { InetDiagSocket } from '../sock-diag.ts';
import { Sock, SockDiag, TcpStateNames } from './constants.ts';
import { InetDiagMsg, InetDiagReqV1, InetDiagReqV2, RtAttr, TcpInfo } from './structs.ts';

/** Encodes the inet_diag_req_v2 payload of a dump of the sockets of `family`/`protocol` in `states`. */
export function encodeInetDiagRequest(opts: {
  family: 4 | 6;
  protocol: 'tcp' | 'udp';
  withInfo: boolean;
  /** idiag_states, a bit per state number (default: every state). */
  states?: number;
}): Buffer {
  const b = Buffer.alloc(InetDiagReqV2.SIZE);
  b.writeUInt8(opts.family === 4 ? Sock.AF_INET : Sock.AF_INET6, InetDiagReqV2.FAMILY);
  b.writeUInt8(opts.protocol === 'tcp' ? Sock.IPPROTO_TCP : Sock.IPPROTO_UDP, InetDiagReqV2.PROTOCOL);
  b.writeUInt8(opts.withInfo ? 1 << (SockDiag.INET_DIAG_INFO - 1) : 0, InetDiagReqV2.EXT);
  b.writeUInt32LE((opts.states ?? SockDiag.ALL_STATES) >>> 0, InetDiagReqV2.STATES);
  b.writeUInt32LE(SockDiag.INET_DIAG_NOCOOKIE, InetDiagReqV2.SOCKID_COOKIE);
  b.writeUInt32LE(SockDiag.INET_DIAG_NOCOOKIE, InetDiagReqV2.SOCKID_COOKIE + 4);
  return b;
}

/**
 * Encodes a TCPDIAG_GETSOCK dump request (struct inet_diag_req). The kernel dumps it with the family
 * unspecified, so one pass over its TCP tables lists IPv4 and IPv6 sockets both, where two
 * SOCK_DIAG_BY_FAMILY requests walk them twice (the walk of the established table costs the same
 * whether it finds sockets of the family or none). Replies carry message type TCPDIAG_GETSOCK.
 */
export function encodeTcpDiagCompatRequest(opts: { withInfo: boolean; states?: number }): Buffer {
  const b = Buffer.alloc(InetDiagReqV1.SIZE);
  b.writeUInt8(opts.withInfo ? 1 << (SockDiag.INET_DIAG_INFO - 1) : 0, InetDiagReqV1.EXT);
  b.writeUInt32LE(SockDiag.INET_DIAG_NOCOOKIE, InetDiagReqV1.SOCKID_COOKIE);
  b.writeUInt32LE(SockDiag.INET_DIAG_NOCOOKIE, InetDiagReqV1.SOCKID_COOKIE + 4);
  b.writeUInt32LE((opts.states ?? SockDiag.ALL_STATES) >>> 0, InetDiagReqV1.STATES);
  return b;
}

/** Formats 16 address bytes as IPv6 text (RFC 5952: lowercase, longest zero run as `::`, mapped IPv4 dotted). */
export function formatIpv6(b: Uint8Array, off = 0): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(((b[off + i * 2] as number) << 8) | (b[off + i * 2 + 1] as number));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${b[off + 12]}.${b[off + 13]}.${b[off + 14]}.${b[off + 15]}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Formats the address at `b[off]` of `family` (AF_INET or AF_INET6) as text. */
export function formatAddress(b: Uint8Array, off: number, family: number): string {
  return family === Sock.AF_INET ? `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}` : formatIpv6(b, off);
}

/** The state name `ss` shows for `state` of `protocol`. */
export function stateName(protocol: 'tcp' | 'udp', state: number): string {
  if (protocol === 'udp' && state === 7) return 'UNCONN';
  return TcpStateNames[state] ?? `UNKNOWN(${state})`;
}

/** Reads the tcp_info byte counters, retransmissions and RTT from the attributes after an inet_diag_msg, when present. */
function readTcpInfo(
  p: Buffer,
): { bytesSent: bigint; bytesReceived: bigint; retransmits: number; rttUs: number } | undefined {
  let off = InetDiagMsg.SIZE;
  while (off + RtAttr.SIZE <= p.length) {
    const len = p.readUInt16LE(off + RtAttr.LEN);
    const type = p.readUInt16LE(off + RtAttr.TYPE);
    if (len < RtAttr.SIZE || off + len > p.length) return undefined;
    if (type === SockDiag.INET_DIAG_INFO) {
      const info = off + RtAttr.SIZE;
      const size = len - RtAttr.SIZE;
      if (size < TcpInfo.BYTES_RECEIVED + 8) return undefined;
      const sentAt = size >= TcpInfo.BYTES_SENT + 8 ? TcpInfo.BYTES_SENT : TcpInfo.BYTES_ACKED;
      return {
        bytesSent: p.readBigUInt64LE(info + sentAt),
        bytesReceived: p.readBigUInt64LE(info + TcpInfo.BYTES_RECEIVED),
        retransmits: p.readUInt32LE(info + TcpInfo.TOTAL_RETRANS),
        rttUs: p.readUInt32LE(info + TcpInfo.RTT),
      };
    }
    off += (len + 3) & ~3;
  }
  return undefined;
}

/** Decodes one SOCK_DIAG_BY_FAMILY reply payload (inet_diag_msg + attributes); undefined when truncated. */
export function decodeInetDiagMessage(p: Buffer, protocol: 'tcp' | 'udp'): InetDiagSocket | undefined {
  if (p.length < InetDiagMsg.SIZE) return undefined;
  const fam = p.readUInt8(InetDiagMsg.FAMILY);
  const state = p.readUInt8(InetDiagMsg.STATE);
  const s: InetDiagSocket = {
    family: fam === Sock.AF_INET ? 4 : 6,
    protocol,
    state,
    stateName: stateName(protocol, state),
    srcAddr: formatAddress(p, InetDiagMsg.SRC, fam),
    srcPort: p.readUInt16BE(InetDiagMsg.SPORT),
    dstAddr: formatAddress(p, InetDiagMsg.DST, fam),
    dstPort: p.readUInt16BE(InetDiagMsg.DPORT),
    uid: p.readUInt32LE(InetDiagMsg.UID),
    inode: p.readUInt32LE(InetDiagMsg.INODE),
  };
  const info = readTcpInfo(p);
  if (info) {
    s.bytesSent = info.bytesSent;
    s.bytesReceived = info.bytesReceived;
    s.retransmits = info.retransmits;
    s.rttUs = info.rttUs;
  }
  return s;
}
