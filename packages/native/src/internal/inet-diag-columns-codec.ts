/**
 * Decoding sock_diag inet dump replies straight from the receive buffer into columns (one typed
 * array per field, addresses as raw bytes), without a copy or an object per socket: the fast path of
 * the inet dumps. Pure: it is handed datagrams and makes no system call, so it is tested against
 * recorded kernel bytes. The columns' buffers are meant to be transferred, not cloned.
 */
import { NativeError } from '../native-error.ts';
import type { InetDiagColumns } from '../sock-diag-columns.ts';
import { Netlink, Sock, SockDiag } from './constants.ts';
import { callError } from './libc.ts';
import { InetDiagMsg, NlMsgHdr, RtAttr, TcpInfo } from './structs.ts';

const INITIAL_CAPACITY = 1024;

/** Grows columns as rows arrive; {@link finish} hands them out trimmed to the row count. */
export class InetColumnsBuilder {
  length = 0;
  #capacity = 0;
  family = new Uint8Array(0);
  protocol = new Uint8Array(0);
  state = new Uint8Array(0);
  srcPort = new Uint16Array(0);
  dstPort = new Uint16Array(0);
  uid = new Uint32Array(0);
  inode = new Uint32Array(0);
  addresses = new Uint8Array(0);
  hasInfo = new Uint8Array(0);
  /** Two u32 halves (low, high) per u64 counter: written without making a BigInt. */
  sent32 = new Uint32Array(0);
  received32 = new Uint32Array(0);
  retransmits = new Uint32Array(0);
  rttUs = new Uint32Array(0);

  constructor(capacity = INITIAL_CAPACITY) {
    this.#grow(Math.max(1, capacity));
  }

  #grow(capacity: number): void {
    const n = this.length;
    const re = <T extends Uint8Array | Uint16Array | Uint32Array>(old: T, make: (size: number) => T, per = 1): T => {
      const a = make(capacity * per);
      a.set(old.subarray(0, n * per));
      return a;
    };
    this.family = re(this.family, (s) => new Uint8Array(s));
    this.protocol = re(this.protocol, (s) => new Uint8Array(s));
    this.state = re(this.state, (s) => new Uint8Array(s));
    this.srcPort = re(this.srcPort, (s) => new Uint16Array(s));
    this.dstPort = re(this.dstPort, (s) => new Uint16Array(s));
    this.uid = re(this.uid, (s) => new Uint32Array(s));
    this.inode = re(this.inode, (s) => new Uint32Array(s));
    this.addresses = re(this.addresses, (s) => new Uint8Array(s), 32);
    this.hasInfo = re(this.hasInfo, (s) => new Uint8Array(s));
    this.sent32 = re(this.sent32, (s) => new Uint32Array(s), 2);
    this.received32 = re(this.received32, (s) => new Uint32Array(s), 2);
    this.retransmits = re(this.retransmits, (s) => new Uint32Array(s));
    this.rttUs = re(this.rttUs, (s) => new Uint32Array(s));
    this.#capacity = capacity;
  }

  /**
   * Appends the inet_diag_msg whose payload spans `buf[p, end)`; `protocol` is the IP protocol number
   * the dump asked for. Returns false for a payload too short to be one.
   */
  push(buf: Uint8Array, p: number, end: number, protocol: number): boolean {
    if (end - p < InetDiagMsg.SIZE) return false;
    if (this.length === this.#capacity) this.#grow(this.#capacity * 2);
    const i = this.length;
    const fam = buf[p + InetDiagMsg.FAMILY] as number;
    this.family[i] = fam === Sock.AF_INET ? 4 : 6;
    this.protocol[i] = protocol;
    this.state[i] = buf[p + InetDiagMsg.STATE] as number;
    this.srcPort[i] = ((buf[p + InetDiagMsg.SPORT] as number) << 8) | (buf[p + InetDiagMsg.SPORT + 1] as number);
    this.dstPort[i] = ((buf[p + InetDiagMsg.DPORT] as number) << 8) | (buf[p + InetDiagMsg.DPORT + 1] as number);
    this.uid[i] = u32(buf, p + InetDiagMsg.UID);
    this.inode[i] = u32(buf, p + InetDiagMsg.INODE);
    const a = i * 32;
    const addrs = this.addresses;
    // A builder's arrays start zeroed and each row is written once: an IPv4 row copies 4 bytes per address.
    const width = fam === Sock.AF_INET ? 4 : 16;
    for (let k = 0; k < width; k++) {
      addrs[a + k] = buf[p + InetDiagMsg.SRC + k] as number;
      addrs[a + 16 + k] = buf[p + InetDiagMsg.DST + k] as number;
    }
    let off = p + InetDiagMsg.SIZE;
    while (off + RtAttr.SIZE <= end) {
      const len = u16(buf, off + RtAttr.LEN);
      if (len < RtAttr.SIZE || off + len > end) break;
      if (u16(buf, off + RtAttr.TYPE) === SockDiag.INET_DIAG_INFO) {
        const info = off + RtAttr.SIZE;
        const size = len - RtAttr.SIZE;
        if (size >= TcpInfo.BYTES_RECEIVED + 8) {
          const sentAt = info + (size >= TcpInfo.BYTES_SENT + 8 ? TcpInfo.BYTES_SENT : TcpInfo.BYTES_ACKED);
          this.hasInfo[i] = 1;
          this.sent32[2 * i] = u32(buf, sentAt);
          this.sent32[2 * i + 1] = u32(buf, sentAt + 4);
          this.received32[2 * i] = u32(buf, info + TcpInfo.BYTES_RECEIVED);
          this.received32[2 * i + 1] = u32(buf, info + TcpInfo.BYTES_RECEIVED + 4);
          this.retransmits[i] = u32(buf, info + TcpInfo.TOTAL_RETRANS);
          this.rttUs[i] = u32(buf, info + TcpInfo.RTT);
        }
        break;
      }
      off += (len + 3) & ~3;
    }
    this.length = i + 1;
    return true;
  }

  /** The columns trimmed to the rows pushed (views: transfer their buffers, do not reuse the builder). */
  finish(): InetDiagColumns {
    const n = this.length;
    return {
      length: n,
      family: this.family.subarray(0, n),
      protocol: this.protocol.subarray(0, n),
      state: this.state.subarray(0, n),
      srcPort: this.srcPort.subarray(0, n),
      dstPort: this.dstPort.subarray(0, n),
      uid: this.uid.subarray(0, n),
      inode: this.inode.subarray(0, n),
      addresses: this.addresses.subarray(0, n * 32),
      hasInfo: this.hasInfo.subarray(0, n),
      bytesSent: new BigUint64Array(this.sent32.buffer, 0, n),
      bytesReceived: new BigUint64Array(this.received32.buffer, 0, n),
      retransmits: this.retransmits.subarray(0, n),
      rttUs: this.rttUs.subarray(0, n),
    };
  }
}

