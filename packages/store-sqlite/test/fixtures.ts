/**
 * Test helpers: synthetic events of every kind with exact, predictable fields, batches with records,
 * and a throw-away directory per test.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { batchOf, type CollectionEvent, CollectionEvent as E, type EventBatch } from '@daemoneye/core';

/** A new empty directory. */
export function tempDir(prefix = 'de-store-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Event number `k`: process for k % 10 < 7, network for 7–8, filesystem for 9. */
export function eventAt(k: number, timestamp: number): CollectionEvent {
  const m = k % 10;
  if (m < 7) {
    return E.process({
      subtype: k % 3 === 0 ? 'exec' : 'snapshot',
      pid: 1000 + (k % 5000),
      ppid: 1 + (k % 50),
      name: `proc${k % 200}`,
      executablePath: `/usr/bin/proc${k % 200}`,
      commandLine: ['proc', '--n', String(k)],
      userId: '0',
      accessible: true,
      fileExists: true,
      containerId: k % 100 === 0 ? `c${k % 7}` : undefined,
      timestamp,
    } as Parameters<typeof E.process>[0]);
  }
  if (m < 9) {
    return E.network({
      connectionId: `tcp:${k % 1000}`,
      sourceAddr: '127.0.0.1:1000',
      destAddr: `10.0.0.${k % 250}:443`,
      protocol: 'tcp',
      state: 'ESTABLISHED',
      pid: 1000 + (k % 5000),
      bytesSent: k,
      bytesReceived: 2 * k,
      timestamp,
    });
  }
  return E.filesystem({ path: `/etc/file${k % 300}`, operation: 'modify', pid: 1000 + (k % 5000), timestamp });
}

/** Events `from` … `from + n - 1` as one batch whose sequence numbers are `from + 1` … (`k + 1` for event k). */
export function batchAt(from: number, n: number, timestamp: (k: number) => number, runId = 'run-a'): EventBatch {
  const events: CollectionEvent[] = [];
  for (let k = from; k < from + n; k++) events.push(eventAt(k, timestamp(k)));
  return batchOf(events, { runId, firstSeq: from + 1, source: 'test' });
}
