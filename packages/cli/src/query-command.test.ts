import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { batchOf, CollectionEvent } from '@daemoneye/core';
import { openEventStore } from '@daemoneye/store-sqlite';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from './main.ts';

let dataDir = '';

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'de-cli-query-'));
  const store = await openEventStore({ path: join(dataDir, 'events.db'), host: { hostname: 'box' } });
  const t = Date.parse('2025-01-02T03:04:05Z');
  await store.write(
    batchOf(
      [
        CollectionEvent.process({
          pid: 10,
          ppid: 1,
          name: 'sshd',
          commandLine: ['sshd', '-D'],
          accessible: true,
          fileExists: true,
          timestamp: t,
        }),
        CollectionEvent.process({
          pid: 2000,
          ppid: 10,
          name: 'bash',
          commandLine: ['bash', '-c', 'echo "hi", there'],
          accessible: true,
          fileExists: true,
          timestamp: t + 1,
        }),
        CollectionEvent.filesystem({ path: '/etc/passwd', operation: 'modify', timestamp: t + 2 }),
      ],
      { firstSeq: 1, runId: 'r1' },
    ),
  );
  await store.close();
});

function io(tty = false) {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY: tty });
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return { io: { stdout, stderr, env: {}, progressIntervalMs: 20 }, out: () => out, err: () => err };
}

const base = ['--no-system-config', '--config', '/dev/null'];

describe('daemoneye-collector query', () => {
  it('prints an aligned table with numbers right-aligned and NULL shown', async () => {
    const c = io();
    const code = await main(
      [
        'query',
        ...base,
        '--data-dir',
        dataDir,
        'SELECT e.seq, p.pid, p.name, p.ppid FROM events e LEFT JOIN process_events p USING (seq) ORDER BY e.seq',
      ],
      c.io,
    );
    expect(c.err()).toBe('');
    expect(code).toBe(0);
    expect(c.out()).toBe(
      [
        'seq  pid   name  ppid',
        '---  ----  ----  ----',
        '  1    10  sshd     1',
        '  2  2000  bash    10',
        '  3  NULL  NULL  NULL',
        '(3 rows)',
        '',
      ].join('\n'),
    );
  });

  it('prints JSON lines with --json', async () => {
    const c = io();
    expect(
      await main(
        ['query', ...base, '-d', dataDir, '--json', 'SELECT pid, name, command_line FROM process_events ORDER BY pid'],
        c.io,
      ),
    ).toBe(0);
    expect(
      c
        .out()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { pid: 10, name: 'sshd', command_line: 'sshd -D' },
      { pid: 2000, name: 'bash', command_line: 'bash -c echo "hi", there' },
    ]);
  });

  it('prints RFC 4180 CSV with --csv', async () => {
    const c = io();
    expect(
      await main(
        [
          'query',
          ...base,
          '-d',
          dataDir,
          '--csv',
          'SELECT pid, command_line, exit_code FROM process_events ORDER BY pid',
        ],
        c.io,
      ),
    ).toBe(0);
    expect(c.out()).toBe('pid,command_line,exit_code\r\n10,sshd -D,\r\n2000,"bash -c echo ""hi"", there",\r\n');
  });

  it('answers the parent view and keeps host identity', async () => {
    const c = io();
    const sql =
      'SELECT p.name, (SELECT q.name FROM process_events q WHERE q.pid = p.ppid) AS parent, r.hostname, r.run_id FROM process_events p JOIN runs r USING (run) WHERE p.pid = 2000';
    expect(await main(['query', ...base, '-d', dataDir, '--json', sql], c.io)).toBe(0);
    expect(JSON.parse(c.out())).toEqual({ name: 'bash', parent: 'sshd', hostname: 'box', run_id: 'r1' });
  });

  it('refuses a writing statement with exit 2 and one line', async () => {
    const c = io();
    expect(await main(['query', ...base, '-d', dataDir, 'DELETE FROM process_events'], c.io)).toBe(2);
    expect(c.err()).toBe(
      'daemoneye-collector: ERR_QUERY_REFUSED: a statement starting with DELETE is not a query: only read-only queries run (no writing, ATTACH, extensions, pragmas or transactions)\n',
    );
  });

  it('stops a runaway query at --timeout with exit 1', async () => {
    const c = io();
    const sql = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c';
    expect(await main(['query', ...base, '-d', dataDir, '--timeout', '300ms', sql], c.io)).toBe(1);
    expect(c.err()).toBe('daemoneye-collector: ERR_QUERY_TIMEOUT: the query was stopped at its time limit of 300 ms\n');
  });

  it('shows export progress on a terminal, ending with the total', async () => {
    const c = io(true);
    const sql = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) SELECT x FROM c';
    expect(await main(['query', ...base, '-d', dataDir, '--csv', sql], c.io)).toBe(0);
    expect(c.out().split('\r\n').length).toBe(300_002);
    expect(c.err()).toMatch(/^(\r[\d,]+ rows written)+\n$/);
    expect(c.err().endsWith('\r300,000 rows written\n')).toBe(true);
  });

  it('needs the SQL, and one of --json and --csv', async () => {
    const a = io();
    expect(await main(['query', ...base], a.io)).toBe(2);
    expect(a.err()).toMatch(/^daemoneye-collector: ERR_CLI_USAGE: query needs the SQL to run/);
    const b = io();
    expect(await main(['query', ...base, '--json', '--csv', 'SELECT 1'], b.io)).toBe(2);
    expect(b.err()).toMatch(/^daemoneye-collector: ERR_CLI_USAGE: choose one of --json and --csv/);
  });

  it('says where no store exists yet', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'de-cli-empty-'));
    const c = io();
    expect(await main(['query', ...base, '-d', empty, 'SELECT 1'], c.io)).toBe(1);
    expect(c.err()).toBe(
      `daemoneye-collector: ERR_QUERY_FAILED: no event store at ${join(empty, 'events.db')}: run the collector first\n`,
    );
  });
});
