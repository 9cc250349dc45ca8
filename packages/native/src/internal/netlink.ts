/**
 * Netlink plumbing shared by the readers and the request workers: opening and binding a netlink
 * socket, sizing its receive buffer, splitting a datagram into messages (pure), and a synchronous
 * request that collects replies until the kernel acknowledges or ends a dump (run in worker threads
 * only: it blocks while it waits). It knows nothing about any one protocol's payloads.
 */

import { NativeError } from '../native-error.ts';
import { Errno, Netlink, Sock } from './constants.ts';
import { callError, libc } from './libc.ts';
import { encodeNlMsg, encodeSockaddrNl, NlMsgHdr, nlmsgAlign } from './structs.ts';

/** One netlink message split out of a datagram; `payload` is a view into the datagram buffer. */
export interface NlMessage {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
  readonly payload: Buffer;
}

/**
 * Splits `buf[0..n)` into netlink messages. Stops at a truncated or zero-length header rather than
 * looping; never throws.
 */
export function splitNlMessages(buf: Buffer, n: number = buf.length): NlMessage[] {
  const out: NlMessage[] = [];
  let off = 0;
  while (off + NlMsgHdr.SIZE <= n) {
    const len = buf.readUInt32LE(off + NlMsgHdr.LEN);
    if (len < NlMsgHdr.SIZE || off + len > n) break;
    out.push({
      type: buf.readUInt16LE(off + NlMsgHdr.TYPE),
      flags: buf.readUInt16LE(off + NlMsgHdr.FLAGS),
      seq: buf.readUInt32LE(off + NlMsgHdr.SEQ),
      pid: buf.readUInt32LE(off + NlMsgHdr.PID),
      payload: buf.subarray(off + NlMsgHdr.SIZE, off + len),
    });
    off += nlmsgAlign(len);
  }
  return out;
}

/** Options for {@link openNetlinkSocket}. */
export interface NetlinkSocketOptions {
  /** Multicast group bitmask to bind to (0 for none). */
  readonly groups?: number;
  /** Receive buffer to request; see {@link setReceiveBuffer}. */
  readonly receiveBufferBytes?: number;
}

/** Opens and binds a netlink socket of `protocol`; throws NativeError with the errno on failure. */
export function openNetlinkSocket(protocol: number, options: NetlinkSocketOptions = {}): number {
  const c = libc();
  const fd = c.socket(Sock.AF_NETLINK, Sock.SOCK_RAW | Sock.SOCK_CLOEXEC, protocol);
  if (fd < 0) {
    const code =
      fd === -Errno.EPROTONOSUPPORT || fd === -Errno.EAFNOSUPPORT ? 'ERR_NATIVE_UNAVAILABLE' : 'ERR_NATIVE_CALL';
    const err = callError(`socket(AF_NETLINK, ${protocol})`, fd);
    throw code === 'ERR_NATIVE_CALL' ? err : new NativeError(code, err.message, { errno: -fd });
  }
  try {
    if (options.receiveBufferBytes !== undefined) setReceiveBuffer(fd, options.receiveBufferBytes);
    const rc = c.bind(fd, encodeSockaddrNl(options.groups ?? 0));
    if (rc < 0) throw callError(`bind(netlink ${protocol}, groups ${options.groups ?? 0})`, rc);
    return fd;
  } catch (e) {
    c.close(fd);
    throw e;
  }
}

/**
 * Sets the receive buffer to `bytes`: SO_RCVBUFFORCE (needs CAP_NET_ADMIN, ignores rmem_max), falling
 * back to SO_RCVBUF (capped by net.core.rmem_max). Returns the size in effect, as the kernel reports
 * it halved (the kernel doubles the requested value for its own bookkeeping).
 */
export function setReceiveBuffer(fd: number, bytes: number): number {
  const c = libc();
  if (c.setsockoptInt(fd, Sock.SOL_SOCKET, Sock.SO_RCVBUFFORCE, bytes) < 0) {
    c.setsockoptInt(fd, Sock.SOL_SOCKET, Sock.SO_RCVBUF, bytes);
  }
  return receiveBufferSize(fd);
}

