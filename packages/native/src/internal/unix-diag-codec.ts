/**
 * The NETLINK_SOCK_DIAG wire format for Unix domain sockets: encoding a unix_diag_req dump request
 * and decoding unix_diag_msg replies with their name, peer, queue and owner attributes. Pure: no
 * system calls, tested against recorded kernel bytes.
 */
import type { UnixDiagSocket } from '../sock-diag.ts';
import { Sock, SockDiag } from './constants.ts';
import { stateName } from './sock-diag-codec.ts';
import { RtAttr, UnixDiagMsg, UnixDiagReq } from './structs.ts';

const TYPES: Readonly<Record<number, UnixDiagSocket['type']>> = { 1: 'stream', 2: 'dgram', 5: 'seqpacket' };

/** Encodes the unix_diag_req payload of a dump of the Unix sockets in `states` (a bit per state number). */
export function encodeUnixDiagRequest(states: number): Buffer {
  const b = Buffer.alloc(UnixDiagReq.SIZE);
  b.writeUInt8(Sock.AF_UNIX, UnixDiagReq.FAMILY);
  b.writeUInt32LE(states >>> 0, UnixDiagReq.STATES);
  b.writeUInt32LE(
    SockDiag.UDIAG_SHOW_NAME | SockDiag.UDIAG_SHOW_PEER | SockDiag.UDIAG_SHOW_RQLEN | SockDiag.UDIAG_SHOW_UID,
    UnixDiagReq.SHOW,
  );
  b.writeUInt32LE(SockDiag.INET_DIAG_NOCOOKIE, UnixDiagReq.COOKIE);
  b.writeUInt32LE(SockDiag.INET_DIAG_NOCOOKIE, UnixDiagReq.COOKIE + 4);
  return b;
}

/** A bound name as `ss` prints it: a path, or `@` and the abstract name (its NUL bytes shown as `@`). */
function formatName(p: Buffer, start: number, end: number): string {
  if (p[start] === 0) return `@${p.toString('latin1', start + 1, end).replaceAll('\0', '@')}`;
  let stop = end;
  while (stop > start && p[stop - 1] === 0) stop--;
  return p.toString('utf8', start, stop);
}

/** Decodes one unix_diag_msg reply payload; undefined when truncated or not a Unix socket. */
export function decodeUnixDiagMessage(p: Buffer): UnixDiagSocket | undefined {
  if (p.length < UnixDiagMsg.SIZE || p.readUInt8(UnixDiagMsg.FAMILY) !== Sock.AF_UNIX) return undefined;
  const typeNo = p.readUInt8(UnixDiagMsg.TYPE);
  const state = p.readUInt8(UnixDiagMsg.STATE);
  const s: UnixDiagSocket = {
    type: TYPES[typeNo] ?? 'stream',
    state,
    stateName: stateName('udp', state),
    inode: p.readUInt32LE(UnixDiagMsg.INO),
    peerInode: 0,
  };
  let off = UnixDiagMsg.SIZE;
  while (off + RtAttr.SIZE <= p.length) {
    const len = p.readUInt16LE(off + RtAttr.LEN);
    const type = p.readUInt16LE(off + RtAttr.TYPE);
    if (len < RtAttr.SIZE || off + len > p.length) break;
    const at = off + RtAttr.SIZE;
    const size = len - RtAttr.SIZE;
    if (type === SockDiag.UNIX_DIAG_NAME && size > 0) s.path = formatName(p, at, at + size);
    else if (type === SockDiag.UNIX_DIAG_PEER && size >= 4) s.peerInode = p.readUInt32LE(at);
    else if (type === SockDiag.UNIX_DIAG_RQLEN && size >= 8) {
      s.recvQueue = p.readUInt32LE(at);
      s.sendQueue = p.readUInt32LE(at + 4);
    } else if (type === SockDiag.UNIX_DIAG_UID && size >= 4) s.uid = p.readUInt32LE(at);
    off += (len + 3) & ~3;
  }
  return s;
}
