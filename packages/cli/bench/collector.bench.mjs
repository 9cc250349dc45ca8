/**
 * The whole default collector, as an operator runs it (`daemoneye-collector run --output none`, every
 * default source, the store, IPC, the bus and triggers), measured from outside through /proc:
 *
 *   idle      CPU % of one core and RSS over IDLE_S seconds with the host quiet (after a warm-up)
 *   loaded    CPU % and RSS while a generator creates and removes files under /tmp at RATE events/s
 *             (the filesystem source's rate limit lifted so every event goes through the pipeline);
 *             the events per second the collector accepted, from its own ledger (`status --json`)
 *
 * Beside it, in the same windows, the C tools a user might run instead for part of the ground:
 * forkstat (process events) plus `inotifywait -m -r /tmp` (file events), when installed (Debian:
 * forkstat, inotify-tools). Needs root (the default sources' kernel interfaces); serialize with other
 * kernel runs (`flock /tmp/daemoneye-kernel.lock`). Env: IDLE_S (60; quick 20), LOAD_S (30; quick 10),
 * RATE (10000), WARMUP_S (15). Prints the table and writes bench-results/collector.json.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { writeBenchResult } from '../../../tools/bench/results.mjs';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const BIN = path.join(ROOT, 'packages/cli/dist/bin.js');
const quick = process.env.BENCH_QUICK === '1' || process.argv.includes('--quick');
const IDLE_S = Number(process.env.IDLE_S ?? (quick ? 20 : 60));
const LOAD_S = Number(process.env.LOAD_S ?? (quick ? 10 : 30));
const RATE = Number(process.env.RATE ?? 10_000);
const WARMUP_S = Number(process.env.WARMUP_S ?? 15);
const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (process.getuid?.() !== 0) {
  console.log('collector bench: needs root (the default sources open kernel interfaces); skipped');
  process.exit(0);
}

function cpuTicks(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}
function memMb(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024, threads: Number(/Threads:\s+(\d+)/.exec(s)?.[1] ?? 0) };
  } catch {
    return { rss: 0, peak: 0, threads: 0 };
  }
}
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

const dataDir = mkdtempSync(path.join(tmpdir(), 'de-bench-collector-'));
const env = { ...process.env, XDG_CONFIG_HOME: '/nonexistent' };
function status() {
  const r = spawnSync(process.execPath, [BIN, 'status', '--no-system-config', '--json', '--data-dir', dataDir], {
    encoding: 'utf8',
    env,
  });
  return r.status === 0 ? JSON.parse(r.stdout) : undefined;
}
const accepted = (s) => s?.stats?.events?.accepted ?? 0;
const lost = (s) =>
  (s?.stats?.sources ?? []).reduce(
    (n, c) => n + Object.values({ ...(c.dropped ?? {}), ...(c.lost ?? {}) }).reduce((a, b) => a + Number(b), 0),
    0,
  );

const collector = spawn(
  process.execPath,
  [
    BIN,
    'run',
    '--no-system-config',
    '--output',
    'none',
    '--data-dir',
    dataDir,
    '--log-level',
    'warn',
    '--set',
    'sources.filesystem.rate_limit=0',
  ],
  { env, stdio: ['ignore', 'ignore', 'inherit'] },
);
const peers = [];
if (has('forkstat')) peers.push(spawn('forkstat', ['-e', 'exec,exit,fork'], { stdio: 'ignore' }));
else console.log('forkstat is missing (apt-get install forkstat): the comparison leaves it out');
if (has('inotifywait')) peers.push(spawn('inotifywait', ['-m', '-r', '-q', '/tmp'], { stdio: 'ignore' }));
else console.log('inotifywait is missing (apt-get install inotify-tools): the comparison leaves it out');

let ready;
for (let i = 0; i < 120 && ready === undefined; i++) {
  await sleep(500);
  const s = status();
  if (s?.stats?.state === 'running' && s.health.sources.every((x) => x.state === 'running')) ready = s;
}
if (ready === undefined) {
  console.error('the collector did not come up');
  collector.kill('SIGKILL');
  for (const p of peers) p.kill('SIGKILL');
  process.exit(1);
}
console.log(
  `  collector up (backends: ${ready.health.sources.map((s) => `${s.name} ${s.backend}`).join(', ')}); warm-up ${WARMUP_S} s`,
);
await sleep(WARMUP_S * 1000);

const pids = { collector: collector.pid, peers: peers.map((p) => p.pid) };
const cpuOf = (list) => list.reduce((n, pid) => n + cpuTicks(pid), 0);
async function window(seconds) {
  const c0 = cpuTicks(pids.collector);
  const p0 = cpuOf(pids.peers);
  const s0 = status();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const wall = (performance.now() - t0) / 1000;
  const s1 = status();
  return {
    wallS: wall,
    collectorCpuPct: ((cpuTicks(pids.collector) - c0) / TICK / wall) * 100,
    peersCpuPct: ((cpuOf(pids.peers) - p0) / TICK / wall) * 100,
    acceptedPerS: (accepted(s1) - accepted(s0)) / wall,
    lost: lost(s1) - lost(s0),
    collectorMem: memMb(pids.collector),
    peersRssMb: pids.peers.reduce((n, pid) => n + memMb(pid).rss, 0),
  };
}

console.log(`  idle window: ${IDLE_S} s`);
const idle = await window(IDLE_S);

// The generator: one process creating and removing files at RATE events/s (create + delete = 2 events).
const work = mkdtempSync(path.join('/tmp', 'de-bench-collector-load-'));
const GEN = `
const { closeSync, openSync, unlinkSync } = require('node:fs');
const dir = process.argv[1], rate = Number(process.argv[2]), until = Date.now() + Number(process.argv[3]) * 1000;
let done = 0; const t0 = Date.now();
const tick = () => {
  const now = Date.now();
  if (now >= until) { process.stdout.write(String(done / ((now - t0) / 1000))); return; }
  const due = Math.floor(((now - t0) / 1000) * rate / 2);
  while (done < due) { const f = dir + '/f' + done; closeSync(openSync(f, 'w')); unlinkSync(f); done++; }
  setTimeout(tick, 1);
};
tick();`;
console.log(`  load window: ${LOAD_S} s at ${RATE} file events/s`);
const gen = spawn(process.execPath, ['-e', GEN, work, String(RATE), String(LOAD_S + 2)], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const genExit = new Promise((r) => gen.on('exit', r));
let genOut = '';
gen.stdout.on('data', (d) => {
  genOut += d;
});
await sleep(1000);
const loaded = await window(LOAD_S);
await genExit;
const generatedPerS = Number(genOut) * 2;

const collectorExit = collector.exitCode !== null ? Promise.resolve() : new Promise((r) => collector.on('exit', r));
collector.kill('SIGINT');
await collectorExit;
for (const p of peers) p.kill('SIGTERM');
rmSync(work, { recursive: true, force: true });
rmSync(dataDir, { recursive: true, force: true });

const f = (x, d = 2) => (x === undefined || Number.isNaN(x) ? '—' : x.toFixed(d));
const peerName = ['forkstat', 'inotifywait'].filter(has).join(' + ') || '—';
const rows = [
  ['idle CPU, % of one core', f(idle.collectorCpuPct), peers.length ? f(idle.peersCpuPct) : '—', '≤ 1 %'],
  [
    'idle RSS, MB (peak)',
    `${f(idle.collectorMem.rss, 0)} (${f(idle.collectorMem.peak, 0)})`,
    peers.length ? f(idle.peersRssMb, 1) : '—',
    '≤ 80 MB',
  ],
  ['threads', String(idle.collectorMem.threads), '—', ''],
  [
    'events accepted per s under load',
    f(loaded.acceptedPerS, 0),
    '—',
    `${RATE} offered (${f(generatedPerS, 0)} generated)`,
  ],
  ['CPU under load, % of one core', f(loaded.collectorCpuPct), peers.length ? f(loaded.peersCpuPct) : '—', '≤ 5 %'],
  [
    'RSS under load, MB (peak)',
    `${f(loaded.collectorMem.rss, 0)} (${f(loaded.collectorMem.peak, 0)})`,
    peers.length ? f(loaded.peersRssMb, 1) : '—',
    '',
  ],
  ['events lost under load (counted)', String(loaded.lost), '—', '0'],
];
console.log('');
console.log(
  `whole default collector (${ready.health.sources.map((s) => `${s.name}: ${s.backend}`).join(', ')}), idle ${IDLE_S} s, load ${LOAD_S} s`,
);
console.log(`| figure | daemoneye-collector run | ${peerName} | goal |`);
console.log('| --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
console.log(
  `load average after: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
writeBenchResult('collector', {
  idleS: IDLE_S,
  loadS: LOAD_S,
  rate: RATE,
  generatedPerS,
  idle,
  loaded,
  peers: peerName,
});
