/**
 * The process backends side by side, in one run, as an operator would try them: the whole default
 * collector (`daemoneye-collector run --output jsonl` to a file, as root) on the eBPF backend and on
 * the proc connector + audit backend, and `forkstat -e exec -l` (Debian package forkstat, the C tool
 * an operator would pick instead), each under the same exec load:
 *
 *   start-up           CPU seconds until the monitor settles (two 2 s windows at ≤ 1 % each, 60 s at most)
 *   idle window        CPU % and RSS of the settled monitor with nothing running
 *   burst              5,000 execs of a copy of /bin/true, each with a unique argv marker, from one
 *                      bash loop: exact events (file, argv, parent; uid for the collector), CPU per
 *                      1,000 processes, wall time against the same burst with no monitor
 *   setpriv            200 setpriv --reuid=65534 sleep 0 chains: both execs right (program, argv, uid)
 *   rate               200 execs/s for RATE_S seconds: CPU % of one core
 *   soak (eBPF only)   200 execs/s for SOAK_S seconds: RSS every 10 s; plateau = RSS(end) - RSS(at 1/10)
 *   parts              where the eBPF collector's CPU goes: 200 execs/s for PARTS_S seconds against the
 *                      whole collector, then with one part turned off at a time (store, IPC, triggers,
 *                      filesystem source, network + performance sources); each part's cost is the
 *                      difference, measured in the same run; then the whole collector with the Node
 *                      options `run` starts with and with Node's defaults, alternating, twice
 *
 * Needs root, the built packages and (for the comparison) forkstat; run it under
 * `flock /tmp/daemoneye-kernel.lock` on a shared host. Env: RATE_S (default 30), IDLE_S (10),
 * SOAK_S (600; BENCH_QUICK=1 makes it 120), PARTS_S (40; 0 leaves the parts out, as BENCH_QUICK=1
 * does). Prints the tables and writes bench-results/process-backends.json.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { writeBenchResult } from '../../../tools/bench/results.mjs';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const BIN = path.join(ROOT, 'packages/cli/dist/bin.js');
const quick = process.env.BENCH_QUICK === '1' || process.argv.includes('--quick');
const IDLE_S = Number(process.env.IDLE_S ?? 10);
const RATE_S = Number(process.env.RATE_S ?? 30);
const SOAK_S = Number(process.env.SOAK_S ?? (quick ? 120 : 600));
const PARTS_S = Number(process.env.PARTS_S ?? (quick ? 0 : 40));
const BURST = 5000;
const CHAINS = 200;
const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

if (process.getuid?.() !== 0) {
  console.log('process backends bench: needs root (eBPF, proc connector, audit); skipped');
  process.exit(0);
}
const hasForkstat = spawnSync('forkstat', ['-h']).error === undefined;
if (!hasForkstat) console.log('forkstat is missing (apt-get install forkstat): its column stays empty');

const work = mkdtempSync(path.join(tmpdir(), 'de-bench-backends-'));
const tiny = path.join(work, 'tinybin');
copyFileSync('/bin/true', tiny);
const SETPRIV = execFileSync('readlink', ['-f', '/usr/bin/setpriv'], { encoding: 'utf8' }).trim();
const SLEEP = execFileSync('readlink', ['-f', '/bin/sleep'], { encoding: 'utf8' }).trim();
const log = (kind, msg) => console.log(`  ${kind}: ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** CPU ticks of a process (all its threads), or of its main thread alone with `mainOnly`. */
function cpuTicks(pid, mainOnly = false) {
  const s = readFileSync(mainOnly ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}
function memKb(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { rss: Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0), hwm: Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0) };
}
const run = (cmd, args) =>
  new Promise((resolve) => {
    const started = performance.now();
    const c = spawn(cmd, args, { stdio: 'ignore' });
    c.on('exit', (code) => resolve({ pid: c.pid, code, ms: performance.now() - started }));
  });
