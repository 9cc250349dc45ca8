import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isCollectorError } from '@daemoneye/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { batchAt, tempDir } from '../test/fixtures.ts';
import { openEventStore } from './event-store.ts';
import { runQuery } from './query.ts';
import { checkReadOnlySql } from './sql-guard.ts';

let path = '';
const digest = () => createHash('sha256').update(readFileSync(path)).digest('hex');

beforeAll(async () => {
  const dir = tempDir();
  path = join(dir, 'events.db');
  const s = await openEventStore({ path, retention: { intervalMs: 0 } });
  await s.write(batchAt(0, 100, () => Date.now()));
  await s.close();
});

async function all(sql: string, timeoutMs?: number): Promise<{ columns: readonly string[]; rows: unknown[][] }> {
  let columns: readonly string[] = [];
  const rows: unknown[][] = [];
  await runQuery({
    path,
    sql,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    onColumns: (c) => {
      columns = c;
    },
    onRows: (r) => void rows.push(...r.map((x) => [...x])),
  });
  return { columns, rows };
}

// Every statement that writes, attaches, loads an extension, changes a pragma or opens a transaction.
const REFUSED = [
  ["INSERT INTO runs (run_id, hostname, first_seen) VALUES ('x', 'y', 0)", 'INSERT'],
  ['UPDATE process_events SET name = 1', 'UPDATE'],
  ['DELETE FROM process_events', 'DELETE'],
  ["REPLACE INTO runs (run, run_id, hostname, first_seen) VALUES (1, 'x', 'y', 0)", 'REPLACE'],
  ['WITH old AS (SELECT seq FROM events) DELETE FROM process_events WHERE seq IN old', 'DELETE'],
  ['CREATE TABLE x (a)', 'CREATE'],
  ['CREATE TEMP VIEW v AS SELECT 1', 'CREATE'],
  ['CREATE TRIGGER t AFTER INSERT ON runs BEGIN SELECT 1; END', 'CREATE'],
  ['DROP TABLE process_events', 'DROP'],
  ['ALTER TABLE runs ADD COLUMN x', 'ALTER'],
  ["ATTACH DATABASE '/tmp/other.db' AS other", 'ATTACH'],
  ['DETACH DATABASE other', 'DETACH'],
  ["SELECT load_extension('/tmp/evil.so')", 'load_extension'],
  ["SELECT * FROM process_events WHERE load_extension('x') IS NULL", 'load_extension'],
  ["SELECT writefile('/tmp/x', 'data')", 'writefile'],
  ['PRAGMA journal_mode = DELETE', 'PRAGMA'],
  ['PRAGMA query_only = OFF', 'PRAGMA'],
  ['PRAGMA user_version', 'PRAGMA'],
  ["VACUUM INTO '/tmp/copy.db'", 'VACUUM'],
  ['REINDEX', 'REINDEX'],
  ['ANALYZE', 'ANALYZE'],
  ['BEGIN IMMEDIATE', 'BEGIN'],
  ['COMMIT', 'COMMIT'],
  ['ROLLBACK', 'ROLLBACK'],
  ['SAVEPOINT a', 'SAVEPOINT'],
  ['RELEASE a', 'RELEASE'],
  ['SELECT 1; DELETE FROM process_events', ';'],
  ['SELECT 1; SELECT 2', ';'],
  ['EXPLAIN DELETE FROM process_events', 'DELETE'],
  ['/* a comment */ DELETE FROM process_events -- and more', 'DELETE'],
  ['   ', ''],
] as const;

describe('runQuery', () => {
  it.each(REFUSED)('refuses %s and leaves the store untouched', async (sql, offending) => {
    const before = digest();
    const e = await all(sql).catch((err: unknown) => err);
    expect(isCollectorError(e, 'ERR_QUERY_REFUSED')).toBe(true);
    expect((e as { details: { offending: string } }).details.offending).toBe(offending);
    expect((e as Error).message).toMatch(/only read-only queries run/);
    expect(digest()).toBe(before);
    expect(readdirSync(join(path, '..')).filter((f) => !f.startsWith('events.db'))).toEqual([]);
  });

  it('runs queries whose literals, names or comments hold forbidden words', async () => {
    expect(() => checkReadOnlySql('SELECT \'DELETE FROM x; PRAGMA y\' AS "drop" -- ATTACH\n')).not.toThrow();
    const r = await all(
      "SELECT replace(name, 'proc', 'p') AS \"delete\", count(*) AS n FROM process_events /* PRAGMA */ WHERE name = 'proc1' GROUP BY 1;",
    );
    expect(r).toEqual({ columns: ['delete', 'n'], rows: [['p1', 1]] });
    const info = await all("SELECT name FROM pragma_table_info('runs') ORDER BY cid");
    expect(info.rows).toEqual([['run'], ['run_id'], ['hostname'], ['first_seen'], ['machine_id']]);
  });

  it('streams rows in chunks with their column names', async () => {
    let chunks = 0;
    const got: unknown[][] = [];
    const r = await runQuery({
      path,
      sql: 'SELECT seq, kind FROM events ORDER BY seq',
      chunkRows: 30,
      onRows: async (rows) => {
        chunks++;
        got.push(...rows.map((x) => [...x]));
        await new Promise((done) => setTimeout(done, 5));
      },
    });
    expect(r.rows).toBe(100);
    expect(chunks).toBe(4);
    expect(got.map((x) => x[0])).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(got[7]).toEqual([8, 'network']);
  });

  it('reports SQL that SQLite rejects as ERR_QUERY_FAILED', async () => {
    const e = await all('SELECT nope FROM process_events').catch((err: unknown) => err);
    expect(isCollectorError(e, 'ERR_QUERY_FAILED')).toBe(true);
    expect((e as Error).message).toBe('no such column: nope');
  });

  it('stops a runaway query at its time limit and leaves no process behind', async () => {
    const started = Date.now();
    const e = await all(
      'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c',
      500,
    ).catch((err: unknown) => err);
    const took = Date.now() - started;
    expect(isCollectorError(e, 'ERR_QUERY_TIMEOUT')).toBe(true);
    expect((e as Error).message).toBe('the query was stopped at its time limit of 500 ms');
    expect(took).toBeGreaterThanOrEqual(500);
    await new Promise((r) => setTimeout(r, 200));
    const runners = readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('query-runner.js');
        } catch {
          return false;
        }
      });
    expect(runners).toEqual([]);
  });

  it('says when there is no store yet', async () => {
    const missing = join(tempDir(), 'events.db');
    const e = await runQuery({ path: missing, sql: 'SELECT 1' }).catch((err: unknown) => err);
    expect(isCollectorError(e, 'ERR_QUERY_FAILED')).toBe(true);
    expect((e as Error).message).toBe(`no event store at ${missing}: run the collector first`);
  });
});
