/**
 * A full disk, for real: the store lives on a 2 MiB tmpfs this test mounts (root only). The sink
 * must turn Unhealthy with SQLite's reason, hold the batches it could not commit (its writes stop
 * resolving, so the collector's queue and overflow policy take over), and once the file system
 * grows, write everything it was given: the store then holds exactly every event, once.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { batchOf, CollectionEvent, type EventBatch, silentLogger } from '@daemoneye/core';
import { describe, expect, it } from 'vitest';
import { runQuery } from './query.ts';
import { createStoreSink } from './store-sink.ts';

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.log('full-disk test skipped: mounting a tmpfs needs root');

function bigBatch(index: number, n: number): EventBatch {
  const events = Array.from({ length: n }, (_, i) =>
    CollectionEvent.process({
      pid: index * n + i,
      name: 'filler',
      commandLine: ['filler', 'x'.repeat(2000), String(index)],
      accessible: true,
      fileExists: true,
    }),
  );
  return batchOf(events, { firstSeq: index * n + 1, runId: 'full-disk' });
}

const settle = <T>(p: Promise<T>, ms: number): Promise<'pending' | 'done'> =>
  Promise.race([p.then(() => 'done' as const), new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))]);

describe.skipIf(!isRoot)('the store on a full disk', () => {
  it('goes Unhealthy with the reason, holds its batches, and writes them all when space returns', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'de-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir]);
    try {
      const sink = createStoreSink({
        file: join(dir, 'events.db'),
        retention: { intervalMs: 0, maxAgeMs: 0, maxSizeBytes: 0, maxRows: 0 },
        maxInFlightEvents: 100,
        retryMaxMs: 100,
      });
      const signal = new AbortController().signal;
      await sink.open(signal, {
        componentName: 't',
        host: { hostname: 'h' },
        dataDir: undefined,
        logger: silentLogger,
      });
      expect(sink.health()).toEqual({ status: 'healthy' });
      const N = 50;
      let sent = 0;
      let blocked: Promise<void> | undefined;
      for (; sent < 400; sent++) {
        const w = sink.write(bigBatch(sent, N), signal);
        if ((await settle(w, 2000)) === 'pending') {
          blocked = w;
          sent++;
          break;
        }
      }
      expect(blocked, 'the writes never blocked: the disk did not fill').toBeDefined();
      const h = (await sink.health()) as { status: string; reason: string };
      expect(h.status).toBe('unhealthy');
      expect(h.reason).toMatch(/SQLITE_FULL|SQLITE_IOERR/);
      expect(h.reason).toMatch(/overflow policy applies/);
      // Still full: the write stays pending, and retries go on.
      expect(await settle(blocked as Promise<void>, 500)).toBe('pending');
      const retries = sink.stats().retries;
      expect(retries).toBeGreaterThan(0);

      execFileSync('mount', ['-o', 'remount,size=64m', dir]);
      expect(await settle(blocked as Promise<void>, 10_000)).toBe('done');
      for (let i = 0; i < 3; i++, sent++) await sink.write(bigBatch(sent, N), signal);
      await sink.close();
      expect(sink.health()).toEqual({ status: 'healthy' });
      const rows: unknown[][] = [];
      await runQuery({
        path: join(dir, 'events.db'),
        sql: 'SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM process_events',
        onRows: (r) => void rows.push(...r.map((x) => [...x])),
      });
      expect(rows).toEqual([[sent * N, sent * N, 1, sent * N]]);
      expect(sink.stats().inserted).toBe(sent * N);
    } finally {
      execFileSync('umount', [dir]);
      rmdirSync(dir);
    }
  }, 120_000);
});