async function settle(file) {
  // Until the output stops growing for 1 s (or 30 s pass).
  let last = -1;
  for (let i = 0; i < 60; i++) {
    const size = statSync(file).size;
    if (size === last) return;
    last = size;
    await sleep(500);
  }
}
/** 200 execs/s: every 100 ms a sh runs 19 tinybins (20 execs with the sh). */
async function rateLoad(seconds) {
  const loop = Array.from({ length: 19 }, () => `${tiny} R`).join('; ');
  const end = Date.now() + seconds * 1000;
  let execs = 0;
  while (Date.now() < end) {
    const t = Date.now();
    spawn('/bin/sh', ['-c', loop], { stdio: 'ignore' });
    execs += 20;
    await sleep(Math.max(0, 100 - (Date.now() - t)));
  }
  await sleep(300);
  return execs / seconds;
}

function startMonitor(kind, out, extra = [], env = {}) {
  // The monitor writes the file itself, as with `> out` in a shell: a pipe through this process would
  // make every chunk it copies a write by another process under /tmp, which the filesystem source
  // reports (it ignores only the collector's own writes), and the next chunk reports that one.
  const fd = openSync(out, 'w');
  const startedAt = Date.now();
  let child;
  if (kind === 'forkstat') {
    child = spawn('forkstat', ['-e', 'exec', '-l'], { stdio: ['ignore', fd, 'ignore'] });
  } else {
    const data = mkdtempSync(path.join(work, 'data-'));
    child = spawn(
      process.execPath,
      [
        BIN,
        'run',
        '--no-system-config',
        '--output',
        'jsonl',
        '--log-level',
        'warn',
        '--set',
        `sources.process.backend=${kind}`,
        ...extra,
      ],
      {
        stdio: ['ignore', fd, 'ignore'],
        env: { ...process.env, XDG_CONFIG_HOME: '/nonexistent', DAEMONEYE_COLLECTOR_DATA_DIR: data, ...env },
      },
    );
  }
  closeSync(fd);
  const stop = () =>
    new Promise((r) => {
      if (child.exitCode !== null || child.signalCode !== null) return r();
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(t);
        r();
      });
      child.kill('SIGTERM');
    });
  return { child, out, stop, startedAt };
}

/**
 * Waits until start-up ends: two 2 s windows in a row costing at most 2 ticks each (1 % of one core),
 * or 60 s. What is measured next is the settled monitor, and the start-up is its own figure.
 */
async function startedUp(pid) {
  const from = Date.now();
  for (let calm = 0; calm < 2 && Date.now() - from < 60_000; ) {
    const c = cpuTicks(pid);
    await sleep(2000);
    calm = cpuTicks(pid) - c <= 2 ? calm + 1 : 0;
  }
}

/**
 * The rate load for `seconds` against `pid`: the rate reached, CPU % of one core, and how much of it
 * is the main thread's (the rest: workers, V8's GC helpers, libuv's pool).
 */
async function rateWindow(pid, seconds) {
  const c0 = cpuTicks(pid);
  const m0 = cpuTicks(pid, true);
  const t0 = performance.now();
  const rate = await rateLoad(seconds);
  const s = (performance.now() - t0) / 1000;
  return {
    rate,
    cpuPct: ((cpuTicks(pid) - c0) / TICK / s) * 100,
    mainCpuPct: ((cpuTicks(pid, true) - m0) / TICK / s) * 100,
  };
}

