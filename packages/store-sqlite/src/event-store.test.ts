import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { batchOf, type CollectionEvent, CollectionEvent as E, isCollectorError } from '@daemoneye/core';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { batchAt, eventAt, tempDir } from '../test/fixtures.ts';
import { type EventStore, openEventStore } from './event-store.ts';
import { insertSql, type RowRecord, rowValues } from './internal/rows.ts';
import { KIND_TABLES, migrate, SCHEMA_VERSION } from './internal/schema.ts';
import { StoreWriter } from './internal/store-writer.ts';
import { runQuery } from './query.ts';

/** Process events with every field, odd command lines, absent and extra fields. */
const RICH_EVENTS: CollectionEvent[] = [
  E.process({
    subtype: 'exec',
    pid: 4242,
    ppid: 1,
    name: 'bash',
    executablePath: '/usr/bin/bash',
    commandLine: ['bash', '-c', 'echo "a b"', '', '\\x'],
    startTime: 1_700_000_000_123,
    cpuUsage: 12.5,
    memoryUsage: 3_456_789,
    executableHash: 'ab'.repeat(32),
    hashAlgorithm: 'sha256',
    userId: '0',
    userName: 'root',
    accessible: true,
    fileExists: false,
    threadCount: 3,
    cwd: '/root',
    cgroup: '/system.slice/ssh.service',
    containerId: 'c0ffee',
    platformMetadata: { ns: 'pid:[4026531836]', uidMapped: false, n: 7 },
    timestamp: 1_700_000_000_500,
  }),
  E.process({ pid: 2, name: 'kworker/0:1', accessible: false, fileExists: false, timestamp: 1_700_000_000_501 }),
  E.process({
    subtype: 'exit',
    pid: 77,
    ppid: 4242,
    name: 'true',
    executablePath: '/usr/bin/true',
    commandLine: [''],
    exitCode: 0,
    accessible: true,
    fileExists: true,
    timestamp: 1_700_000_000_502,
  }),
];

/**
 * Filesystem events with every field, booleans true and false, fields of another type than their
 * column's, a field without a column, and the bare minimum.
 */
const RICH_FS_EVENTS: CollectionEvent[] = [
  E.filesystem({
    path: '/etc/passwd',
    operation: 'modify',
    pid: 1234,
    size: 2048,
    permissions: '0644',
    fileHash: 'cd'.repeat(32),
    hashAlgorithm: 'sha256',
    processName: 'vim',
    uid: 0,
    ownerUid: 0,
    ownerGid: 42,
    isDirectory: false,
    modifyCount: 3,
    rescan: true,
    lostCount: 2,
    timestamp: 1_700_000_001_000,
  }),
  E.filesystem({
    path: '/tmp/b',
    oldPath: '/tmp/a',
    operation: 'rename',
    isDirectory: true,
    timestamp: 1_700_000_001_001,
  }),
  {
    ...E.filesystem({ path: '/tmp/c d', operation: 'create', pid: 9, rescan: false, timestamp: 1_700_000_001_002 }),
    uid: '1000',
    processName: 7,
    inode: 99,
    labels: { team: 'sre' },
  } as unknown as CollectionEvent,
  E.filesystem({ path: '/tmp/gone', operation: 'delete', timestamp: 1_700_000_001_003 }),
];

/** The columns of `filesystem_events`, as version 3 had them. */
const FILESYSTEM_COLUMNS = [
  'seq',
  'run',
  'source',
  'accepted_at',
  'time',
  'cause_seq',
  'depth',
  'path',
  'operation',
  'pid',
  'size',
  'permissions',
  'file_hash',
  'event',
];

/** The columns of `process_events`, as version 2 had them. */
const PROCESS_COLUMNS = [
  'seq',
  'run',
  'source',
  'accepted_at',
  'time',
  'cause_seq',
  'depth',
  'subtype',
  'pid',
  'ppid',
  'name',
  'executable_path',
  'command_line',
  'start_time',
  'cpu_usage',
  'memory_usage',
  'executable_hash',
  'user_id',
  'user_name',
  'exit_code',
  'event',
  'cwd',
  'cgroup',
  'container_id',
];

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

/** The `event` JSON of each row (one column each), parsed. */
const parsed = (json: unknown[][]): unknown[] => json.map(([e]) => JSON.parse(e as string));

/** `events` as one plain object each, as they read back from the `event` JSON. */
const plain = (events: readonly CollectionEvent[]): unknown[] => events.map((e) => ({ ...e }));

/**
 * Makes a store of schema `version` at `path` holding `events` of `kind`, written as that version
 * wrote them (run 1, sequence numbers from 1), and gives the rows of the kind's table as they were.
 */
