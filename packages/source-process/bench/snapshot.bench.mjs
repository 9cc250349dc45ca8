// Process source benchmark: snapshot speed against `ps` and systeminformation at the current process
// count and at ~5,000 processes, exec-to-sink latency through the proc connector, and the source's
// CPU use at idle. Runs against the built package (`npx tsc -b packages/source-process` first), prints
// a table and writes JSON to bench-results/. Needs root for the real-time parts.
import { execFile, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import si from 'systeminformation';
import { writeBenchResult } from '../../../tools/bench/results.mjs';
import { createProcessSource, openProcessScanner } from '../dist/index.js';

const _here = dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);
const out = (s = '') => process.stdout.write(`${s}\n`);
const results = { when: new Date().toISOString(), node: process.version, cpus: 2, sections: {} };

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const median = (xs) => pct(xs, 50);
const procCount = () => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).length;

async function timeIt(fn, n, gapMs = 0) {
  await fn();
  const times = [];
  for (let i = 0; i < n; i++) {
    // systeminformation answers from a cache when called again within 500 ms: keep runs apart.
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return { medianMs: +median(times).toFixed(2), p90Ms: +pct(times, 90).toFixed(2), runs: n };
}

async function snapshotSection(label, n, siRuns) {
  const warm = openProcessScanner({ thread: 'current', includeKernelThreads: true });
  const worker = openProcessScanner({ includeKernelThreads: true });
  const coldWorker = openProcessScanner({ includeKernelThreads: true, reuseFieldsMs: 0 });
  let count = 0;
  const rows = {
    processes: procCount(),
    // A new scanner every run: every file of every process is read.
    scanColdInThread: await timeIt(async () => {
      const cold = openProcessScanner({ thread: 'current', includeKernelThreads: true });
      count = (await cold.scan()).processes.length;
      await cold.close();
    }, n),
    // The same scanner again within 10 s: uid, exe and cgroup reused for unchanged processes.
    scanWarmInThread: await timeIt(() => warm.scan(), n),
    // What the source does: scans in its worker threads (one per core, up to 2), plus the round trip.
    scanColdViaWorkers: await timeIt(() => coldWorker.scan(), n),
    scanWarmViaWorkers: await timeIt(() => worker.scan(), n),
    ps: await timeIt(() => run('ps', ['-e', '-o', 'pid,ppid,uid,lstart,comm,args'], { maxBuffer: 64 << 20 }), n),
    systeminformation: siRuns > 0 ? await timeIt(() => si.processes(), siRuns, 600) : undefined,
  };
  rows.scanned = count;
  await warm.close();
  await worker.close();
  await coldWorker.close();
  const load = (await run('cat', ['/proc/loadavg'])).stdout.trim();
  rows.loadavg = load;
  results.sections[label] = rows;
  out(`\n${label}: ${rows.processes} processes in /proc (${count} scanned, kernel threads included), loadavg ${load}`);
  out('| method | median ms | p90 ms | runs |');
  out('| --- | ---: | ---: | ---: |');
  for (const [k, v] of Object.entries(rows)) {
    if (v && typeof v === 'object') out(`| ${k} | ${v.medianMs} | ${v.p90Ms} | ${v.runs} |`);
  }
  return rows;
}

async function spawnSleepers(target) {
  const children = [];
  while (procCount() < target) {
    const batch = [];
    for (let i = 0; i < 200; i++) {
      const c = spawn('sleep', ['900'], { stdio: 'ignore' });
      children.push(c);
      batch.push(new Promise((r) => c.once('spawn', r)));
    }
    await Promise.all(batch);
  }
  await settle();
  return children;
}

/**
 * Starting or ending thousands of processes keeps both cores busy for a while (exec, page faults,
 * reaping): wait until the 1-minute load average is below 2, or 60 s at most, before measuring.
 */
async function settle() {
  const until = performance.now() + 60_000;
  await new Promise((r) => setTimeout(r, 5000));
  while (Number((await run('cat', ['/proc/loadavg'])).stdout.split(' ')[0]) > 2 && performance.now() < until) {
    await new Promise((r) => setTimeout(r, 2000));
  }
}

async function killSleepers(children) {
  const gone = children.map((c) =>
    c.exitCode !== null || c.signalCode !== null ? null : new Promise((r) => c.once('exit', r)),
  );
  for (const c of children) {
    if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) continue;
    try {
      process.kill(c.pid, 'SIGTERM');
    } catch (e) {
      if (e.code !== 'ESRCH') throw e; // exited meanwhile
    }
  }
  await Promise.all(gone);
}

function timingSender(onExec) {
  return {
    closed: false,
    underPressure: false,
    pressure: () => 0,
    ready: () => {},
    reportLoss: () => {},
    send: async () => true,
    trySend: (e) => {
      if (e.kind === 'process' && e.subtype === 'exec') onExec(e, performance.now());
      return true;
    },
  };
}