function collectorExact(out, tag, loop) {
  let exact = 0;
  const setpriv = new Map();
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    if (!line.includes('"exec"')) continue;
    let e;
    try {
      e = JSON.parse(line);
    } catch {
      continue;
    }
    if (e.subtype !== 'exec') continue;
    const m = e.commandLine?.[1];
    if (
      m?.startsWith(`M${tag}-`) &&
      e.executablePath === tiny &&
      e.commandLine.length === 2 &&
      e.ppid === loop &&
      e.userId === '0'
    )
      exact++;
    if (e.commandLine?.[0] === SETPRIV && e.commandLine[3] === `0.${tag}`)
      setpriv.set(e.pid, [
        ...(setpriv.get(e.pid) ?? []),
        ['setpriv', e.executablePath === SETPRIV && e.userId === '0'],
      ]);
    if (e.commandLine?.[0] === SLEEP && e.commandLine[1] === `0.${tag}`)
      setpriv.set(e.pid, [
        ...(setpriv.get(e.pid) ?? []),
        ['sleep', e.executablePath === SLEEP && e.userId === '65534'],
      ]);
  }
  const chainsRight = [...setpriv.values()].filter(
    (v) => v.length === 2 && v[0][0] === 'setpriv' && v[0][1] && v[1][0] === 'sleep' && v[1][1],
  ).length;
  return { exact, chainsRight };
}
function forkstatExact(out, tag) {
  const text = readFileSync(out, 'utf8');
  let exact = 0;
  let setprivSeen = 0;
  for (const line of text.split('\n')) {
    if (new RegExp(` ${tiny.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} M${tag}-\\d+\\s*$`).test(line)) exact++;
    if (line.includes(`${SETPRIV} --reuid=65534 ${SLEEP} 0.${tag}`)) setprivSeen++;
  }
  return { exact, chainsRight: undefined, setprivSeen };
}

async function measure(kind) {
  const r = { kind };
  const out = path.join(work, `${kind}.out`);
  const m = startMonitor(kind, out);
  await sleep(kind === 'forkstat' ? 1500 : 8000); // the collector's start and first snapshot
  await settle(out);
  const pid = m.child.pid;
  await startedUp(pid);
  r.startupCpuS = cpuTicks(pid) / TICK;
  r.startupS = (Date.now() - m.startedAt) / 1000;
  log(kind, `start-up ${r.startupCpuS.toFixed(2)} s CPU over ${r.startupS.toFixed(0)} s`);
  // idle
  let c0 = cpuTicks(pid);
  await sleep(IDLE_S * 1000);
  r.idleCpuPct = ((cpuTicks(pid) - c0) / TICK / IDLE_S) * 100;
  r.idleRssMb = memKb(pid).rss / 1024;
  log(kind, `idle ${r.idleCpuPct.toFixed(2)} % CPU`);
  // burst
  const tag = `${process.pid}${kind.length}${Date.now() % 100000}`;
  c0 = cpuTicks(pid);
  const burst = await run('/bin/bash', ['-c', `for i in $(seq 1 ${BURST}); do ${tiny} M${tag}-$i; done`]);
  await settle(out);
  r.cpuPer1000 = (cpuTicks(pid) - c0) / TICK / (BURST / 1000);
  r.burstMs = burst.ms;
  log(kind, `burst ${burst.ms.toFixed(0)} ms`);
  // setpriv chains, 4 at a time
  let next = 0;
  const lane = async () => {
    while (next < CHAINS) {
      next++;
      await run(SETPRIV, ['--reuid=65534', SLEEP, `0.${tag}`]);
    }
  };
  await Promise.all([lane(), lane(), lane(), lane()]);
  await settle(out);
  const exact = kind === 'forkstat' ? forkstatExact(out, tag) : collectorExact(out, tag, burst.pid);
  Object.assign(r, exact);
  log(kind, `exact ${r.exact}, setpriv chains right ${r.chainsRight ?? r.setprivSeen}`);
  // steady rate
  const steady = await rateWindow(pid, RATE_S);
  r.rate = steady.rate;
  r.rateCpuPct = steady.cpuPct;
  r.rateMainCpuPct = steady.mainCpuPct;
  r.peakRssMb = memKb(pid).hwm / 1024;
  log(
    kind,
    `rate ${r.rate.toFixed(0)}/s: ${r.rateCpuPct.toFixed(2)} % CPU (main thread ${r.rateMainCpuPct.toFixed(2)} %)`,
  );
  if (kind === 'ebpf' && SOAK_S > 0) {
    const samples = [];
    const end = Date.now() + SOAK_S * 1000;
    const load = rateLoad(SOAK_S);
    while (Date.now() < end) {
      await sleep(10_000);
      samples.push({ s: Math.round((SOAK_S * 1000 - (end - Date.now())) / 1000), rssMb: memKb(pid).rss / 1024 });
    }
    await load;
    const at = samples.find((x) => x.s >= SOAK_S / 10) ?? samples[0];
    r.soak = { seconds: SOAK_S, samples, plateauMb: (samples.at(-1)?.rssMb ?? 0) - (at?.rssMb ?? 0) };
  }
  await m.stop();
  return r;
}

