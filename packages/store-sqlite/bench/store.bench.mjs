// Event store benchmark, in one run: events per second batched into the store through its sink (as
// the collector writes: awaited 1,000-event batches), beside a bare better-sqlite3 insert loop of the
// same rows into the same tables on the calling thread (the overhead ratio, and how long each keeps
// the calling thread's event loop blocked) — the bare loop does the per-event work a user would need
// for these tables (the row, its interned strings, the JSON of the fields without a column), once
// with one INSERT per row and once with the store's 32-row statements; then the latency of "processes of the last hour by
// parent" over a 1,000,000-row store, through `runQuery` (a child process) and in-process. Runs
// against the built package; prints a table and writes JSON to bench-results/.
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { batchOf, CollectionEvent, silentLogger } from '@daemoneye/core';
import Database from 'better-sqlite3';
import { writeBenchResult } from '../../../tools/bench/results.mjs';
import { createStoreSink, openEventStore, runQuery, SCHEMA_VERSION } from '../dist/index.js';
import { PROCESS_ROW_COLUMNS, processInsertSql, processRow } from '../dist/internal/rows.js';
import { ROW_CHUNK } from '../dist/internal/store-writer.js';

const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const out = (s = '') => process.stdout.write(`${s}\n`);
const results = { when: new Date().toISOString(), node: process.version, quick, sections: {} };
const B = 1000;

function processEvent(k, timestamp) {
  return CollectionEvent.process({
    subtype: k % 4 === 0 ? 'exec' : k % 4 === 1 ? 'start' : k % 4 === 2 ? 'exit' : 'snapshot',
    pid: 1000 + ((k * 7919) % 30000),
    ppid: 1 + (k % 97),
    name: `proc${k % 200}`,
    executablePath: `/usr/bin/proc${k % 200}`,
    commandLine: [`proc${k % 200}`, '--flag', String(k)],
    startTime: timestamp - 1000,
    userId: String(k % 3),
    userName: k % 3 === 0 ? 'root' : 'user',
    accessible: true,
    fileExists: true,
    timestamp,
  });
}

function makeBatches(n, at) {
  const batches = [];
  for (let from = 0; from < n; from += B) {
    const events = [];
    for (let k = from; k < from + B; k++) events.push(processEvent(k, at(k)));
    batches.push(batchOf(events, { runId: 'bench', firstSeq: from + 1, source: 'process' }));
  }
  return batches;
}

function loopDelay() {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  return () => {
    h.disable();
    return { p99Ms: +(h.percentile(99) / 1e6).toFixed(1), maxMs: +(h.max / 1e6).toFixed(1) };
  };
}

async function viaStore(batches, n) {
  const dir = mkdtempSync(join(tmpdir(), 'store-bench-'));
  const sink = createStoreSink({ retention: { intervalMs: 0, maxAgeMs: 0, maxSizeBytes: 0 } });
  const signal = new AbortController().signal;
  await sink.open(signal, { componentName: 'bench', host: { hostname: 'bench' }, dataDir: dir, logger: silentLogger });
  const delay = loopDelay();
  const t = performance.now();
  for (const b of batches) await sink.write(b, signal);
  await sink.close();
  const s = (performance.now() - t) / 1000;
  rmSync(dir, { recursive: true, force: true });
  return { eventsPerSecond: Math.round(n / s), seconds: +s.toFixed(2), eventLoop: delay() };
}

async function bareLoop(batches, n, perStatement) {
  const dir = mkdtempSync(join(tmpdir(), 'store-bench-bare-'));
  const path = join(dir, 'events.db');
  // The same tables and indexes, created by the store, then written by hand.
  await (await openEventStore({ path, retention: { intervalMs: 0 } })).close();
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.prepare("INSERT INTO runs (run, run_id, hostname, first_seen) VALUES (1, 'bench', 'bench', 0)").run();
  const one = db.prepare(processInsertSql(1));
  const many = db.prepare(processInsertSql(perStatement));
  const select = db.prepare('SELECT id FROM strings WHERE value = ?').pluck();
  const insertString = db.prepare('INSERT INTO strings (value) VALUES (?)');
  const known = new Map();
  const ids = {
    id(value) {
      let id = known.get(value);
      if (id === undefined) {
        id = select.get(value) ?? Number(insertString.run(value).lastInsertRowid);
        known.set(value, id);
      }
      return id;
    },
  };
  const width = PROCESS_ROW_COLUMNS.length;
  const delay = loopDelay();
  const t = performance.now();
  for (const batch of batches) {
    db.transaction(() => {
      const r = batch.records;
      let values = [];
      for (let i = 0; i < batch.length; i++) {
        const record = {
          seq: r.seq(i),
          run: 1,
          source: r.source(i),
          acceptedAt: r.acceptedAt(i),
          cause: null,
          depth: 0,
        };
        processRow(batch[i], record, ids, ids.id(record.source), values);
        if (values.length === perStatement * width) {
          (perStatement === 1 ? one : many).run(values);
          values = [];
        }
      }
      for (let at = 0; at < values.length; at += width) one.run(values.slice(at, at + width));
    })();
    // A caller that yields between batches, as a collector would have to.
    await new Promise((r) => setImmediate(r));
  }
  db.close();
  const s = (performance.now() - t) / 1000;
  rmSync(dir, { recursive: true, force: true });
  return { eventsPerSecond: Math.round(n / s), seconds: +s.toFixed(2), eventLoop: delay() };
}

