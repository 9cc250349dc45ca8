/**
 * Worker-thread entry for one-shot kernel requests that would otherwise block the main thread:
 * netlink requests (audit status, rules and configuration), sock_diag dumps on a socket the worker
 * opens at start (`workerData.sockDiag`), and the proc connector probe. Each request runs
 * synchronously here and its result (or NativeError) is posted back; on stop the socket is closed.
 * Inet dumps are received into one reusable buffer and decoded in place into columns whose buffers
 * are transferred to the host, not cloned. Loaded as a worker script, never imported.
 */
import { workerData } from 'node:worker_threads';
import { NativeError } from '../native-error.ts';
import type { UnixDiagSocket } from '../sock-diag.ts';
import { Errno, Netlink, Sock, SockDiag } from './constants.ts';
import { columnBuffers, InetColumnsBuilder, readDumpDatagram } from './inet-diag-columns-codec.ts';
import { callError, libc } from './libc.ts';
import { netlinkRequest, openNetlinkSocket, receiveBufferSize } from './netlink.ts';
import { closeProcConnectorSocket, openProcConnectorSocket } from './proc-connector-socket.ts';
import { encodeInetDiagRequest, encodeTcpDiagCompatRequest } from './sock-diag-codec.ts';
import { encodeNlMsg } from './structs.ts';
import { decodeUnixDiagMessage, encodeUnixDiagRequest } from './unix-diag-codec.ts';
import { runWorkerEntry, serveRequests, TransferReply } from './worker-entry.ts';
import type { WorkerMessage, WorkerRequest } from './worker-protocol.ts';

const data = (workerData ?? {}) as { sockDiag?: boolean };

/** The kernel fills at most 32 KiB per dump datagram; twice that never truncates one. */
const RECEIVE_BYTES = 64 * 1024;
const REPLY_TIMEOUT_MS = 2000;
let receiveBuffer: Buffer | undefined;
let nextSeq = 1;

/**
 * Sends one SOCK_DIAG_BY_FAMILY dump request on `fd` and hands every reply message of it to
 * `onMessage(buffer, start, end)` until NLMSG_DONE. Receives without waiting while the kernel has
 * the next datagram ready (it builds one per receive), and polls only when it has not.
 */
function runDump(
  fd: number,
  payload: Buffer,
  onMessage: (buf: Buffer, start: number, end: number) => void,
  type: number = SockDiag.SOCK_DIAG_BY_FAMILY,
): void {
  const c = libc();
  const seq = nextSeq++;
  const msg = encodeNlMsg({ type, flags: Netlink.NLM_F_REQUEST | Netlink.NLM_F_DUMP, seq }, payload);
  const sent = c.send(fd, msg, 0);
  if (sent < 0) throw callError('send(sock_diag dump)', sent);
  receiveBuffer ??= Buffer.allocUnsafe(RECEIVE_BYTES);
  const buf = receiveBuffer;
  const each = (start: number, end: number): void => onMessage(buf, start, end);
  for (;;) {
    const n = c.recv(fd, buf, Sock.MSG_DONTWAIT);
    if (n === -Errno.EAGAIN || n === -Errno.EINTR) {
      const ready = c.pollIn(fd, REPLY_TIMEOUT_MS);
      if (ready === 0)
        throw new NativeError('ERR_NETLINK_PROTOCOL', `no sock_diag reply within ${REPLY_TIMEOUT_MS} ms`);
      if (ready < 0 && ready !== -Errno.EINTR) throw callError('poll(sock_diag)', ready);
      continue;
    }
    if (n < 0) throw callError('recv(sock_diag dump)', n);
    if (readDumpDatagram(buf, n, seq, type, each) === 'done') return;
  }
}

/** Rows of the previous inet dump: the next one is sized for it, so its columns rarely grow. */
let lastRows = 0;

/** False once the kernel refused a TCPDIAG_GETSOCK dump: TCP is then dumped per family. */
let tcpBothFamilies = true;

function dumpColumns(fd: number, req: Extract<WorkerRequest, { kind: 'sock-diag-columns' }>): TransferReply {
  const builder = new InetColumnsBuilder(Math.ceil(lastRows * 1.1) + 64);
  const into =
    (protocol: number) =>
    (buf: Buffer, start: number, end: number): void => {
      if (!builder.push(buf, start, end, protocol))
        throw new NativeError('ERR_NETLINK_PROTOCOL', `sock_diag: truncated inet_diag_msg (${end - start} bytes)`);
    };
  let queries = req.queries;
  // TCP of both families in one walk of the kernel's tables, where the kernel still takes the old request.
  const tcp = queries.filter((q) => q.protocol === 'tcp');
  if (tcpBothFamilies && tcp.some((q) => q.family === 4) && tcp.some((q) => q.family === 6)) {
    const payload = encodeTcpDiagCompatRequest({ withInfo: req.withInfo, states: req.states });
    const before = builder.length;
    try {
      runDump(fd, payload, into(Sock.IPPROTO_TCP), SockDiag.TCPDIAG_GETSOCK);
      queries = queries.filter((q) => q.protocol !== 'tcp');
    } catch (e) {
      // A kernel without it answers EINVAL or ENOENT at once, before any row: dump per family instead.
      const refused: number[] = [Errno.EINVAL, Errno.ENOENT, Errno.EOPNOTSUPP];
      if (!(e instanceof NativeError) || builder.length !== before || !refused.includes(e.errno ?? 0)) throw e;
      tcpBothFamilies = false;
    }
  }
  for (const q of queries) {
    const protocol = q.protocol === 'tcp' ? Sock.IPPROTO_TCP : Sock.IPPROTO_UDP;
    const payload = encodeInetDiagRequest({
      family: q.family,
      protocol: q.protocol,
      withInfo: req.withInfo && q.protocol === 'tcp',
      states: req.states,
    });
    runDump(fd, payload, into(protocol));
  }
  const columns = builder.finish();
  lastRows = columns.length;
  return new TransferReply(columns, columnBuffers(columns));
}

function dumpUnix(fd: number, req: Extract<WorkerRequest, { kind: 'sock-diag-unix' }>): UnixDiagSocket[] {
  const out: UnixDiagSocket[] = [];
  runDump(fd, encodeUnixDiagRequest(req.states), (buf, start, end) => {
    const s = decodeUnixDiagMessage(buf.subarray(start, end));
    if (!s) throw new NativeError('ERR_NETLINK_PROTOCOL', `sock_diag: truncated unix_diag_msg (${end - start} bytes)`);
    out.push(s);
  });
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
      if (req.kind === 'sock-diag-columns' || req.kind === 'sock-diag-unix') {
        if (fd < 0) throw new NativeError('ERR_NATIVE_CALL', 'this worker has no sock_diag socket');
        return req.kind === 'sock-diag-columns' ? dumpColumns(fd, req) : dumpUnix(fd, req);
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
