/**
 * Worker-thread entry for the proc connector reader: opens and subscribes the socket, reports ready
 * with the events that came before the acknowledgement, then runs the shared reader loop. On stop it
 * unsubscribes and closes the socket. Loaded as a worker script, never imported.
 */
import { workerData } from 'node:worker_threads';
import { decodeProcConnectorDatagram, type ProcConnectorAck, type ProcConnectorEvent } from '../proc-event.ts';
import { receiveBufferSize } from './netlink.ts';
import { closeProcConnectorSocket, openProcConnectorSocket } from './proc-connector-socket.ts';
import { runReaderLoop } from './reader-loop.ts';
import { runWorkerEntry } from './worker-entry.ts';
import type { WorkerMessage } from './worker-protocol.ts';

const { receiveBufferBytes } = workerData as { receiveBufferBytes: number };

runWorkerEntry((port) => {
  const { fd, early } = openProcConnectorSocket({ receiveBufferBytes, ackTimeoutMs: 1000 });
  port.postMessage({
    type: 'ready',
    fd,
    receiveBufferBytes: receiveBufferSize(fd),
  } satisfies WorkerMessage<ProcConnectorEvent>);
  if (early.length > 0) port.postMessage({ type: 'batch', items: early } satisfies WorkerMessage<ProcConnectorEvent>);
  runReaderLoop<ProcConnectorEvent>({
    port,
    fd,
    mode: 'recv',
    bufferBytes: 256 * 1024,
    decode: (buf, n, out) => {
      const items: (ProcConnectorEvent | ProcConnectorAck)[] = [];
      decodeProcConnectorDatagram(buf, n, items);
      for (const it of items) if (it.type !== 'ack') out.push(it);
    },
    cleanup: () => closeProcConnectorSocket(fd),
  });
});
