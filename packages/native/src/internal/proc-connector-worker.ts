/**
 * Worker-thread entry for the proc connector reader: opens and subscribes the socket, reports ready
 * with the events that came before the acknowledgement, then runs the shared reader loop. With
 * `captureOnExec` it reads the chosen /proc files of each exec'd process right after decoding its
 * event, before a short-lived process can vanish. On stop it unsubscribes and closes the socket.
 * Loaded as a worker script, never imported.
 */
import { workerData } from 'node:worker_threads';
import { decodeProcConnectorDatagram, type ProcConnectorAck, type ProcConnectorEvent } from '../proc-event.ts';
import { createProcfsReader, type ProcfsReader } from '../procfs.ts';
import { receiveBufferSize } from './netlink.ts';
import { closeProcConnectorSocket, openProcConnectorSocket } from './proc-connector-socket.ts';
import { runReaderLoop } from './reader-loop.ts';
import { runWorkerEntry } from './worker-entry.ts';
import type { WorkerMessage } from './worker-protocol.ts';

interface CaptureSettings {
  readonly files: readonly string[];
  readonly links: readonly string[];
  /** Execs captured per turn of the reader loop at most. */
  readonly max: number;
}

const { receiveBufferBytes, capture } = workerData as { receiveBufferBytes: number; capture?: CaptureSettings };

/**
 * Adds `captured` to the exec events of process leaders in `items[from..]`, at most `budget` of
 * them: the named /proc files and links, read right away, before the process can exit and vanish.
 * Returns how many were captured.
 */
function captureExecs(
  proc: ProcfsReader,
  settings: CaptureSettings,
  items: ProcConnectorEvent[],
  from: number,
  budget: number,
): number {
  let used = 0;
  for (let i = from; i < items.length && used < budget; i++) {
    const ev = items[i];
    if (ev?.type !== 'exec' || ev.pid !== ev.tgid) continue;
    used++;
    const dir = `/proc/${ev.pid}/`;
    const captured: Record<string, string | number> = {};
    // Links first: a readlink is one system call, and the executable matters most.
    for (const name of settings.links) captured[name] = proc.readLink(dir + name);
    for (const name of settings.files) captured[name] = proc.readWhole(dir + name);
    items[i] = { ...ev, captured, capturedAtNs: process.hrtime.bigint() };
  }
  return used;
}

runWorkerEntry((port) => {
  const { fd, early } = openProcConnectorSocket({ receiveBufferBytes, ackTimeoutMs: 1000 });
  port.postMessage({
    type: 'ready',
    fd,
    receiveBufferBytes: receiveBufferSize(fd),
  } satisfies WorkerMessage<ProcConnectorEvent>);
  const wanted = capture !== undefined && capture.files.length + capture.links.length > 0 ? capture : undefined;
  const proc = wanted === undefined ? undefined : createProcfsReader();
  let left = wanted?.max ?? 0;
  if (early.length > 0) port.postMessage({ type: 'batch', items: early } satisfies WorkerMessage<ProcConnectorEvent>);
  runReaderLoop<ProcConnectorEvent>({
    port,
    fd,
    mode: 'recv',
    bufferBytes: 256 * 1024,
    decode: (buf, n, out) => {
      const items: (ProcConnectorEvent | ProcConnectorAck)[] = [];
      decodeProcConnectorDatagram(buf, n, items);
      const from = out.length;
      for (const it of items) if (it.type !== 'ack') out.push(it);
      if (proc !== undefined && wanted !== undefined && left > 0) left -= captureExecs(proc, wanted, out, from, left);
    },
    // A new turn of the loop: a new capture budget.
    afterRead: () => {
      left = wanted?.max ?? 0;
    },
    cleanup: () => closeProcConnectorSocket(fd),
  });
});
