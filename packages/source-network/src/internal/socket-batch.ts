/**
 * Socket batches: one dump's sockets behind a row-indexed interface the connection table diffs
 * without making an object per socket. `columnBatch` wraps the columns of a sock_diag dump
 * (numeric keys hashed from the raw address bytes), `recordBatch` the records of the /proc/net and
 * systeminformation backends, `unixBatch` a Unix socket dump (keyed by inode). A row becomes text
 * and an event's fields only when an event needs it. Pure: no I/O.
 */
import { type InetDiagColumns, TCP_STATE_NAMES, type UnixDiagSocket } from '@daemoneye/native';
import { endpoint, isListening, type SocketRecord, stateName } from '../socket-record.ts';
import { formatIpv6Bytes } from './proc-net-parse.ts';

/** The fields of a network event a row describes (no subtype, id, owner or timestamp). */
export interface RowFields {
  readonly sourceAddr: string;
  readonly destAddr: string;
  readonly protocol: string;
  readonly family?: 4 | 6;
  readonly uid?: number;
  readonly listening: boolean;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly retransmits?: number;
  readonly rttUs?: number;
  readonly peerInode?: number;
  /** The owner, when the backend reports it itself (systeminformation). */
  readonly pid?: number;
  readonly processName?: string;
}

/** One dump's sockets. Rows of two batches are compared only between batches of the same kind. */
export interface SocketBatch {
  readonly length: number;
  /** A 32-bit hash of row `i`'s connection key. */
  hash(i: number): number;
  /** Whether row `i` and row `j` of `other` (a batch of the same kind) have the same key. */
  same(i: number, other: SocketBatch, j: number): boolean;
  /** The state name (`ESTABLISHED`, `LISTEN`, `UNCONN`, `TIME_WAIT`, ...). */
  stateName(i: number): string;
  /** The socket inode, 0 when the kernel has none (time-wait and orphaned sockets). */
  inode(i: number): number;
  /** The key as text, for connection ids (`tcp4 127.0.0.1:80 127.0.0.1:5000`). */
  keyText(i: number): string;
  /** The row's event fields. */
  fields(i: number): RowFields;
  /** The local and remote port, for port filters (0 for Unix sockets). */
  srcPort(i: number): number;
  dstPort(i: number): number;
  /** The addresses as text, for address filters; undefined for Unix sockets. */
  addressText(i: number, end: 'src' | 'dst'): string | undefined;
  /** 4 or 6; 0 for Unix sockets. */
  family(i: number): number;
}

const TCP = 6;
const TCP_NAMES = TCP_STATE_NAMES;
const LISTEN = 10;
const UDP_UNCONN = 7;

function mix(h: number, v: number): number {
  return Math.imul(h ^ v, 0x01000193);
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < s.length; k++) h = mix(h, s.charCodeAt(k));
  return h >>> 0;
}

/** IPv4 texts by address value: a host has few distinct addresses, and formatting one costs allocations. */
const ipv4Texts = new Map<number, string>();
const MAX_CACHED_IPV4 = 4096;

function ipv4(a: Uint8Array, o: number): string {
  const key =
    (((a[o] as number) << 24) | ((a[o + 1] as number) << 16) | ((a[o + 2] as number) << 8) | (a[o + 3] as number)) >>>
    0;
  let text = ipv4Texts.get(key);
  if (text === undefined) {
    text = `${a[o]}.${a[o + 1]}.${a[o + 2]}.${a[o + 3]}`;
    if (ipv4Texts.size >= MAX_CACHED_IPV4) ipv4Texts.clear();
    ipv4Texts.set(key, text);
  }
  return text;
}

