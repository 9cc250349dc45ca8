/**
 * Opening a subscribed proc connector socket: NETLINK_CONNECTOR bound to CN_IDX_PROC, receive buffer
 * sized, PROC_CN_MCAST_LISTEN sent and the kernel's acknowledgement checked. Used by the reader's
 * worker and by the availability probe; reading events afterwards is not its concern.
 */

import { isNativeError, NativeError } from '../native-error.ts';
import {
  decodeProcConnectorDatagram,
  encodeProcConnectorControl,
  type ProcConnectorAck,
  type ProcConnectorEvent,
} from '../proc-event.ts';
import { Errno, Netlink, ProcCn, Sock } from './constants.ts';
import { errnoName, libc } from './libc.ts';
import { openNetlinkSocket } from './netlink.ts';

/** A subscribed socket and the events that arrived before the acknowledgement. */
export interface ProcConnectorSocket {
  readonly fd: number;
  readonly early: ProcConnectorEvent[];
}

function waitForAck(fd: number, timeoutMs: number, early: ProcConnectorEvent[]): number | undefined {
  const c = libc();
  const buf = Buffer.alloc(65536);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (c.pollIn(fd, Math.max(1, Math.min(100, deadline - Date.now()))) <= 0) continue;
    const n = c.recv(fd, buf, Sock.MSG_DONTWAIT);
    if (n < 0) continue;
    const items: (ProcConnectorEvent | ProcConnectorAck)[] = [];
    decodeProcConnectorDatagram(buf, n, items);
    for (const it of items) {
      if (it.type === 'ack') return it.err;
      early.push(it);
    }
  }
  return undefined;
}

/**
 * Opens and subscribes. Throws NativeError `ERR_NATIVE_UNAVAILABLE` when the kernel refuses (EPERM,
 * no CAP_NET_ADMIN), when no acknowledgement comes (another pid/user namespace) or the protocol is
 * missing, and `ERR_NATIVE_CALL` for other failures.
 */
export function openProcConnectorSocket(opts: {
  receiveBufferBytes?: number;
  ackTimeoutMs: number;
}): ProcConnectorSocket {
  const c = libc();
  let fd: number;
  try {
    fd = openNetlinkSocket(Netlink.NETLINK_CONNECTOR, {
      groups: ProcCn.CN_IDX_PROC,
      ...(opts.receiveBufferBytes === undefined ? {} : { receiveBufferBytes: opts.receiveBufferBytes }),
    });
  } catch (e) {
    if (isNativeError(e) && (e.errno === Errno.EPERM || e.errno === Errno.EACCES)) {
      throw new NativeError('ERR_NATIVE_UNAVAILABLE', `proc connector: ${e.message} (needs CAP_NET_ADMIN)`, {
        errno: e.errno,
      });
    }
    throw e;
  }
  const fail = (message: string, errno?: number): never => {
    c.close(fd);
    throw new NativeError('ERR_NATIVE_UNAVAILABLE', message, errno === undefined ? {} : { errno });
  };
  const sent = c.send(fd, encodeProcConnectorControl('listen', process.pid), 0);
  if (sent < 0) fail(`proc connector subscribe failed: ${errnoName(-sent)}`, -sent);
  const early: ProcConnectorEvent[] = [];
  const ack = waitForAck(fd, opts.ackTimeoutMs, early);
  if (ack === undefined)
    fail('proc connector did not acknowledge the subscription (not in the initial pid/user namespace?)');
  if (ack !== 0 && ack !== undefined)
    fail(`proc connector refused the subscription: ${errnoName(ack)} (needs CAP_NET_ADMIN)`, ack);
  return { fd, early };
}

/** Unsubscribes (PROC_CN_MCAST_IGNORE) and closes; never throws. */
export function closeProcConnectorSocket(fd: number): void {
  const c = libc();
  c.send(fd, encodeProcConnectorControl('ignore', process.pid), 0);
  c.close(fd);
}