async function latencySection(label, audit, n) {
  // Execs come from a separate shell so that spawning never blocks this process's event loop; the
  // latency is the event's kernel timestamp to its arrival at the sender (wall clock, sub-ms).
  const tag = `bench-${process.pid}-${label}`;
  const lat = [];
  const source = createProcessSource({ audit, scanIntervalMs: 600_000 });
  const ctl = new AbortController();
  const done = source.start(
    timingSender((e) => {
      if (e.commandLine[0] === '/bin/true' && e.commandLine[1] === tag) {
        lat.push(performance.timeOrigin + performance.now() - e.timestamp);
      }
    }),
    ctl.signal,
  );
  await new Promise((r) => setTimeout(r, 3000));
  const backend = source.backend();
  const execLoop = async (argv1, count) => {
    const shell = spawn(
      '/bin/sh',
      ['-c', `i=0; while [ $i -lt ${count} ]; do /bin/true ${argv1}; i=$((i+1)); sleep 0.02; done`],
      { stdio: 'ignore' },
    );
    await new Promise((r) => shell.once('exit', r));
  };
  // Steady state: the first execs of a run also hash /bin/true and warm up the code paths.
  await execLoop(`${tag}-warmup`, 20);
  await execLoop(tag, n);
  const end = performance.now() + 2000;
  while (lat.length < n && performance.now() < end) await new Promise((r) => setTimeout(r, 10));
  ctl.abort();
  await source.stop();
  await done;
  const row = {
    backend,
    execs: n,
    delivered: lat.length,
    p50Ms: +pct(lat, 50).toFixed(2),
    p99Ms: +pct(lat, 99).toFixed(2),
    maxMs: +Math.max(...lat).toFixed(2),
  };
  results.sections[label] = row;
  return row;
}

async function idleSection(seconds, audit) {
  const source = createProcessSource({ scanIntervalMs: 600_000, audit });
  const ctl = new AbortController();
  let events = 0;
  const done = source.start(
    timingSender(() => {}),
    ctl.signal,
  );
  // Let the first snapshot (and its hashing) finish: no event sent for 2 s, or 20 s at most.
  let last = -1;
  const until = performance.now() + 20_000;
  while (last !== source.stats().eventsSent && performance.now() < until) {
    last = source.stats().eventsSent;
    await new Promise((r) => setTimeout(r, 2000));
  }
  // Then let the runtime settle (V8's start-up JIT and memory reducer run in the first seconds of
  // every thread) so the window measures the source, not Node warming up. The garbage of the earlier
  // sections (thousands of scanned processes) is collected first where `--expose-gc` allows, so
  // its collection does not land in the window.
  globalThis.gc?.();
  await new Promise((r) => setTimeout(r, 10_000));
  const sentBefore = source.stats().eventsSent;
  const before = process.cpuUsage();
  const t = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const used = process.cpuUsage(before);
  const wallMs = performance.now() - t;
  const backend = source.backend();
  events = source.stats().eventsSent - sentBefore;
  ctl.abort();
  await source.stop();
  await done;
  const row = {
    backend,
    seconds,
    eventsDuringWindow: events,
    cpuPercentOfOneCore: +(((used.user + used.system) / 1000 / wallMs) * 100).toFixed(3),
  };
  results.sections[`idleCpu-audit-${audit}`] = row;
  return row;
}

// `--only=snapshot|latency|idle` runs one part.
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
const want = (part) => only === undefined || only === part;
out(`process source benchmark — ${results.when}, node ${process.version}`);
if (want('snapshot')) {
  await snapshotSection('snapshot-current', 20, 3);
  const sleepers = await spawnSleepers(600);
  try {
    await snapshotSection('snapshot-600', 20, 3);
    sleepers.push(...(await spawnSleepers(5000)));
    await snapshotSection('snapshot-5000', 10, 1);
  } finally {
    await killSleepers(sleepers);
    await settle();
  }
}
if (want('latency')) {
  out(
    '\nexec-to-sink latency: kernel exec timestamp → exec event at the sender; /bin/true every 20 ms from another process, after 20 warm-up execs',
  );
  out('| backend | execs | delivered | p50 ms | p99 ms | max ms |');
  out('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const [label, audit] of [
    ['latency-connector', 'off'],
    ['latency-connector+audit', 'auto'],
  ]) {
    const r = await latencySection(label, audit, 1000);
    out(`| ${r.backend} | ${r.execs} | ${r.delivered} | ${r.p50Ms} | ${r.p99Ms} | ${r.maxMs} |`);
  }
}
if (want('idle')) {
  for (const audit of ['off', 'auto']) {
    const idle = await idleSection(20, audit);
    out(
      `\nidle CPU with ${idle.backend} over ${idle.seconds} s: ${idle.cpuPercentOfOneCore} % of one core (whole process, ${idle.eventsDuringWindow} events in the window)`,
    );
  }
}

writeBenchResult('source-process-snapshot', results);