/** A batch over the columns of a sock_diag dump. */
export function columnBatch(c: InetDiagColumns): SocketBatch {
  const sent = new Uint32Array(c.bytesSent.buffer, c.bytesSent.byteOffset, c.length * 2);
  const received = new Uint32Array(c.bytesReceived.buffer, c.bytesReceived.byteOffset, c.length * 2);
  const a = c.addresses;
  const keyed = (i: number): boolean =>
    c.dstPort[i] === 0 || c.state[i] === (c.protocol[i] === TCP ? LISTEN : UDP_UNCONN);
  const proto = (i: number): 'tcp' | 'udp' => (c.protocol[i] === TCP ? 'tcp' : 'udp');
  const addr = (i: number, off: number): string =>
    c.family[i] === 4
      ? ipv4(a, i * 32 + off)
      : formatIpv6Bytes(Array.from(a.subarray(i * 32 + off, i * 32 + off + 16)));
  const name = (i: number): string => {
    const s = c.state[i] ?? 0;
    if (c.protocol[i] !== TCP && s === UDP_UNCONN) return 'UNCONN';
    return TCP_NAMES[s] ?? stateName('tcp', s);
  };
  const batch: SocketBatch & { readonly columns: InetDiagColumns } = {
    columns: c,
    length: c.length,
    hash(i) {
      let h = 0x811c9dc5;
      h = mix(h, c.protocol[i] ?? 0);
      h = mix(h, c.family[i] ?? 0);
      h = mix(h, c.srcPort[i] ?? 0);
      h = mix(h, c.dstPort[i] ?? 0);
      const base = i * 32;
      const width = c.family[i] === 4 ? 4 : 16;
      for (let k = 0; k < width; k++) h = mix(h, ((a[base + k] as number) << 8) | (a[base + 16 + k] as number));
      if (keyed(i)) h = mix(h, c.inode[i] ?? 0);
      return h >>> 0;
    },
    same(i, other, j) {
      const o = (other as typeof batch).columns;
      if (
        c.protocol[i] !== o.protocol[j] ||
        c.family[i] !== o.family[j] ||
        c.srcPort[i] !== o.srcPort[j] ||
        c.dstPort[i] !== o.dstPort[j]
      )
        return false;
      const x = i * 32;
      const y = j * 32;
      const oa = o.addresses;
      for (let k = 0; k < 32; k++) if (a[x + k] !== oa[y + k]) return false;
      if (keyed(i) && c.inode[i] !== o.inode[j]) return false;
      return true;
    },
    stateName: name,
    inode: (i) => c.inode[i] ?? 0,
    keyText(i) {
      const fam = c.family[i] === 4 ? 4 : 6;
      return `${proto(i)}${fam} ${addr(i, 0)}:${c.srcPort[i]} ${addr(i, 16)}:${c.dstPort[i]}`;
    },
    fields(i) {
      const fam = c.family[i] === 4 ? 4 : 6;
      const protocol = proto(i);
      const src = addr(i, 0);
      const dst = addr(i, 16);
      const srcPort = c.srcPort[i] ?? 0;
      const dstPort = c.dstPort[i] ?? 0;
      const state = name(i);
      const listening = protocol === 'tcp' ? state === 'LISTEN' : state === 'UNCONN';
      const sourceAddr = fam === 6 ? `[${src}]:${srcPort}` : `${src}:${srcPort}`;
      const destAddr = fam === 6 ? `[${dst}]:${dstPort}` : `${dst}:${dstPort}`;
      if (c.hasInfo[i] !== 1) {
        return {
          sourceAddr,
          destAddr,
          protocol,
          family: fam,
          uid: c.uid[i] ?? 0,
          listening,
          bytesSent: 0,
          bytesReceived: 0,
        };
      }
      return {
        sourceAddr,
        destAddr,
        protocol,
        family: fam,
        uid: c.uid[i] ?? 0,
        listening,
        bytesSent: (sent[2 * i] as number) + (sent[2 * i + 1] as number) * 0x100000000,
        bytesReceived: (received[2 * i] as number) + (received[2 * i + 1] as number) * 0x100000000,
        retransmits: c.retransmits[i] ?? 0,
        rttUs: c.rttUs[i] ?? 0,
      };
    },
    srcPort: (i) => c.srcPort[i] ?? 0,
    dstPort: (i) => c.dstPort[i] ?? 0,
    addressText: (i, end) => addr(i, end === 'src' ? 0 : 16),
    family: (i) => c.family[i] ?? 0,
  };
  return batch;
}

