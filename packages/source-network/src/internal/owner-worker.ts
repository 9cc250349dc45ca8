/**
 * The owner worker thread's entry: holds an `OwnerIndex` over the real /proc and answers lookups, so
 * the synchronous walks of /proc/PID/fd never run on the main event loop. It keeps the index between
 * lookups; that is what makes later lookups cheap.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { servePrivilegeDrop } from '@daemoneye/native';
import { OwnerIndex } from './owner-index.ts';
import type { OwnerReply, OwnerRequest, OwnerWorkerData } from './owner-protocol.ts';
import { openProcFdTable } from './proc-fd-table.ts';

// After a privilege drop this thread keeps the collector's capabilities (it reads other users' /proc entries).
servePrivilegeDrop();
const data = (workerData ?? {}) as OwnerWorkerData;
const index = new OwnerIndex(await openProcFdTable(data.procRoot));
const port = parentPort;

port?.on('message', (request: OwnerRequest) => {
  if (request.type === 'stop') {
    port.close();
    return;
  }
  const started = performance.now();
  let reply: OwnerReply;
  try {
    const r = index.lookup(request.inodes);
    const ownerInodes: number[] = [];
    const ownerPids: number[] = [];
    const ownerNames: string[] = [];
    for (const [inode, o] of r.owners) {
      ownerInodes.push(inode);
      ownerPids.push(o.pid);
      ownerNames.push(o.name);
    }
    const missingInodes: number[] = [];
    const missingDenied: number[] = [];
    for (const [inode, why] of r.missing) {
      missingInodes.push(inode);
      missingDenied.push(why === 'not_permitted' ? 1 : 0);
    }
    reply = {
      type: 'lookup',
      id: request.id,
      ownerInodes,
      ownerPids,
      ownerNames,
      missingInodes,
      missingDenied,
      pidsListed: r.pidsListed,
      linksRead: r.linksRead,
      walked: r.walked,
      durationMs: performance.now() - started,
    };
  } catch (e) {
    reply = { type: 'error', id: request.id, message: e instanceof Error ? e.message : String(e) };
  }
  port.postMessage(reply);
});