/** The Node options compared: those `run` starts with, and Node's defaults. */
const NODE_OPTIONS = [
  ["run's Node options", {}],
  ["Node's defaults (DAEMONEYE_NODE_FLAGS='')", { DAEMONEYE_NODE_FLAGS: '' }],
];

/** The parts a collector can run without, each as the `--set` options that turn it off. */
const PARTS = [
  ['store (SQLite sink)', ['--set', 'sinks.store.enabled=false']],
  ['IPC server', ['--set', 'sinks.ipc.enabled=false']],
  ['triggers', ['--set', 'processors.triggers.enabled=false']],
  ['filesystem source', ['--set', 'sources.filesystem.enabled=false']],
  [
    'network + performance sources',
    ['--set', 'sources.network.enabled=false', '--set', 'sources.performance.enabled=false'],
  ],
];

/** CPU of the eBPF collector, run with `extra` (and `env` added), under the rate load for PARTS_S seconds. */
async function rateCost(label, extra, env = {}) {
  const out = path.join(work, 'parts.out');
  const m = startMonitor('ebpf', out, extra, env);
  await sleep(8000);
  await settle(out);
  const pid = m.child.pid;
  await startedUp(pid);
  const r = { label, ...(await rateWindow(pid, PARTS_S)), rssMb: memKb(pid).rss / 1024 };
  await m.stop();
  log(
    'parts',
    `${label}: ${r.cpuPct.toFixed(2)} % CPU (main ${r.mainCpuPct.toFixed(2)} %), RSS ${r.rssMb.toFixed(0)} MB`,
  );
  return r;
}

const load = loadavg()
  .map((x) => x.toFixed(2))
  .join(' ');
