/**
 * Socket inventory through NETLINK_SOCK_DIAG: a synchronous dump of every TCP or UDP socket of one
 * address family in the caller's network namespace, far cheaper than parsing /proc/net/tcp or
 * spawning `ss`. Works unprivileged. It lists sockets; mapping inodes to processes is the caller's
 * job (via /proc/PID/fd).
 */
import { Netlink, SockDiag } from './internal/constants.ts';
import { netlinkRequest } from './internal/netlink.ts';
import { decodeInetDiagMessage, encodeInetDiagRequest } from './internal/sock-diag-codec.ts';
import { NativeError } from './native-error.ts';

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
}

/**
 * Dumps every socket of `family`/`protocol` (all states), reading multi-part replies to the end.
 * `withInfo` asks for tcp_info to fill the byte counters (TCP only). Throws NativeError:
 * `ERR_NATIVE_UNAVAILABLE` off Linux or without sock_diag, `ERR_NATIVE_CALL` for a netlink error
 * (with errno), `ERR_NETLINK_PROTOCOL` for a malformed or missing reply.
 */
export function sockDiagDump(opts: { family: 4 | 6; protocol: 'tcp' | 'udp'; withInfo?: boolean }): InetDiagSocket[] {
  if (opts.family !== 4 && opts.family !== 6) throw new RangeError(`family must be 4 or 6, got ${String(opts.family)}`);
  if (opts.protocol !== 'tcp' && opts.protocol !== 'udp')
    throw new RangeError(`protocol must be 'tcp' or 'udp', got ${String(opts.protocol)}`);
  const replies = netlinkRequest({
    protocol: Netlink.NETLINK_SOCK_DIAG,
    type: SockDiag.SOCK_DIAG_BY_FAMILY,
    flags: Netlink.NLM_F_DUMP,
    payload: encodeInetDiagRequest({ family: opts.family, protocol: opts.protocol, withInfo: opts.withInfo === true }),
    until: 'done',
  });
  const out: InetDiagSocket[] = [];
  for (const m of replies) {
    if (m.type !== SockDiag.SOCK_DIAG_BY_FAMILY) continue;
    const s = decodeInetDiagMessage(m.payload, opts.protocol);
    if (!s)
      throw new NativeError('ERR_NETLINK_PROTOCOL', `sock_diag: truncated inet_diag_msg (${m.payload.length} bytes)`);
    out.push(s);
  }
  return out;
}