/** The table key of a record: protocol, family, both ends, and the inode for listening and unconnected sockets. */
export function recordKey(r: SocketRecord): string {
  const base = `${r.protocol}${r.family} ${r.srcAddr}:${r.srcPort} ${r.dstAddr}:${r.dstPort}`;
  return isListening(r) || r.dstPort === 0 ? `${base} i${r.inode}` : base;
}

/** A batch over socket records (the /proc/net and systeminformation backends). */
export function recordBatch(records: readonly SocketRecord[]): SocketBatch {
  const keys = records.map(recordKey);
  const hashes = keys.map(hashString);
  const rec = (i: number): SocketRecord => records[i] as SocketRecord;
  const batch: SocketBatch & { readonly keys: readonly string[] } = {
    keys,
    length: records.length,
    hash: (i) => hashes[i] ?? 0,
    same: (i, other, j) => keys[i] === (other as typeof batch).keys[j],
    stateName: (i) => rec(i).state,
    inode: (i) => rec(i).inode,
    keyText(i) {
      const r = rec(i);
      return `${r.protocol}${r.family} ${r.srcAddr}:${r.srcPort} ${r.dstAddr}:${r.dstPort}`;
    },
    fields(i) {
      const r = rec(i);
      return {
        sourceAddr: endpoint(r.family, r.srcAddr, r.srcPort),
        destAddr: endpoint(r.family, r.dstAddr, r.dstPort),
        protocol: r.protocol,
        family: r.family,
        ...(r.uid === undefined ? {} : { uid: r.uid }),
        listening: isListening(r),
        bytesSent: r.bytesSent ?? 0,
        bytesReceived: r.bytesReceived ?? 0,
        ...(r.retransmits === undefined ? {} : { retransmits: r.retransmits }),
        ...(r.rttUs === undefined ? {} : { rttUs: r.rttUs }),
        ...(r.pid === undefined ? {} : { pid: r.pid }),
        ...(r.processName === undefined ? {} : { processName: r.processName }),
      };
    },
    srcPort: (i) => rec(i).srcPort,
    dstPort: (i) => rec(i).dstPort,
    addressText: (i, end) => (end === 'src' ? rec(i).srcAddr : rec(i).dstAddr),
    family: (i) => rec(i).family,
  };
  return batch;
}

const UNIX_PROTOCOL: Readonly<Record<UnixDiagSocket['type'], string>> = {
  stream: 'unix_stream',
  dgram: 'unix_dgram',
  seqpacket: 'unix_seqpacket',
};

/** A batch over a Unix socket dump: keyed by inode, the peer's name resolved within the dump (as `ss` does). */
export function unixBatch(sockets: readonly UnixDiagSocket[]): SocketBatch {
  const byInode = new Map<number, UnixDiagSocket>();
  for (const s of sockets) byInode.set(s.inode, s);
  const at = (i: number): UnixDiagSocket => sockets[i] as UnixDiagSocket;
  const batch: SocketBatch & { readonly sockets: readonly UnixDiagSocket[] } = {
    sockets,
    length: sockets.length,
    hash: (i) => mix(mix(0x811c9dc5, at(i).inode), at(i).type.length) >>> 0,
    same: (i, other, j) => {
      const o = (other as typeof batch).sockets[j];
      return o !== undefined && o.inode === at(i).inode && o.type === at(i).type;
    },
    stateName: (i) => at(i).stateName,
    inode: (i) => at(i).inode,
    keyText: (i) => `${UNIX_PROTOCOL[at(i).type]} ${at(i).path ?? '*'}`,
    fields(i) {
      const s = at(i);
      const peer = s.peerInode === 0 ? undefined : byInode.get(s.peerInode);
      return {
        sourceAddr: s.path ?? '*',
        destAddr: peer?.path ?? '*',
        protocol: UNIX_PROTOCOL[s.type],
        ...(s.uid === undefined ? {} : { uid: s.uid }),
        listening: s.stateName === 'LISTEN' || (s.type === 'dgram' && s.peerInode === 0 && s.path !== undefined),
        bytesSent: 0,
        bytesReceived: 0,
        peerInode: s.peerInode,
      };
    },
    srcPort: () => 0,
    dstPort: () => 0,
    addressText: () => undefined,
    family: () => 0,
  };
  return batch;
}
