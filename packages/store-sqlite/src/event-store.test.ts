import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { batchOf, type CollectionEvent, isCollectorError } from '@daemoneye/core';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { batchAt, eventAt, tempDir } from '../test/fixtures.ts';
import { type EventStore, openEventStore } from './event-store.ts';
import { migrate, SCHEMA_VERSION } from './internal/schema.ts';
import { runQuery } from './query.ts';

const open: EventStore[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

async function store(path: string, retention: Parameters<typeof openEventStore>[0]['retention'] = { intervalMs: 0 }) {
  const s = await openEventStore({ path, host: { hostname: 'host-1', machineId: 'ab'.repeat(16) }, retention });
  open.push(s);
  return s;
}

async function rows(path: string, sql: string): Promise<unknown[][]> {
  const out: unknown[][] = [];
  await runQuery({ path, sql, onRows: (r) => void out.push(...r.map((x) => [...x])) });
  return out;
}

describe('openEventStore', () => {
  it('stores 1,000,000 events and answers with exact counts', async () => {
    const path = join(tempDir(), 'events.db');
    const s = await store(path, { intervalMs: 0, maxAgeMs: 0, maxSizeBytes: 0 });
    const N = 1_000_000;
    const B = 1000;
    const now = Date.now();
    // The first half of the events spread from two hours to 61 minutes ago, the second half from 59
    // minutes ago to now: the one-hour boundary of the view falls in the gap, whenever the query runs.
    const half = N / 2;
    const at = (k: number) =>
      k < half
        ? now - 7200_000 + Math.floor((k * 3540_000) / half)
        : now - 3540_000 + Math.floor(((k - half) * 3500_000) / half);
    const pending: Promise<unknown>[] = [];
    for (let from = 0; from < N; from += B) {
      pending.push(s.write(batchAt(from, B, at)));
      if (pending.length >= 8) await pending.shift();
    }
    await Promise.all(pending);
    // Ground truth computed from the generator, not from SQL.
    let proc = 0;
    let net = 0;
    let fs = 0;
    let pid1000 = 0;
    let recentExecsOfParent7 = 0;
    for (let k = 0; k < N; k++) {
      const m = k % 10;
      if (m < 7) {
        proc++;
        if (1000 + (k % 5000) === 1000) pid1000++;
        if (k >= half && k % 3 === 0 && 1 + (k % 50) === 7) recentExecsOfParent7++;
      } else if (m < 9) net++;
      else fs++;
    }
    expect((await s.stats()).rows).toBe(N);
    expect(await rows(path, 'SELECT count(*) FROM events')).toEqual([[N]]);
    expect(await rows(path, 'SELECT count(*) FROM process_events')).toEqual([[proc]]);
    expect(await rows(path, 'SELECT count(*) FROM network_events')).toEqual([[net]]);
    expect(await rows(path, 'SELECT count(*) FROM filesystem_events')).toEqual([[fs]]);
    expect(await rows(path, 'SELECT count(*) FROM process_events WHERE pid = 1000')).toEqual([[pid1000]]);
    expect(await rows(path, 'SELECT min(seq), max(seq), count(DISTINCT seq) FROM events')).toEqual([[1, N, N]]);
    const sql = 'SELECT count(*) FROM processes_last_hour WHERE ppid = 7';
    expect(await rows(path, sql)).toEqual([[recentExecsOfParent7]]);
    expect(await rows(path, 'SELECT DISTINCT hostname, run_id FROM events')).toEqual([['host-1', 'run-a']]);
  }, 300_000);

  it('stores a record written twice once', async () => {
    const path = join(tempDir(), 'events.db');
    const s = await store(path);
    const t = () => Date.now();
    expect(await s.write(batchAt(0, 100, t))).toEqual({ inserted: 100, duplicates: 0, rejected: {} });
    // The same batch again (a replay after a crash), then one that overlaps it by half.
    expect(await s.write(batchAt(0, 100, t))).toEqual({ inserted: 0, duplicates: 100, rejected: {} });
    expect(await s.write(batchAt(50, 100, t))).toEqual({ inserted: 50, duplicates: 50, rejected: {} });
    expect(await rows(path, 'SELECT count(*), count(DISTINCT seq), max(seq) FROM events')).toEqual([[150, 150, 150]]);
  });

  it('skips and counts an event it cannot hold, and stores the rest of the batch', async () => {
    const path = join(tempDir(), 'events.db');
    const s = await store(path);
    const good = eventAt(0, Date.now());
    const bad = { kind: 'process', pid: 5, timestamp: Date.now() } as unknown as CollectionEvent;
    const unknown = { kind: 'telepathy', timestamp: 1 } as unknown as CollectionEvent;
    const r = await s.write(batchOf([good, bad, unknown, good], { firstSeq: 10 }));
    expect(r).toEqual({ inserted: 2, duplicates: 0, rejected: { invalid_event: 2 } });
    expect(await rows(path, 'SELECT seq FROM events ORDER BY seq')).toEqual([[10], [13]]);
  });

  it('prunes by age: exactly the events older than max_age go', async () => {
    const path = join(tempDir(), 'events.db');
    const s = await store(path, { intervalMs: 0, maxAgeMs: 3600_000, maxSizeBytes: 0 });
    const now = Date.now();
    // 12,000 events: even ones two hours old, odd ones a minute old.
    await s.write(batchAt(0, 12_000, (k) => (k % 2 === 0 ? now - 7200_000 : now - 60_000)));
    const report = await s.prune();
    expect(report.byAge).toBe(6000);
    expect(await rows(path, 'SELECT count(*), sum(seq % 2 = 0) FROM events')).toEqual([[6000, 6000]]);
    expect((await s.prune()).byAge).toBe(0);
  });

  it('prunes by row count, oldest first', async () => {
    const path = join(tempDir(), 'events.db');
    const s = await store(path, { intervalMs: 0, maxAgeMs: 0, maxSizeBytes: 0, maxRows: 1000 });
    await s.write(batchAt(0, 7777, () => Date.now()));
    expect((await s.prune()).byRows).toBe(6777);
    expect(await rows(path, 'SELECT count(*), min(seq), max(seq) FROM events')).toEqual([[1000, 6778, 7777]]);
  });

  it('prunes by size, oldest first, and the file shrinks below the limit', async () => {
    const path = join(tempDir(), 'events.db');
    const limit = 2 * 1024 * 1024;
    const s = await store(path, { intervalMs: 0, maxAgeMs: 0, maxSizeBytes: limit });
    for (let from = 0; from < 40_000; from += 1000) await s.write(batchAt(from, 1000, () => Date.now()));
    const before = (await s.stats()).usedBytes;
    expect(before).toBeGreaterThan(4 * limit);
    const report = await s.prune();
    const after = await s.stats();
    expect(after.usedBytes).toBeLessThanOrEqual(limit);
    expect(statSync(path).size).toBeLessThanOrEqual(limit);
    expect(report.bySize).toBe(40_000 - after.rows);
    // What is left is the newest events, without a gap.
    expect(await rows(path, 'SELECT min(seq), max(seq), count(*) FROM events')).toEqual([
      [40_000 - after.rows + 1, 40_000, after.rows],
    ]);
  }, 60_000);

  it('prunes in the background on its interval', async () => {
    const path = join(tempDir(), 'events.db');
    const s = await store(path, { intervalMs: 100, maxAgeMs: 0, maxSizeBytes: 0, maxRows: 10 });
    await s.write(batchAt(0, 500, () => Date.now()));
    const end = Date.now() + 5000;
    while ((await s.stats()).rows > 10 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(await rows(path, 'SELECT count(*), min(seq) FROM events')).toEqual([[10, 491]]);
  });

  it('opens a store of the previous schema version and migrates it', async () => {
    const path = join(tempDir(), 'events.db');
    const old = new Database(path);
    old.pragma('journal_mode = WAL');
    migrate(old, 1);
    old.prepare("INSERT INTO runs (run, run_id, hostname, first_seen) VALUES (1, 'old-run', 'old-host', 0)").run();
    const event = {
      kind: 'process',
      pid: 42,
      name: 'nginx',
      containerId: 'abc123',
      cgroup: '/docker/abc123',
      cwd: '/srv',
    };
    old
      .prepare(
        "INSERT INTO process_events (seq, run, source, accepted_at, time, subtype, pid, name, event) VALUES (7, 1, 'process', 0, 0, 'snapshot', 42, 'nginx', ?)",
      )
      .run(JSON.stringify(event));
    expect(old.pragma('user_version', { simple: true })).toBe(1);
    old.close();

    const s = await store(path);
    expect(s.foundSchemaVersion).toBe(1);
    expect(SCHEMA_VERSION).toBe(2);
    expect(await rows(path, 'SELECT seq, container_id, cgroup, cwd FROM process_events')).toEqual([
      [7, 'abc123', '/docker/abc123', '/srv'],
    ]);
    await s.write(batchAt(0, 3, () => Date.now()));
    expect(await rows(path, 'SELECT count(*) FROM events')).toEqual([[4]]);
    await s.close();
    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(2);
    check.close();
  });

  it('refuses a store written by a newer collector', async () => {
    const path = join(tempDir(), 'events.db');
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    const e = await openEventStore({ path }).catch((err: unknown) => err);
    expect(isCollectorError(e, 'ERR_STORE_SCHEMA')).toBe(true);
    expect((e as Error).message).toBe(
      `event store ${path}: the store has schema version 99, newer than 2; use a newer collector`,
    );
  });

  it('reports a file it cannot create as ERR_STORE_OPEN', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, 'not a directory');
    const e = await openEventStore({ path: join(file, 'sub', 'events.db') }).catch((err: unknown) => err);
    expect(isCollectorError(e, 'ERR_STORE_OPEN')).toBe(true);
    expect((e as Error).message).toMatch(/^cannot create the directory of event store .*: ENOTDIR/);
    expect(existsSync(join(file, 'sub'))).toBe(false);
  });
});