const baseline = await run('/bin/bash', ['-c', `for i in $(seq 1 ${BURST}); do ${tiny} B$i; done`]);
const results = [];
for (const kind of ['ebpf', 'proc-connector', ...(hasForkstat ? ['forkstat'] : [])]) {
  console.log(`measuring ${kind} ...`);
  results.push(await measure(kind));
}
const baseline2 = await run('/bin/bash', ['-c', `for i in $(seq 1 ${BURST}); do ${tiny} B$i; done`]);
const baseMs = (baseline.ms + baseline2.ms) / 2;
const [eb, pc, fs] = [results[0], results[1], results[2]];
const f = (x, d = 2) => (x === undefined ? '—' : Number(x).toFixed(d));
const ratio = (a, b) => (a === undefined || b === undefined || b === 0 ? '—' : (a / b).toFixed(2));
const rows = [
  [
    'CPU % of one core at ~200 execs/s',
    f(eb.rateCpuPct),
    f(pc.rateCpuPct),
    f(fs?.rateCpuPct),
    ratio(eb.rateCpuPct, fs?.rateCpuPct),
    '≤ 3 %',
  ],
  [
    '… of it on the main thread (the rest: workers, GC helpers)',
    f(eb.rateMainCpuPct),
    f(pc.rateMainCpuPct),
    '',
    '',
    '',
  ],
  [
    'CPU s per 1,000 short-lived processes',
    f(eb.cpuPer1000, 3),
    f(pc.cpuPer1000, 3),
    f(fs?.cpuPer1000, 3),
    ratio(eb.cpuPer1000, fs?.cpuPer1000),
    '≤ 0.10 s',
  ],
  [
    `${BURST}-exec burst, exact (file, argv, ppid${' '}+ uid; forkstat: argv)`,
    `${eb.exact}`,
    `${pc.exact}`,
    `${fs?.exact ?? '—'}`,
    '',
    `${BURST}`,
  ],
  [
    `setpriv → sleep × ${CHAINS}, both execs right`,
    `${eb.chainsRight}`,
    `${pc.chainsRight}`,
    fs ? `setpriv seen ${fs.setprivSeen}` : '—',
    '',
    `${CHAINS}`,
  ],
  [
    'burst slowdown vs no monitor',
    f(eb.burstMs / baseMs),
    f(pc.burstMs / baseMs),
    f(fs ? fs.burstMs / baseMs : undefined),
    ratio(eb.burstMs, fs?.burstMs),
    '≤ 1.05×',
  ],
  [
    'start-up: CPU s until idle (wall s)',
    `${f(eb.startupCpuS)} (${f(eb.startupS, 0)})`,
    `${f(pc.startupCpuS)} (${f(pc.startupS, 0)})`,
    fs ? `${f(fs.startupCpuS)} (${f(fs.startupS, 0)})` : '—',
    '',
    '',
  ],
  [
    'idle CPU %',
    f(eb.idleCpuPct),
    f(pc.idleCpuPct),
    f(fs?.idleCpuPct),
    ratio(eb.idleCpuPct, fs?.idleCpuPct),
    '≤ 0.3 %',
  ],
  [
    'idle RSS MB / peak',
    `${f(eb.idleRssMb, 0)} / ${f(eb.peakRssMb, 0)}`,
    `${f(pc.idleRssMb, 0)} / ${f(pc.peakRssMb, 0)}`,
    fs ? `${f(fs.idleRssMb, 1)} / ${f(fs.peakRssMb, 1)}` : '—',
    '',
    '≤ 80 MB',
  ],
  [
    `soak ${eb.soak?.seconds ?? 0} s at ~200/s: RSS end − RSS at 1/10 (MB)`,
    f(eb.soak?.plateauMb, 1),
    '',
    '',
    '',
    '≤ 10 MB',
  ],
];
console.log(
  `\nprocess backends, one run; load average before: ${load}; baseline burst ${f(baseMs, 0)} ms; rate load ${f(eb.rate, 0)} execs/s`,
);
console.log('| figure | collector, eBPF | collector, proc connector + audit | forkstat | eBPF / forkstat | goal |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
console.log(
  `load average after: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
let parts;
if (PARTS_S > 0) {
  console.log(`\nwhere the eBPF collector's CPU goes at ~200 execs/s (${PARTS_S} s each, one part off at a time) ...`);
  const all = await rateCost('whole default collector', []);
  parts = { all, without: [] };
  for (const [label, extra] of PARTS) parts.without.push(await rateCost(label, extra));
  // RSS under load moves by tens of MB between runs (young generations grow at different times):
  // it is shown per run, but only the CPU difference is a part's cost.
  console.log('| run | CPU % of one core | main thread % | RSS MB | the part costs, CPU % |');
  console.log('| --- | --- | --- | --- | --- |');
  console.log(`| ${all.label} | ${f(all.cpuPct)} | ${f(all.mainCpuPct)} | ${f(all.rssMb, 0)} | |`);
  for (const p of parts.without)
    console.log(
      `| without ${p.label} | ${f(p.cpuPct)} | ${f(p.mainCpuPct)} | ${f(p.rssMb, 0)} | ${f(all.cpuPct - p.cpuPct)} |`,
    );
  // The Node options `run` starts with against Node's defaults, alternating twice, so the spread
  // between two runs of the same options shows beside the difference.
  console.log(`
the whole collector with run's Node options and with Node's defaults, alternating (${PARTS_S} s each) ...`);
  parts.nodeOptions = [];
  for (let round = 0; round < 2; round++)
    for (const [label, env] of NODE_OPTIONS) parts.nodeOptions.push(await rateCost(label, [], env));
  console.log('| Node options | CPU % of one core | main thread % | RSS MB at the end |');
  console.log('| --- | --- | --- | --- |');
  for (const r of parts.nodeOptions)
    console.log(`| ${r.label} | ${f(r.cpuPct)} | ${f(r.mainCpuPct)} | ${f(r.rssMb, 0)} |`);
}
writeBenchResult('source-process-backends', { load, baseMs, results, ...(parts === undefined ? {} : { parts }) });
rmSync(work, { recursive: true, force: true });