async function insertSection() {
  const n = quick ? 50_000 : 200_000;
  const now = Date.now();
  const batches = makeBatches(n, (k) => now - n + k);
  const bare = await bareLoop(batches, n, 1);
  const bareChunked = await bareLoop(batches, n, ROW_CHUNK);
  const store = await viaStore(batches, n);
  const row = {
    events: n,
    store,
    bareBetterSqlite3: bare,
    bareBetterSqlite3Chunked: bareChunked,
    overheadRatio: +(bare.eventsPerSecond / store.eventsPerSecond).toFixed(2),
    overheadRatioChunked: +(bareChunked.eventsPerSecond / store.eventsPerSecond).toFixed(2),
    loadAverage: os.loadavg().map((l) => +l.toFixed(2)),
  };
  results.sections.insert = row;
  out(
    `\ninsert: ${n} process events in batches of ${B} (WAL, synchronous=NORMAL, schema ${SCHEMA_VERSION}: indexes on time and pid; load average ${row.loadAverage.join(' ')})`,
  );
  out('| writer | events/s | seconds | event loop p99 ms | event loop max ms |');
  out('| --- | ---: | ---: | ---: | ---: |');
  out(
    `| store sink (worker thread) | ${store.eventsPerSecond} | ${store.seconds} | ${store.eventLoop.p99Ms} | ${store.eventLoop.maxMs} |`,
  );
  out(
    `| bare better-sqlite3 loop, one INSERT per row (calling thread) | ${bare.eventsPerSecond} | ${bare.seconds} | ${bare.eventLoop.p99Ms} | ${bare.eventLoop.maxMs} |`,
  );
  out(
    `| bare better-sqlite3 loop, ${ROW_CHUNK} rows per INSERT (calling thread) | ${bareChunked.eventsPerSecond} | ${bareChunked.seconds} | ${bareChunked.eventLoop.p99Ms} | ${bareChunked.eventLoop.maxMs} |`,
  );
  out(
    `overhead ratio (bare / store): ${row.overheadRatio} (one INSERT per row), ${row.overheadRatioChunked} (${ROW_CHUNK} rows per INSERT)`,
  );
}