/** The receive buffer size in effect (the kernel's value halved), or 0 when it cannot be read. */
export function receiveBufferSize(fd: number): number {
  const v = libc().getsockoptInt(fd, Sock.SOL_SOCKET, Sock.SO_RCVBUF);
  return v < 0 ? 0 : Math.floor(v / 2);
}

/** A request for {@link netlinkRequest}. */
export interface NetlinkRequest {
  readonly protocol: number;
  readonly type: number;
  readonly payload: Buffer;
  /**
   * What ends the exchange: `ack` (NLM_F_ACK is set; return at the acknowledgement), `done` (a dump or
   * multi-part reply, read until NLMSG_DONE) or `reply` (return at the first reply message).
   */
  readonly until: 'ack' | 'done' | 'reply';
  /** Extra header flags (e.g. NLM_F_DUMP); NLM_F_REQUEST is always set. */
  readonly flags?: number;
  /** How long to wait for each reply datagram before failing (default 2000 ms). */
  readonly timeoutMs?: number;
}

let nextSeq = 1;

/**
 * Sends one request on a fresh socket and returns the reply messages (without the final ack or
 * NLMSG_DONE). A negative NLMSG_ERROR becomes NativeError `ERR_NATIVE_CALL` with the errno; a
 * timeout becomes `ERR_NETLINK_PROTOCOL`. Blocks the calling thread while it waits (up to
 * `timeoutMs` per reply datagram): the package calls it in worker threads only.
 */
export function netlinkRequest(req: NetlinkRequest): NlMessage[] {
  const fd = openNetlinkSocket(req.protocol);
  try {
    return netlinkRequestOn(fd, req);
  } finally {
    libc().close(fd);
  }
}

/**
 * Like {@link netlinkRequest}, on an open netlink socket of `req.protocol` that the caller keeps
 * (replies to earlier, abandoned requests are skipped by sequence number). Blocks the calling
 * thread while it waits: call it in a worker thread.
 */
export function netlinkRequestOn(fd: number, req: NetlinkRequest): NlMessage[] {
  const seq = nextSeq++;
  const flags = (req.flags ?? 0) | Netlink.NLM_F_REQUEST | (req.until === 'ack' ? Netlink.NLM_F_ACK : 0);
  const msg = encodeNlMsg({ type: req.type, flags, seq }, req.payload);
  const sent = libc().send(fd, msg, 0);
  if (sent < 0) throw callError(`send(netlink type ${req.type})`, sent);
  return collectReplies(fd, seq, req);
}

function collectReplies(fd: number, seq: number, req: NetlinkRequest): NlMessage[] {
  const c = libc();
  const timeoutMs = req.timeoutMs ?? 2000;
  const buf = Buffer.alloc(256 * 1024);
  const out: NlMessage[] = [];
  for (;;) {
    const ready = c.pollIn(fd, timeoutMs);
    if (ready === 0)
      throw new NativeError('ERR_NETLINK_PROTOCOL', `no netlink reply to type ${req.type} within ${timeoutMs} ms`);
    if (ready < 0 && ready !== -Errno.EINTR) throw callError('poll(netlink)', ready);
    const n = c.recv(fd, buf, Sock.MSG_DONTWAIT);
    if (n === -Errno.EAGAIN || n === -Errno.EINTR) continue;
    if (n < 0) throw callError(`recv(netlink reply to type ${req.type})`, n);
    for (const m of splitNlMessages(buf, n)) {
      if (m.seq !== seq) continue;
      if (m.type === Netlink.NLMSG_DONE) return out;
      if (m.type === Netlink.NLMSG_ERROR) {
        if (m.payload.length < 4) throw new NativeError('ERR_NETLINK_PROTOCOL', 'truncated netlink error message');
        const err = m.payload.readInt32LE(0);
        if (err !== 0) throw callError(`netlink request type ${req.type}`, err);
        if (req.until === 'ack') return out;
        continue;
      }
      // copy out of the shared receive buffer before the next recv overwrites it
      out.push({ ...m, payload: Buffer.from(m.payload) });
      if (req.until === 'reply') return out;
    }
  }
}
