/** Test support: events, batches and a runtime for driving the sink directly. Not shipped. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { batchOf, type CollectionEvent, type EventBatch, type PluginRuntime, silentLogger } from '@daemoneye/core';

export const HOST = { hostname: 'test-host.example', machineId: '0123456789abcdef0123456789abcdef' };

/** A process event whose pid carries `n`, so a test can tell every event apart. */
export function ev(n: number, kind: 'process' | 'filesystem' = 'process'): CollectionEvent {
  if (kind === 'filesystem')
    return { kind: 'filesystem', path: `/tmp/f${n}`, operation: 'create', timestamp: 1_700_000_000_000 + n };
  return {
    kind: 'process',
    subtype: 'snapshot',
    pid: n,
    name: `proc-${n}`,
    commandLine: ['/usr/bin/example', '--flag', String(n)],
    accessible: true,
    fileExists: true,
    timestamp: 1_700_000_000_000 + n,
  };
}

/** Batch `i` of `size` events with sequence numbers `1 + i*size` onward. */
export function batchAt(i: number, size: number): EventBatch {
  const events: CollectionEvent[] = [];
  for (let k = 0; k < size; k++) events.push(ev(i * size + k + 1));
  return batchOf(events, { firstSeq: i * size + 1, source: 'gen' });
}

export function runtime(dataDir = mkdtempSync(join(tmpdir(), 'de-nats-data-'))): PluginRuntime {
  return { componentName: 'test', host: HOST, dataDir, logger: silentLogger };
}

/** Waits until `check` holds; on time-out the error names `what` and, when given, the state `state` reports. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 30_000,
  state?: () => unknown,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what}${state === undefined ? '' : `; state: ${JSON.stringify(state())}`}`,
      );
    await sleep(25);
  }
}

/** The sorted sequence numbers, and how many appear more than once. */
export function seqSummary(seqs: readonly number[]): { unique: number; repeated: number } {
  const set = new Set(seqs);
  return { unique: set.size, repeated: seqs.length - set.size };
}
