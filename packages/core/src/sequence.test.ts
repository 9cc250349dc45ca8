import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ev, failure, testConfig } from './__test__/support.ts';
import { Collector } from './collector.ts';
import type { EventRecord } from './record.ts';
import { SEQUENCE_BLOCK, SEQUENCE_FILE, SequenceAllocator } from './sequence.ts';
import type { EventSender } from './source.ts';

/** Runs a collector over `dataDir` with one source sending `n` events; returns the records the sink saw. */
async function runOnce(dataDir: string | undefined, n: number): Promise<EventRecord[]> {
  const config = dataDir === undefined ? testConfig() : testConfig().withDataDir(dataDir);
  const c = new Collector(config.withMaxBatchSize(64));
  const records: EventRecord[] = [];
  c.register({
    name: () => 'numbers',
    capabilities: () => 8,
    async start(tx: EventSender, signal: AbortSignal) {
      for (let i = 0; i < n; i++) await tx.send(ev(i));
      await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    },
    async stop() {},
    async healthCheck() {},
  });
  c.addSink({
    name: () => 'records',
    async write(batch) {
      for (const r of batch.records) records.push(r);
    },
  });
  const run = c.run();
  const t0 = Date.now();
  while (records.length < n && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 5));
  await c.shutdown();
  await run;
  return records;
}

describe('event records', () => {
  it('numbers every accepted event consecutively, with its source, acceptance time and run', async () => {
    const before = Date.now();
    const records = await runOnce(undefined, 300);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(new Set(records.map((r) => r.runId)).size).toBe(1);
    for (const r of records) {
      expect(r.source).toBe('numbers');
      expect(r.depth).toBe(0);
      expect(r.cause).toBeUndefined();
      expect(r.acceptedAt).toBeGreaterThanOrEqual(before);
      expect(r.acceptedAt).toBeLessThanOrEqual(Date.now());
    }
  });

  it('keeps sequence numbers unique and rising across two runs on the same data directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'de-seq-'));
    const first = await runOnce(dir, 250);
    const second = await runOnce(dir, 250);
    expect(first).toHaveLength(250);
    expect(second).toHaveLength(250);
    const firstSeqs = first.map((r) => r.seq);
    const secondSeqs = second.map((r) => r.seq);
    expect(Math.min(...secondSeqs)).toBeGreaterThan(Math.max(...firstSeqs));
    expect(new Set([...firstSeqs, ...secondSeqs]).size).toBe(500);
    expect(first[0]?.runId).not.toBe(second[0]?.runId);
    // The second run resumed above the block the first one had reserved, not above what it used.
    expect(secondSeqs[0]).toBe(1 + SEQUENCE_BLOCK);
  });

  it('resumes above the persisted mark after a crash (nothing written at shutdown is needed)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'de-seq-'));
    const a = new SequenceAllocator(dir);
    expect(a.take(10)).toBe(1);
    expect(JSON.parse(readFileSync(join(dir, SEQUENCE_FILE), 'utf8'))).toEqual({ next: 1 + SEQUENCE_BLOCK });
    // No shutdown: a second allocator (a restarted collector) starts at the reserved end.
    const b = new SequenceAllocator(dir);
    expect(b.take(1)).toBe(1 + SEQUENCE_BLOCK);
    expect(b.persistent).toBe(true);
  });

  it('reserves the next block before handing out a number beyond the current one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'de-seq-'));
    const a = new SequenceAllocator(dir);
    a.take(SEQUENCE_BLOCK);
    expect(a.take(5)).toBe(1 + SEQUENCE_BLOCK);
    expect(JSON.parse(readFileSync(join(dir, SEQUENCE_FILE), 'utf8'))).toEqual({ next: 1 + 2 * SEQUENCE_BLOCK + 5 });
  });

  it('refuses to run on a data directory whose mark is unreadable, with ERR_DATA_DIR', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'de-seq-'));
    writeFileSync(join(dir, SEQUENCE_FILE), 'garbage');
    const e = failure(() => new SequenceAllocator(dir));
    expect(e.code).toBe('ERR_DATA_DIR');
    expect(e.message).toBe(`${join(dir, SEQUENCE_FILE)} does not hold a sequence high-water mark`);
    const c = new Collector(testConfig().withDataDir(dir));
    await expect(c.run()).rejects.toMatchObject({ code: 'ERR_DATA_DIR' });
  });
});
