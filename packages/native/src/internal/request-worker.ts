/**
 * Worker-thread entry for one-shot kernel requests that would otherwise block the main thread:
 * netlink requests (audit status, rules and configuration), sock_diag dumps on a socket the worker
 * opens at start (`workerData.sockDiag`), and the proc connector probe. Each request runs
 * synchronously here and its result (or NativeError) is posted back; on stop the socket is closed.
 * Loaded as a worker script, never imported.
 */
import { workerData } from 'node:worker_threads';
import { NativeError } from '../native-error.ts';
import type { InetDiagSocket } from '../sock-diag.ts';
import { Netlink, SockDiag } from './constants.ts';
import { libc } from './libc.ts';
import { netlinkRequest, netlinkRequestOn, openNetlinkSocket, receiveBufferSize } from './netlink.ts';
import { closeProcConnectorSocket, openProcConnectorSocket } from './proc-connector-socket.ts';
import { decodeInetDiagMessage, encodeInetDiagRequest } from './sock-diag-codec.ts';
import { runWorkerEntry, serveRequests } from './worker-entry.ts';
import type { WorkerMessage, WorkerRequest } from './worker-protocol.ts';

const data = (workerData ?? {}) as { sockDiag?: boolean };

function dump(fd: number, req: Extract<WorkerRequest, { kind: 'sock-diag-dump' }>): InetDiagSocket[] {
  const replies = netlinkRequestOn(fd, {
    protocol: Netlink.NETLINK_SOCK_DIAG,
    type: SockDiag.SOCK_DIAG_BY_FAMILY,
    flags: Netlink.NLM_F_DUMP,
    payload: encodeInetDiagRequest(req),
    until: 'done',
  });
  const out: InetDiagSocket[] = [];
  for (const m of replies) {
    if (m.type !== SockDiag.SOCK_DIAG_BY_FAMILY) continue;
    const s = decodeInetDiagMessage(m.payload, req.protocol);
    if (!s)
      throw new NativeError('ERR_NETLINK_PROTOCOL', `sock_diag: truncated inet_diag_msg (${m.payload.length} bytes)`);
    out.push(s);
  }
  return out;
}

runWorkerEntry((port) => {
  const fd = data.sockDiag === true ? openNetlinkSocket(Netlink.NETLINK_SOCK_DIAG) : -1;
  port.postMessage({
    type: 'ready',
    fd,
    receiveBufferBytes: fd >= 0 ? receiveBufferSize(fd) : 0,
  } satisfies WorkerMessage<never>);
  serveRequests(
    port,
    (req) => {
      if (req.kind === 'netlink') {
        const { protocol, type, until, flags } = req;
        const payload = Buffer.from(req.payload.buffer, req.payload.byteOffset, req.payload.byteLength);
        return netlinkRequest({ protocol, type, payload, until, ...(flags === undefined ? {} : { flags }) });
      }
      if (req.kind === 'sock-diag-dump') {
        if (fd < 0) throw new NativeError('ERR_NATIVE_CALL', 'this worker has no sock_diag socket');
        return dump(fd, req);
      }
      const sock = openProcConnectorSocket({ ackTimeoutMs: 500 });
      closeProcConnectorSocket(sock.fd);
      return true;
    },
    () => {
      if (fd >= 0) libc().close(fd);
    },
  );
});