/** The ArrayBuffers behind a set of columns, for a postMessage transfer list. */
export function columnBuffers(c: InetDiagColumns): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const a of [
    c.family,
    c.protocol,
    c.state,
    c.srcPort,
    c.dstPort,
    c.uid,
    c.inode,
    c.addresses,
    c.hasInfo,
    c.bytesSent,
    c.bytesReceived,
    c.retransmits,
    c.rttUs,
  ])
    out.add(a.buffer as ArrayBuffer);
  return [...out];
}

function u16(b: Uint8Array, o: number): number {
  return (b[o] as number) | ((b[o + 1] as number) << 8);
}
function u32(b: Uint8Array, o: number): number {
  return (
    ((b[o] as number) | ((b[o + 1] as number) << 8) | ((b[o + 2] as number) << 16)) + (b[o + 3] as number) * 0x1000000
  );
}

/** What one datagram of a dump said. */
export type DatagramOutcome = 'more' | 'done';

/**
 * Feeds the messages of one received datagram `buf[0, n)` of the dump with sequence number `seq` to
 * `onMessage(payloadStart, payloadEnd)`; messages of other sequence numbers (replies to abandoned
 * requests) are skipped. Returns `done` at NLMSG_DONE. Throws NativeError `ERR_NATIVE_CALL` for a
 * netlink error reply (with its errno) and `ERR_NETLINK_PROTOCOL` for a truncated one.
 */
export function readDumpDatagram(
  buf: Uint8Array,
  n: number,
  seq: number,
  type: number,
  onMessage: (start: number, end: number) => void,
): DatagramOutcome {
  let off = 0;
  while (off + NlMsgHdr.SIZE <= n) {
    const len = u32(buf, off + NlMsgHdr.LEN);
    if (len < NlMsgHdr.SIZE || off + len > n) break;
    const msgType = u16(buf, off + NlMsgHdr.TYPE);
    if (u32(buf, off + NlMsgHdr.SEQ) === seq) {
      if (msgType === Netlink.NLMSG_DONE) return 'done';
      if (msgType === Netlink.NLMSG_ERROR) {
        if (len < NlMsgHdr.SIZE + 4) throw new NativeError('ERR_NETLINK_PROTOCOL', 'truncated netlink error message');
        const err = u32(buf, off + NlMsgHdr.SIZE) | 0;
        if (err !== 0) throw callError('sock_diag dump', err);
      } else if (msgType === type) {
        onMessage(off + NlMsgHdr.SIZE, off + len);
      }
    }
    off += (len + 3) & ~3;
  }
  return 'more';
}
