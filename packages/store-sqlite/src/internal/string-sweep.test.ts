/**
 * The strings pruned rows leave behind: after a prune pass the `strings` table holds exactly the ids
 * the remaining process and filesystem rows refer to (checked in SQLite itself), the remaining rows read back their
 * own values, and a row written while a sweep runs can reuse an old string without losing it.
 */
import { join } from 'node:path';
import { CollectionEvent as E } from '@daemoneye/core';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/fixtures.ts';
import { type EventStore, openEventStore } from '../event-store.ts';
import { STRING_REFERENCES } from './schema.ts';
import { StoreWriter, SWEEP_CHUNK, type WriteRequest } from './store-writer.ts';

const open: (EventStore | StoreWriter)[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

const proc = (k: number, name: string) =>
  E.process({
    subtype: 'exec',
    pid: 1000 + k,
    name,
    executablePath: `/opt/${name}`,
    cwd: `/work/${name}`,
    accessible: true,
    fileExists: true,
    timestamp: 1_700_000_000_000 + k,
  });

function request(from: number, names: readonly string[]): WriteRequest {
  const n = names.length;
  return {
    runId: 'run-a',
    hostname: 'host-1',
    machineId: null,
    seqs: names.map((_, i) => from + i),
    sources: names.map(() => 'test'),
    acceptedAt: names.map((_, i) => 1_700_000_000_000 + from + i),
    causes: new Array(n).fill(null),
    depths: new Array(n).fill(0),
    events: names.map((name, i) => proc(from + i, name)),
  } as WriteRequest;
}

/** Strings no row refers to, and ids referred to that are missing, by SQLite's own answer. */
function audit(path: string): { unreferenced: number; dangling: number; strings: number } {
  const db = new Database(path, { readonly: true });
  try {
    const refs = STRING_REFERENCES.flatMap(({ table, columns }) =>
      columns.map((c) => `SELECT ${c} AS id FROM ${table} WHERE ${c} IS NOT NULL`),
    ).join(' UNION ');
    const one = (sql: string): number => (db.prepare(sql).get() as { n: number }).n;
    return {
      unreferenced: one(`SELECT count(*) AS n FROM strings WHERE id NOT IN (${refs})`),
      dangling: one(`SELECT count(*) AS n FROM (${refs}) r WHERE r.id NOT IN (SELECT id FROM strings)`),
      strings: one('SELECT count(*) AS n FROM strings'),
    };
  } finally {
    db.close();
  }
}

describe('the strings of pruned rows', () => {
  it('go with the rows: only what the remaining rows refer to is left, and they read back whole', async () => {
    const path = join(tempDir(), 'events.db');
    const s = await openEventStore({
      path,
      host: { hostname: 'host-1', machineId: 'ab'.repeat(16) },
      retention: { intervalMs: 0, maxAgeMs: 0, maxSizeBytes: 0, maxRows: 100 },
    });
    open.push(s);
    const { batchOf } = await import('@daemoneye/core');
    const events = Array.from({ length: 1000 }, (_, k) => proc(k, k < 900 ? `gone-${k}` : `kept-${k}`));
    await s.write(batchOf(events, { runId: 'run-a', firstSeq: 1, source: 'test' }));
    const before = audit(path);
    // Three strings per name (name, path, cwd), plus the source and the subtype.
    expect(before).toEqual({ unreferenced: 0, dangling: 0, strings: 3 * 1000 + 2 });
    const report = await s.prune();
    expect(report.byRows).toBe(900);
    expect(report.strings).toBe(3 * 900);
    expect(audit(path)).toEqual({ unreferenced: 0, dangling: 0, strings: 3 * 100 + 2 });
    const db = new Database(path, { readonly: true });
    const rows = db.prepare('SELECT name, executable_path AS path, cwd FROM process_events ORDER BY seq').all() as {
      name: string;
      path: string;
      cwd: string;
    }[];
    db.close();
    expect(rows).toHaveLength(100);
    expect(rows[0]).toEqual({ name: 'kept-900', path: '/opt/kept-900', cwd: '/work/kept-900' });
    expect(rows.every((r, i) => r.name === `kept-${900 + i}` && r.cwd === `/work/kept-${900 + i}`)).toBe(true);
  });

  it('go with filesystem rows too, whichever table the remaining rows are in', async () => {
    const path = join(tempDir(), 'events.db');
    const s = await openEventStore({
      path,
      host: { hostname: 'host-1' },
      retention: { intervalMs: 0, maxAgeMs: 0, maxSizeBytes: 0, maxRows: 150 },
    });
    open.push(s);
    const { batchOf } = await import('@daemoneye/core');
    // 800 filesystem events, each by a process of its own name, then 200 process events; the prune (to
    // 150 rows) removes the 800 filesystem rows and the 50 oldest process rows.
    const files = Array.from({ length: 800 }, (_, k) =>
      E.filesystem({
        path: `/data/f${k}`,
        operation: 'modify',
        permissions: '0640',
        processName: k < 750 ? `writer-gone-${k}` : `writer-kept-${k}`,
        timestamp: 1_700_000_000_000 + k,
      }),
    );
    const procs = Array.from({ length: 200 }, (_, k) => proc(800 + k, `p-${k}`));
    await s.write(batchOf([...files, ...procs], { runId: 'run-a', firstSeq: 1, source: 'test' }));
    // Per process: name, path, cwd; per file: the writer's name; plus source, subtype, operation, mode.
    expect(audit(path)).toEqual({ unreferenced: 0, dangling: 0, strings: 3 * 200 + 800 + 4 });
    const report = await s.prune();
    expect(report.byRows).toBe(850);
    expect(report.strings).toBe(800 + 3 * 50 + 2);
    expect(audit(path)).toEqual({ unreferenced: 0, dangling: 0, strings: 3 * 150 + 2 });
  });

  it('a row written while the sweep runs keeps an old string it reuses', () => {
    const path = join(tempDir(), 'events.db');
    const w = new StoreWriter(path, { maxAgeMs: 0, maxRows: SWEEP_CHUNK + 9_999, maxSizeBytes: 0 });
    open.push(w);
    const n = SWEEP_CHUNK + 10_000;
    const names = Array.from({ length: n }, (_, k) => (k === 0 ? 'reused' : `n${k % 1000}`));
    for (let from = 0; from < n; from += 5000) w.write(request(from + 1, names.slice(from, from + 5000)));
    // The prune removes seq 1, the only row named "reused".
    while (!w.pruneStep().done);
    const first = w.sweepStringsStep();
    expect(first).toEqual({ done: false, deleted: 0 });
    // Mid-sweep, a new row takes "reused" again (its id comes from the writer's cache).
    w.write(request(n + 1, ['reused']));
    let step = w.sweepStringsStep();
    while (!step.done) step = w.sweepStringsStep();
    expect(step.deleted).toBe(0);
    expect(audit(path)).toMatchObject({ unreferenced: 0, dangling: 0 });
    const db = new Database(path, { readonly: true });
    const last = db.prepare('SELECT name, cwd FROM process_events WHERE seq = ?').get(n + 1);
    db.close();
    expect(last).toEqual({ name: 'reused', cwd: '/work/reused' });
  }, 60_000);
});
