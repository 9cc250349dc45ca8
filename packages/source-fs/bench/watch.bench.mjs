// Filesystem watching benchmark, side by side in one run: this package's source with fanotify and
// with inotify, chokidar, and Node's recursive fs.watch, each in a process of its own watching the
// same kind of tree.
//  1. Creates: a helper process creates 100,000 empty files (1,000 in each of 100 directories) as
//     fast as it can; each watcher counts the distinct created paths it reported. Printed: events/s
//     (files seen over the time from the first create to the last event), CPU (user + system of the
//     watcher's process) per 1,000 events, and files missed.
//  2. Start-up: a tree of 50,000 files (500 directories of 100); the time from creating the watcher
//     until it says it is ready, and until a file created in the last directory is reported.
// fanotify marks are machine-wide: run under `flock /tmp/daemoneye-kernel.lock`. Needs root for the
// fanotify row. Runs against the built package; prints a table and the load average and writes JSON
// to bench-results/.
import { execFile, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writeBenchResult } from '../../../tools/bench/results.mjs';

const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const CREATES = quick ? 10_000 : 100_000;
const CREATE_DIRS = 100;
const TREE_DIRS = quick ? 50 : 500;
const TREE_FILES = 100;
const IDLE_MS = 2000;
const out = (s = '') => process.stdout.write(`${s}\n`);
const self = fileURLToPath(import.meta.url);
const WATCHERS = ['daemoneye-fanotify', 'daemoneye-inotify', 'chokidar', 'fs.watch-recursive'];

// --- child: one watcher ------------------------------------------------------------------------

async function startWatcher(kind, dir, onPath) {
  if (kind.startsWith('daemoneye-')) {
    const { createFsSource } = await import('../dist/index.js');
    const source = createFsSource({
      paths: [dir],
      backend: kind === 'daemoneye-fanotify' ? 'fanotify' : 'inotify',
      rateLimit: 0,
      operations: ['create'],
      maxWatches: 1_000_000,
    });
    const ctl = new AbortController();
    let ready;
    const readyP = new Promise((r) => {
      ready = r;
    });
    const tx = {
      send: async (e) => tx.trySend(e),
      trySend: (e) => {
        if (e.operation === 'create') onPath(e.path);
        return true;
      },
      pressure: () => 0,
      underPressure: false,
      closed: false,
      ready: () => ready(),
      reportLoss: () => {},
    };
    const done = source.start(tx, ctl.signal);
    done.catch((e) => {
      process.send?.({ type: 'error', message: String(e) });
    });
    await readyP;
    return async () => {
      ctl.abort();
      await done;
    };
  }
  if (kind === 'chokidar') {
    const { watch } = await import('chokidar');
    const w = watch(dir, { ignoreInitial: true });
    w.on('add', (p) => onPath(p));
    w.on('addDir', (p) => onPath(p));
    await new Promise((r) => w.once('ready', r));
    return () => w.close();
  }
  const { watch } = await import('node:fs');
  const w = watch(dir, { recursive: true }, (_type, name) => {
    if (name !== null) onPath(join(dir, name.toString()));
  });
  return () => w.close();
}

async function child() {
  const [, , , kind, dir] = process.argv;
  const seen = new Set();
  let first = 0;
  let last = 0;
  const onPath = (p) => {
    if (seen.has(p)) return;
    seen.add(p);
    last = performance.now();
    if (first === 0) first = last;
  };
  const t0 = performance.now();
  const stop = await startWatcher(kind, dir, onPath);
  const readyMs = performance.now() - t0;
  let cpu0 = process.cpuUsage();
  process.send({ type: 'ready', readyMs });
  process.on('message', async (m) => {
    if (m.type === 'reset') {
      seen.clear();
      first = 0;
      last = 0;
      cpu0 = process.cpuUsage();
      process.send({ type: 'reset' });
    } else if (m.type === 'wait') {
      // Report once `m.path` was seen, or nothing new arrived for IDLE_MS after the helper finished.
      const started = performance.now();
      const tick = () => {
        const idle = performance.now() - Math.max(last, m.since ?? started);
        if ((m.path !== undefined && seen.has(m.path)) || idle > (m.path !== undefined ? 30_000 : IDLE_MS)) {
          const cpu = process.cpuUsage(cpu0);
          process.send({
            type: 'result',
            seen: seen.size,
            sawPath: m.path !== undefined ? seen.has(m.path) : undefined,
            firstAt: first,
            lastAt: last,
            now: performance.now(),
            cpuMs: (cpu.user + cpu.system) / 1000,
          });
        } else setTimeout(tick, 5);
      };
      tick();
    } else if (m.type === 'stop') {
      await stop();
      process.exit(0);
    }
  });
}

// --- parent ------------------------------------------------------------------------------------

function request(proc, message, type) {
  return new Promise((resolve, reject) => {
    const on = (m) => {
      if (m.type === 'error') reject(new Error(m.message));
      if (m.type !== type) return;
      proc.off('message', on);
      resolve(m);
    };
    proc.on('message', on);
    if (message !== undefined) proc.send(message);
  });
}