function oldStore(
  path: string,
  version: number,
  kind: 'process' | 'filesystem',
  events: readonly CollectionEvent[],
  record: (seq: number) => RowRecord,
): unknown[][] {
  const old = new Database(path);
  old.pragma('journal_mode = WAL');
  migrate(old, version);
  old.prepare("INSERT INTO runs (run, run_id, hostname, first_seen) VALUES (1, 'old-run', 'old-host', 0)").run();
  const insert = old.prepare(insertSql(kind));
  for (const [i, e] of events.entries()) insert.run(rowValues(e, record(i + 1)));
  const before = old.prepare(`SELECT * FROM ${KIND_TABLES[kind]} ORDER BY seq`).raw(true).all() as unknown[][];
  old.close();
  return before;
}

/** After a migration: every column as it was (`columns` names them) and the same events in `event`. */
function expectMigrated(
  before: unknown[][],
  after: unknown[][],
  columns: readonly string[],
  events: readonly CollectionEvent[],
): void {
  const eventAt = columns.indexOf('event');
  // The JSON is the same event; its keys may come in another order.
  expect(after.map((r) => r.filter((_, i) => i !== eventAt))).toEqual(
    before.map((r) => r.filter((_, i) => i !== eventAt)),
  );
  expect(parsed(after.map((r) => [r[eventAt]]))).toEqual(plain(events));
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

  it('stores every kind in chunks of rows and still rejects exactly the one row a chunk cannot hold', async () => {
    const path = join(tempDir(), 'events.db');
    const s = await store(path);
    const t = Date.now();
    const events: CollectionEvent[] = [];
    // 70 filesystem events (two whole chunks of 32 and 6 more) between network and performance events.
    for (let i = 0; i < 70; i++) {
      events.push(E.filesystem({ path: `/tmp/f${i}`, operation: 'create', pid: 100 + i, size: i, timestamp: t }));
      if (i % 10 === 0)
        events.push(
          E.network({
            connectionId: `c${i}`,
            protocol: 'tcp',
            state: 'established',
            sourceAddr: '10.0.0.1:1',
            destAddr: `10.0.0.2:${i}`,
            bytesSent: i,
            bytesReceived: 0,
            timestamp: t,
          }),
        );
      if (i % 35 === 0)
        events.push(E.performance({ metricName: 'cpu.usage', component: 'cpu', value: i, unit: '%', timestamp: t }));
    }
    // In the first filesystem chunk: a null path (INSERT OR IGNORE would skip it silently), a size JSON
    // cannot hold, and permissions of another type than the column's (kept in the event's JSON). In the
    // network events, one partial chunk of seven rows: a byte count SQLite cannot bind (the chunk fails
    // and goes again row by row, and only that row is rejected).
    events.splice(3, 1, { ...events[3], path: null } as unknown as CollectionEvent);
    events.splice(5, 1, { ...events[5], size: 1n } as unknown as CollectionEvent);
    events.splice(7, 1, { ...events[7], permissions: { mode: 1 } } as unknown as CollectionEvent);
    const net = events.findIndex((e) => e.kind === 'network' && e.connectionId === 'c30');
    events.splice(net, 1, { ...events[net], bytesSent: { n: 1 } } as unknown as CollectionEvent);
    const r = await s.write(batchOf(events, { firstSeq: 1 }));
    expect(r).toEqual({
      inserted: events.length - 3,
      duplicates: 0,
      rejected: { invalid_event: 3 },
    });
    const seqs = await rows(path, 'SELECT seq FROM events ORDER BY seq');
    expect(seqs.map((x) => x[0])).toEqual(events.map((_, i) => i + 1).filter((q) => ![4, 6, net + 1].includes(q)));
    // Sizes 0..69 without those of /tmp/f1 and /tmp/f3: 2415 - 1 - 3.
    expect(await rows(path, 'SELECT count(*), min(path), sum(size) FROM filesystem_events')).toEqual([
      [68, '/tmp/f0', 2411],
    ]);
    expect(
      await rows(
        path,
        "SELECT permissions, json_extract(event, '$.permissions.mode') FROM filesystem_events WHERE seq = 8",
      ),
    ).toEqual([[null, 1]]);
    expect(await rows(path, 'SELECT count(*), sum(bytes_sent) FROM network_events')).toEqual([
      [6, 0 + 10 + 20 + 40 + 50 + 60],
    ]);
    expect(await rows(path, 'SELECT count(*) FROM performance_events')).toEqual([[2]]);
    // Written again: every row is a duplicate, in chunks as well.
    expect(await s.write(batchOf(events, { firstSeq: 1 }))).toEqual({
      inserted: 0,
      duplicates: events.length - 3,
      rejected: { invalid_event: 3 },
    });
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
    const limit = 1024 * 1024;
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
    expect(SCHEMA_VERSION).toBe(4);
    expect(await rows(path, 'SELECT seq, container_id, cgroup, cwd FROM process_events')).toEqual([
      [7, 'abc123', '/docker/abc123', '/srv'],
    ]);
    // Version 1 stored no command line for this row, so the rebuilt event has an empty one.
    expect(
      JSON.parse(((await rows(path, 'SELECT event FROM events WHERE seq = 7'))[0] as string[])[0] as string),
    ).toEqual({ ...event, subtype: 'snapshot', commandLine: [], timestamp: 0 });
    await s.write(batchAt(0, 3, () => Date.now()));
    expect(await rows(path, 'SELECT count(*) FROM events')).toEqual([[4]]);
    await s.close();
    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(4);
    // An existing store keeps the page size it was made with.
    expect(check.pragma('page_size', { simple: true })).toBe(4096);
    check.close();
  });

  it('makes a new store with 8 KiB pages, incremental auto-vacuum, WAL and checkpoints every 80 MiB', async () => {
    const path = join(tempDir(), 'events.db');
    const s = await store(path);
    await s.write(batchAt(0, 3, () => Date.now()));
    await s.close();
    const check = new Database(path, { readonly: true });
    expect(check.pragma('page_size', { simple: true })).toBe(8192);
    expect(check.pragma('auto_vacuum', { simple: true })).toBe(2);
    expect(check.pragma('journal_mode', { simple: true })).toBe('wal');
    check.close();
    const w = new StoreWriter(path, { maxAgeMs: 0, maxSizeBytes: 0, maxRows: 0 });
    expect(w.db.pragma('wal_autocheckpoint', { simple: true })).toBe(10_240);
    w.close();
  });

  it('migrates a version 2 store to compact process rows with the same columns and the same event JSON', async () => {
    const path = join(tempDir(), 'events.db');
    const before = oldStore(path, 2, 'process', RICH_EVENTS, (seq) => ({
      seq,
      run: 1,
      source: 'process',
      acceptedAt: 5,
      cause: null,
      depth: 0,
    }));
    const s = await store(path);
    expect(s.foundSchemaVersion).toBe(2);
    expectMigrated(before, await rows(path, 'SELECT * FROM process_events ORDER BY seq'), PROCESS_COLUMNS, RICH_EVENTS);
    expect(await rows(path, 'SELECT count(*) FROM processes_last_hour')).toEqual([[0]]);
    expect(
      await rows(
        path,
        "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'process_rows' ORDER BY name",
      ),
    ).toEqual([['process_rows_container'], ['process_rows_pid'], ['process_rows_time']]);
  });

  it('gives back every process event as it was written, in the event JSON and in the columns', async () => {
    const path = join(tempDir(), 'events.db');
    const s = await store(path);
    const r = await s.write(batchOf(RICH_EVENTS, { firstSeq: 1, runId: 'r', source: 'process' }));
    expect(r).toEqual({ inserted: RICH_EVENTS.length, duplicates: 0, rejected: {} });
    const json = await rows(path, "SELECT event FROM events WHERE kind = 'process' ORDER BY seq");
    expect(parsed(json)).toEqual(plain(RICH_EVENTS));
    expect(
      await rows(
        path,
        'SELECT seq, source, subtype, name, executable_path, command_line, user_name, cwd FROM process_events ORDER BY seq',
      ),
    ).toEqual([
      [1, 'process', 'exec', 'bash', '/usr/bin/bash', 'bash -c echo "a b"  \\x', 'root', '/root'],
      [2, 'process', 'snapshot', 'kworker/0:1', null, null, null, null],
      [3, 'process', 'exit', 'true', '/usr/bin/true', '', null, null],
    ]);
    // Repeated strings are stored once.
    expect(
      await rows(path, "SELECT count(*) FROM strings WHERE value IN ('bash', 'process', '/usr/bin/true')"),
    ).toEqual([[3]]);
  });

  it('migrates a version 3 store to compact filesystem rows with the same columns and the same event JSON', async () => {
    const path = join(tempDir(), 'events.db');
    const before = oldStore(path, 3, 'filesystem', RICH_FS_EVENTS, (seq) => ({
      seq,
      run: 1,
      source: 'filesystem',
      acceptedAt: 5,
      cause: 3,
      depth: 1,
    }));
    const s = await store(path);
    expect(s.foundSchemaVersion).toBe(3);
    expectMigrated(
      before,
      await rows(path, 'SELECT * FROM filesystem_events ORDER BY seq'),
      FILESYSTEM_COLUMNS,
      RICH_FS_EVENTS,
    );
    // The fields of another type than their column's stayed in `extra`, the rest have columns.
    expect(
      await rows(
        path,
        'SELECT seq, uid, process_name IS NULL, extra FROM filesystem_rows WHERE seq IN (1, 3) ORDER BY seq',
      ),
    ).toEqual([
      [1, 0, 0, null],
      [3, null, 1, '{"uid":"1000","processName":7,"inode":99,"labels":{"team":"sre"}}'],
    ]);
    expect(
      await rows(
        path,
        "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'filesystem_rows' ORDER BY name",
      ),
    ).toEqual([['filesystem_rows_path'], ['filesystem_rows_pid'], ['filesystem_rows_time']]);
    expect(await rows(path, "SELECT count(*) FROM events WHERE kind = 'filesystem'")).toEqual([[4]]);
    // New rows go in beside the migrated ones.
    expect(await s.write(batchOf(RICH_FS_EVENTS, { firstSeq: 10, source: 'filesystem' }))).toEqual({
      inserted: 4,
      duplicates: 0,
      rejected: {},
    });
    const json = await rows(path, 'SELECT event FROM filesystem_events WHERE seq >= 10 ORDER BY seq');
    expect(parsed(json)).toEqual(plain(RICH_FS_EVENTS));
  });

  it('gives back every filesystem event as it was written, in the event JSON and in the columns', async () => {
    const path = join(tempDir(), 'events.db');
    const s = await store(path);
    const r = await s.write(batchOf(RICH_FS_EVENTS, { firstSeq: 1, runId: 'r', source: 'fs' }));
    expect(r).toEqual({ inserted: RICH_FS_EVENTS.length, duplicates: 0, rejected: {} });
    const json = await rows(path, "SELECT event FROM events WHERE kind = 'filesystem' ORDER BY seq");
    expect(parsed(json)).toEqual(plain(RICH_FS_EVENTS));
    expect(
      await rows(
        path,
        'SELECT seq, source, path, operation, pid, size, permissions, file_hash FROM filesystem_events ORDER BY seq',
      ),
    ).toEqual([
      [1, 'fs', '/etc/passwd', 'modify', 1234, 2048, '0644', 'cd'.repeat(32)],
      [2, 'fs', '/tmp/b', 'rename', null, null, null, null],
      [3, 'fs', '/tmp/c d', 'create', 9, null, null, null],
      [4, 'fs', '/tmp/gone', 'delete', null, null, null, null],
    ]);
    // No copy of the event beside the columns: only the fields without one are JSON.
    expect(await rows(path, 'SELECT count(*) FROM filesystem_rows WHERE extra IS NOT NULL')).toEqual([[1]]);
    // A field holding null is left out, as the README says.
    const withNull = { ...RICH_FS_EVENTS[3], size: null, note: null } as unknown as CollectionEvent;
    await s.write(batchOf([withNull], { firstSeq: 9, source: 'fs' }));
    expect(await rows(path, 'SELECT size, event FROM filesystem_events WHERE seq = 9')).toEqual([
      [
        null,
        JSON.stringify({ kind: 'filesystem', path: '/tmp/gone', operation: 'delete', timestamp: 1_700_000_001_003 }),
      ],
    ]);
    // The pid index answers a lookup by pid.
    expect(
      (await rows(path, 'EXPLAIN QUERY PLAN SELECT seq FROM filesystem_events WHERE pid = 9')).flat().join(' '),
    ).toMatch(/USING (COVERING )?INDEX filesystem_rows_pid/);
  });

  it('rejects a process event with a value JSON cannot hold and keeps the rest of the batch', async () => {
    const path = join(tempDir(), 'events.db');
    const s = await store(path);
    const bad = { ...RICH_EVENTS[1], sessionBytes: 5n } as unknown as CollectionEvent;
    const r = await s.write(
      batchOf([RICH_EVENTS[0] as CollectionEvent, bad, RICH_EVENTS[2] as CollectionEvent], { firstSeq: 1 }),
    );
    expect(r).toEqual({ inserted: 2, duplicates: 0, rejected: { invalid_event: 1 } });
    expect(await rows(path, 'SELECT seq FROM process_events ORDER BY seq')).toEqual([[1], [3]]);
  });

  it('refuses a store written by a newer collector', async () => {
    const path = join(tempDir(), 'events.db');
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    const e = await openEventStore({ path }).catch((err: unknown) => err);
    expect(isCollectorError(e, 'ERR_STORE_SCHEMA')).toBe(true);
    expect((e as Error).message).toBe(
      `event store ${path}: the store has schema version 99, newer than 4; use a newer collector`,
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
