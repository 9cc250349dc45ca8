/**
 * `SocketRecord`: one inet socket as every backend of the network source reports it (sock_diag,
 * /proc/net parsing, systeminformation), in a shape independent of where it came from. Counters are
 * plain numbers (a 2^53 byte counter is ~9 PB). This module only declares the shape and the TCP
 * state names; it reads nothing.
 */
import { TCP_STATE_NAMES } from '@daemoneye/native';

/** The transport protocol of a socket. */
export type SocketProtocol = 'tcp' | 'udp';

/** One socket. */
export interface SocketRecord {
  readonly family: 4 | 6;
  readonly protocol: SocketProtocol;
  /** `ESTABLISHED`, `LISTEN`, ...; unconnected UDP sockets are `UNCONN`, as `ss` names them. */
  readonly state: string;
  readonly srcAddr: string;
  readonly srcPort: number;
  readonly dstAddr: string;
  readonly dstPort: number;
  /** Owner uid, when the backend knows it. */
  readonly uid?: number;
  /** Socket inode; 0 for TIME_WAIT entries (and unknown off Linux). */
  readonly inode: number;
  /** tcp_info counters: only the sock_diag backend has them. */
  readonly bytesSent?: number;
  readonly bytesReceived?: number;
  readonly retransmits?: number;
  readonly rttUs?: number;
  /** The owning process, when the backend reports it itself (systeminformation). */
  readonly pid?: number;
  readonly processName?: string;
}

/** TCP states by kernel number (include/net/tcp_states.h), as `@daemoneye/native` names them. */
export { TCP_STATE_NAMES };

/** The name of kernel state `n` for `protocol`: UDP's TCP_CLOSE (7) is `UNCONN`. */
export function stateName(protocol: SocketProtocol, n: number): string {
  if (protocol === 'udp' && n === 7) return 'UNCONN';
  return TCP_STATE_NAMES[n] ?? `UNKNOWN(${n})`;
}

/** True for a listening TCP socket or a bound, unconnected UDP socket. */
export function isListening(s: Pick<SocketRecord, 'protocol' | 'state'>): boolean {
  return s.protocol === 'tcp' ? s.state === 'LISTEN' : s.state === 'UNCONN';
}

/** `ip:port`, with the address bracketed for IPv6 (`[::1]:80`). */
export function endpoint(family: 4 | 6, addr: string, port: number): string {
  return family === 6 ? `[${addr}]:${port}` : `${addr}:${port}`;
}