async function spawnWatcher(kind, dir) {
  const t0 = performance.now();
  const proc = fork(self, ['--child', kind, dir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await request(proc, undefined, 'ready');
  return { proc, readyMs: ready.readyMs, spawnMs: performance.now() - t0 };
}

const CREATOR = `
const fs = require('node:fs');
const [dir, n, dirs] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
for (let d = 0; d < dirs; d++) fs.mkdirSync(dir + '/d' + d, { recursive: true });
const t = performance.now();
for (let i = 0; i < n; i++) fs.closeSync(fs.openSync(dir + '/d' + (i % dirs) + '/f' + i, 'w'));
console.log(JSON.stringify({ ms: performance.now() - t }));
`;
const run = promisify(execFile);

async function creates(kind) {
  const dir = mkdtempSync(join(tmpdir(), 'de-bench-fs-'));
  for (let d = 0; d < CREATE_DIRS; d++) mkdirSync(join(dir, `d${d}`));
  const w = await spawnWatcher(kind, dir);
  try {
    await request(w.proc, { type: 'reset' }, 'reset');
    const { stdout } = await run(process.execPath, ['-e', CREATOR, dir, String(CREATES), String(CREATE_DIRS)]);
    const creator = JSON.parse(stdout);
    const r = await request(w.proc, { type: 'wait', since: performance.now() }, 'result');
    const seen = Math.min(r.seen, CREATES);
    const spanMs = Math.max(1, r.lastAt - r.firstAt);
    return {
      watcher: kind,
      creates: CREATES,
      creatorMs: +creator.ms.toFixed(0),
      seen,
      missed: CREATES - seen,
      eventsPerSec: Math.round((seen / spanMs) * 1000),
      cpuMsPer1000: seen > 0 ? +((r.cpuMs / seen) * 1000).toFixed(2) : null,
    };
  } finally {
    w.proc.send({ type: 'stop' });
    await new Promise((r) => w.proc.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function startup(kind, treeDir) {
  const w = await spawnWatcher(kind, treeDir);
  try {
    const probe = join(treeDir, `d${TREE_DIRS - 1}`, `probe-${kind}`);
    const t = performance.now();
    writeFileSync(probe, '');
    const r = await request(w.proc, { type: 'wait', path: probe }, 'result');
    return {
      watcher: kind,
      files: TREE_DIRS * TREE_FILES,
      readyMs: +w.readyMs.toFixed(0),
      probeSeen: r.sawPath,
      probeMs: +(performance.now() - t).toFixed(0),
      processMs: +w.spawnMs.toFixed(0),
    };
  } finally {
    w.proc.send({ type: 'stop' });
    await new Promise((r) => w.proc.once('exit', r));
  }
}

async function parent() {
  const kinds = WATCHERS.filter((k) => k !== 'daemoneye-fanotify' || process.getuid?.() === 0);
  out(
    `filesystem watching: ${CREATES.toLocaleString()} creates; start-up on ${(TREE_DIRS * TREE_FILES).toLocaleString()} files`,
  );
  out(
    `load average before: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const createRows = [];
  for (const k of kinds) createRows.push(await creates(k));
  out('');
  out('creates            | events/s  | CPU ms / 1,000 events | seen     | missed | helper ms');
  for (const r of createRows)
    out(
      `${r.watcher.padEnd(18)} | ${String(r.eventsPerSec).padStart(9)} | ${String(r.cpuMsPer1000).padStart(21)} | ${String(r.seen).padStart(8)} | ${String(r.missed).padStart(6)} | ${r.creatorMs}`,
    );
  out("(events/s cannot exceed the helper's create rate: helper ms is how long the creates took beside that watcher)");
  const treeDir = mkdtempSync(join(tmpdir(), 'de-bench-tree-'));
  for (let d = 0; d < TREE_DIRS; d++) {
    mkdirSync(join(treeDir, `d${d}`));
    for (let f = 0; f < TREE_FILES; f++) writeFileSync(join(treeDir, `d${d}`, `f${f}`), '');
  }
  const startRows = [];
  try {
    for (const k of kinds) startRows.push(await startup(k, treeDir));
  } finally {
    rmSync(treeDir, { recursive: true, force: true });
  }
  out('');
  out('start-up           | ready ms | probe seen after ms | probe seen');
  for (const r of startRows)
    out(
      `${r.watcher.padEnd(18)} | ${String(r.readyMs).padStart(8)} | ${String(r.probeMs).padStart(19)} | ${r.probeSeen}`,
    );
  out('(fs.watch has no ready signal: its ready time is the call returning; the probe shows when it works)');
  out(
    `load average after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  writeBenchResult('source-fs-watch', {
    when: new Date().toISOString(),
    node: process.version,
    loadavg: loadavg(),
    creates: createRows,
    startup: startRows,
  });
}

if (process.argv[2] === '--child') await child();
else await parent();
