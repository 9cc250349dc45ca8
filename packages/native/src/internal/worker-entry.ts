/**
 * Shared start-up of the worker entry scripts: runs a setup function and, when it throws, posts the
 * failure as a fatal error message (keeping a NativeError's code and errno), so the host rejects its
 * open call with the real reason instead of a bare worker crash. Also the request loop of workers
 * that answer one-shot requests instead of reading a stream.
 */
import { type MessagePort, parentPort } from 'node:worker_threads';
import { isNativeError } from '../native-error.ts';
import { servePrivilegeDrop } from '../privileges.ts';
import type { ErrorMessage, HostMessage, ReplyMessage, WorkerRequest } from './worker-protocol.ts';

/** Runs `setup` with the parent port; reports a thrown error to the host as a fatal error message. */
export function runWorkerEntry(setup: (port: NonNullable<typeof parentPort>) => void): void {
  const port = parentPort;
  if (!port) return;
  servePrivilegeDrop();
  try {
    setup(port);
  } catch (e) {
    const m: ErrorMessage = {
      type: 'error',
      code: isNativeError(e) ? e.code : 'ERR_NATIVE_CALL',
      message: e instanceof Error ? e.message : String(e),
      fatal: true,
      ...(isNativeError(e) && e.errno !== undefined ? { errno: e.errno } : {}),
    };
    port.postMessage(m);
  }
}

/** A request's result whose buffers are moved to the host instead of copied. */
export class TransferReply {
  readonly value: unknown;
  readonly transfer: readonly ArrayBuffer[];
  constructor(value: unknown, transfer: readonly ArrayBuffer[]) {
    this.value = value;
    this.transfer = transfer;
  }
}

/**
 * Answers the host's requests on `port` with `handle` (synchronously, one at a time, in arrival
 * order) until the host posts `stop`; then runs `cleanup` and closes the port, which ends the
 * worker. A throwing `handle` becomes an error reply (a NativeError keeps its code and errno); a
 * {@link TransferReply} is posted with its buffers transferred.
 */
export function serveRequests(port: MessagePort, handle: (req: WorkerRequest) => unknown, cleanup: () => void): void {
  port.on('message', (m: HostMessage) => {
    if (m.type === 'stop') {
      cleanup();
      port.close();
      return;
    }
    if (m.type !== 'request') return;
    let reply: ReplyMessage;
    let transfer: readonly ArrayBuffer[] = [];
    try {
      let value = handle(m.request);
      if (value instanceof TransferReply) {
        transfer = value.transfer;
        value = value.value;
      }
      reply = { type: 'reply', id: m.id, ok: true, value };
    } catch (e) {
      reply = {
        type: 'reply',
        id: m.id,
        ok: false,
        code: isNativeError(e) ? e.code : 'ERR_NATIVE_CALL',
        message: e instanceof Error ? e.message : String(e),
        ...(isNativeError(e) && e.errno !== undefined ? { errno: e.errno } : {}),
      };
    }
    port.postMessage(reply, transfer.length > 0 ? [...transfer] : undefined);
  });
}
