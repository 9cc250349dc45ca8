/**
 * Parsing `/proc/net/{tcp,tcp6,udp,udp6}`: the fallback when NETLINK_SOCK_DIAG is refused. The kernel
 * writes addresses as hex words in host byte order (little-endian here) and ports as big-endian hex;
 * states are TCP state numbers. Pure: text in, records out; a malformed line is counted, not thrown.
 * No byte counters: those exist only in tcp_info.
 */
import { type SocketProtocol, type SocketRecord, stateName } from '../socket-record.ts';

/** Records of one file and the lines that could not be parsed. */
export interface ProcNetParseResult {
  readonly sockets: SocketRecord[];
  readonly malformed: number;
}

function hexByte(s: string, i: number): number {
  return Number.parseInt(s.slice(i, i + 2), 16);
}

/** A little-endian hex word (`0100007F`) as its four address bytes (127, 0, 0, 1). */
function wordBytes(hex: string, at: number, out: number[]): void {
  for (let i = 6; i >= 0; i -= 2) out.push(hexByte(hex, at + i));
}

/** Formats an IPv6 address from 16 bytes the way `ss` and Node print it (RFC 5952). */
export function formatIpv6Bytes(b: readonly number[]): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[i] ?? 0) << 8) | (b[i + 1] ?? 0));
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return `::ffff:${b.slice(12).join('.')}`;
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Decodes `ADDR:PORT` as /proc/net writes it; undefined when malformed. */
export function decodeProcNetEndpoint(text: string, family: 4 | 6): { addr: string; port: number } | undefined {
  const colon = text.indexOf(':');
  const hex = text.slice(0, colon);
  const portHex = text.slice(colon + 1);
  const width = family === 4 ? 8 : 32;
  if (colon < 0 || hex.length !== width || !/^[0-9A-Fa-f]+$/.test(hex) || !/^[0-9A-Fa-f]{4}$/.test(portHex)) {
    return undefined;
  }
  const bytes: number[] = [];
  for (let at = 0; at < width; at += 8) wordBytes(hex, at, bytes);
  const addr = family === 4 ? bytes.join('.') : formatIpv6Bytes(bytes);
  return { addr, port: Number.parseInt(portHex, 16) };
}

/** Parses the text of one /proc/net inet file (header line first). */
export function parseProcNet(text: string, family: 4 | 6, protocol: SocketProtocol): ProcNetParseResult {
  const sockets: SocketRecord[] = [];
  let malformed = 0;
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]?.trim();
    if (line === undefined || line === '') continue;
    const f = line.split(/\s+/);
    const src = decodeProcNetEndpoint(f[1] ?? '', family);
    const dst = decodeProcNetEndpoint(f[2] ?? '', family);
    const st = Number.parseInt(f[3] ?? '', 16);
    const uid = Number(f[7]);
    const inode = Number(f[9]);
    if (
      src === undefined ||
      dst === undefined ||
      !Number.isInteger(st) ||
      !Number.isInteger(uid) ||
      !Number.isInteger(inode)
    ) {
      malformed++;
      continue;
    }
    sockets.push({
      family,
      protocol,
      state: stateName(protocol, st),
      srcAddr: src.addr,
      srcPort: src.port,
      dstAddr: dst.addr,
      dstPort: dst.port,
      uid,
      inode,
    });
  }
  return { sockets, malformed };
}
