/**
 * The snapshot worker thread's entry: owns a `ProcScanner` over the real /proc and answers `scan`
 * requests from the main thread with `ProcessSnapshot` records, posted in batches while it scans
 * (the main thread decodes one batch while the next is read), so the synchronous reads
 * never block the main event loop. It keeps the scanner between requests (CPU % deltas, user names).
 * It does not hash, diff or emit events; the protocol types live in `snapshot-protocol.ts`.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { servePrivilegeDrop } from '@daemoneye/native';
import { openSnapshotScanner } from './proc-scan.ts';
import type { SnapshotReply, SnapshotRequest, SnapshotWorkerData } from './snapshot-protocol.ts';

// After a privilege drop this thread keeps the collector's capabilities (it reads other users' /proc entries).
servePrivilegeDrop();
const data = (workerData ?? {}) as SnapshotWorkerData;
const scanner = await openSnapshotScanner(data);
const port = parentPort;

port?.on('message', (request: SnapshotRequest) => {
  if (request.type === 'stop') {
    port.close();
    return;
  }
  const started = performance.now();
  let reply: SnapshotReply;
  try {
    const processes = scanner.scan(
      request.includeKernelThreads,
      { shard: request.shard, shards: request.shards },
      (batch) => port?.postMessage({ type: 'part', id: request.id, processes: batch } satisfies SnapshotReply),
      data.batchSize,
    );
    reply = { type: 'scan', id: request.id, processes, durationMs: performance.now() - started };
  } catch (e) {
    reply = { type: 'error', id: request.id, message: e instanceof Error ? e.message : String(e) };
  }
  port.postMessage(reply);
});