// SQLite alone: the same number of schema-3 process rows generated inside SQLite (INSERT ... SELECT
// over a recursive CTE: no JavaScript, no parameter binding) into a new store, 20,000 per
// transaction as the worker commits them, with and without the pid index: the ceiling of this
// layout on this machine.
function sqliteAlone(n, withPidIndex) {
  const dir = mkdtempSync(join(tmpdir(), 'store-bench-alone-'));
  const db = new Database(join(dir, 'events.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('cache_size = -65536');
  db.exec(`CREATE TABLE process_rows (seq INTEGER PRIMARY KEY, run INTEGER NOT NULL, source INTEGER NOT NULL,
    accepted_at INTEGER NOT NULL, time INTEGER NOT NULL, cause_seq INTEGER, depth INTEGER NOT NULL DEFAULT 0,
    subtype INTEGER NOT NULL, pid INTEGER NOT NULL, ppid INTEGER, name INTEGER NOT NULL, executable_path INTEGER,
    command_line TEXT, argv TEXT, start_time INTEGER, cpu_usage REAL, memory_usage INTEGER, executable_hash INTEGER,
    user_id INTEGER, user_name INTEGER, exit_code INTEGER, cwd INTEGER, cgroup INTEGER, container_id INTEGER,
    flags INTEGER NOT NULL, extra TEXT);
    CREATE INDEX process_rows_time ON process_rows(time);
    ${withPidIndex ? 'CREATE INDEX process_rows_pid ON process_rows(pid);' : ''}`);
  const now = Date.now();
  const insert = db.prepare(`WITH RECURSIVE c(k) AS (SELECT ? UNION ALL SELECT k + 1 FROM c WHERE k < ?)
    INSERT INTO process_rows SELECT k + 1, 1, 1, ${now}, ${now - n} + k, NULL, 0, k % 4, 1000 + ((k * 7919) % 30000),
      1 + (k % 97), 10 + k % 200, 300 + k % 200, 'proc' || (k % 200) || ' --flag ' || k, NULL, ${now - 1000}, NULL, NULL,
      NULL, 5 + k % 3, 8 + k % 2, NULL, NULL, NULL, NULL, 3, NULL FROM c`);
  const t = performance.now();
  for (let from = 0; from < n; from += 20_000) insert.run(from, Math.min(n, from + 20_000) - 1);
  const s = (performance.now() - t) / 1000;
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return Math.round(n / s);
}

function ceilingSection() {
  const sizes = quick ? [50_000] : [200_000, 1_000_000];
  const row = {};
  out('\nSQLite alone: schema-3 process rows generated in SQL, 20,000 per transaction');
  out('| rows | time index only, rows/s | time and pid indexes, rows/s |');
  out('| ---: | ---: | ---: |');
  for (const n of sizes) {
    row[n] = { timeIndexOnly: sqliteAlone(n, false), timeAndPidIndexes: sqliteAlone(n, true) };
    out(`| ${n} | ${row[n].timeIndexOnly} | ${row[n].timeAndPidIndexes} |`);
  }
  results.sections.sqliteAlone = row;
}

async function timeIt(fn, runs) {
  await fn();
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { medianMs: +times[Math.floor(runs / 2)].toFixed(1), maxMs: +times[runs - 1].toFixed(1), runs };
}

async function querySection() {
  const n = quick ? 100_000 : 1_000_000;
  const dir = mkdtempSync(join(tmpdir(), 'store-bench-q-'));
  const path = join(dir, 'events.db');
  const store = await openEventStore({ path, retention: { intervalMs: 0, maxAgeMs: 0, maxSizeBytes: 0 } });
  const now = Date.now();
  // Two hours of events, evenly spread: half of them in the last hour.
  const at = (k) => now - 7200_000 + Math.floor((k * 7200_000) / n);
  const pending = [];
  const fill = performance.now();
  for (let from = 0; from < n; from += B) {
    const events = [];
    for (let k = from; k < from + B; k++) events.push(processEvent(k, at(k)));
    pending.push(store.write(batchOf(events, { runId: 'bench', firstSeq: from + 1, source: 'process' })));
    if (pending.length >= 8) await pending.shift();
  }
  await Promise.all(pending);
  const fillSeconds = +((performance.now() - fill) / 1000).toFixed(1);
  await store.close();
  const byParent = `SELECT ppid, count(*) AS started FROM process_events
    WHERE subtype IN ('start', 'exec') AND time >= ${now - 3600_000} GROUP BY ppid ORDER BY started DESC`;
  const viewByParent =
    'SELECT parent_name, count(*) AS started FROM processes_last_hour GROUP BY parent_name ORDER BY started DESC';
  const viaRunQuery = (sql) => () =>
    runQuery({
      path,
      sql,
      timeoutMs: 120_000,
      // Every row crosses back to this process, as it does for `daemoneye-collector query`.
      onRows: () => undefined,
    });
  const db = new Database(path, { readonly: true });
  const inProcess = (sql) => () => db.prepare(sql).all();
  const runs = quick ? 3 : 5;
  const row = {
    rows: n,
    fillSeconds,
    byParentRunQuery: await timeIt(viaRunQuery(byParent), runs),
    byParentInProcess: await timeIt(inProcess(byParent), runs),
    viewByParentNameRunQuery: await timeIt(viaRunQuery(viewByParent), runs),
    viewByParentNameInProcess: await timeIt(inProcess(viewByParent), runs),
    groups: db.prepare(byParent).all().length,
    startedInLastHour: db
      .prepare(`SELECT count(*) AS n FROM (${viewByParent.replace(' ORDER BY started DESC', '')})`)
      .get().n,
  };
  db.close();
  rmSync(dir, { recursive: true, force: true });
  results.sections.query = row;
  out(
    `\nquery: processes of the last hour by parent over ${n} rows (store filled in ${fillSeconds} s; ${row.groups} parents)`,
  );
  out('| query | how | median ms | max ms | runs |');
  out('| --- | --- | ---: | ---: | ---: |');
  for (const [k, v] of Object.entries(row)) {
    if (v && typeof v === 'object')
      out(
        `| ${k.startsWith('view') ? 'processes_last_hour view, by parent_name' : 'by ppid (time index)'} | ${k.endsWith('RunQuery') ? 'runQuery (child process)' : 'better-sqlite3 in process'} | ${v.medianMs} | ${v.maxMs} | ${v.runs} |`,
      );
  }
}

// `--only=insert`, `--only=query` or `--only=ceiling` runs one section.
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
if (only === undefined || only === 'insert') await insertSection();
if (only === undefined || only === 'query') await querySection();
if (only === undefined || only === 'ceiling') ceilingSection();

writeBenchResult('store-sqlite', results);
