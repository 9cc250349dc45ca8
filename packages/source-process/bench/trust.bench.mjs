// Process source benchmark for trustworthy exec events: exec → event latency (p50/p99) on each backend
// forced in turn (eBPF at its default latency bound and at 10 ms, the proc connector with audit, whose exec
// events wait for their audit record, and without it); completeness of 1,000- and 5,000-exec bursts on
// eBPF and on the proc connector with audit (left out, with the reason, where audit is not available: another
// audit daemon, no CAP_AUDIT_CONTROL); and the CPU the
// source spends per exec with the full ancestry chain (depth 8) against the parent only (depth 0).
// Runs against the built package, needs root, and changes the kernel's audit configuration while it
// runs (restored at stop): run it under `flock /tmp/daemoneye-kernel.lock`. Prints a table and the
// load average, and writes JSON to bench-results/.
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RecordingSender } from '@daemoneye/core/testing';
import { probeAudit } from '@daemoneye/native';
import { writeBenchResult } from '../../../tools/bench/results.mjs';
import { createProcessSource } from '../dist/index.js';

const _here = dirname(fileURLToPath(import.meta.url));
const quick = process.env.BENCH_QUICK === '1' || process.argv.includes('--quick');
const out = (s = '') => process.stdout.write(`${s}\n`);
const results = { when: new Date().toISOString(), node: process.version, loadBefore: loadavg(), sections: {} };
const TRUE = realpathSync('/bin/true');

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A sender that stamps each event with the wall-clock time it reached the sink. */
class StampingSender extends RecordingSender {
  arrivals = new Map();
  trySend(e) {
    if (e.kind === 'process' && e.subtype === 'exec') this.arrivals.set(e, Date.now());
    return super.trySend(e);
  }
}

async function withSource(options, fn) {
  const source = createProcessSource({ scanIntervalMs: 600_000, hashing: { enabled: true }, ...options });
  const tx = new StampingSender();
  const ctl = new AbortController();
  const done = source.start(tx, ctl.signal);
  const end = Date.now() + 15_000;
  while (!tx.readyCalled && Date.now() < end) await sleep(20);
  await sleep(1500); // the first snapshot
  try {
    return await fn(source, tx);
  } finally {
    ctl.abort();
    await source.stop();
    await done;
  }
}

const runOne = (cmd, args) =>
  new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: 'ignore' });
    c.on('exit', () => resolve(c.pid));
  });

/** exec → event latency: the sink's arrival time minus the kernel's exec time, over `n` sequential execs. */
async function latency(options, n) {
  return withSource(options, async (source, tx) => {
    const pids = new Set();
    for (let i = 0; i < n; i++) {
      pids.add(await runOne(TRUE, []));
      await sleep(5);
    }
    await sleep(1000);
    const lat = tx
      .ofKind('process', 'exec')
      .filter((e) => pids.has(e.pid))
      .map((e) => tx.arrivals.get(e) - e.timestamp);
    return {
      backend: source.backend(),
      execs: n,
      events: lat.length,
      p50Ms: pct(lat, 50),
      p99Ms: pct(lat, 99),
      maxMs: Math.max(...lat),
    };
  });
}

/** A burst of `n` execs of /bin/true from one shell; how many exec events arrived, and the source's CPU per exec. */
async function burst(n, options) {
  return withSource(options, async (source, tx) => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const sh = spawn('/bin/sh', ['-c', `i=0; while [ $i -lt ${n} ]; do /bin/true; i=$((i+1)); done`], {
      stdio: 'ignore',
    });
    await new Promise((r) => sh.on('exit', r));
    const mine = () =>
      tx.ofKind('process', 'exec').filter((e) => e.ppid === sh.pid && e.executablePath === TRUE).length;
    const end = Date.now() + 30_000;
    while (mine() < n && Date.now() < end) await sleep(50);
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const withAudit = tx
      .ofKind('process', 'exec')
      .filter((e) => e.ppid === sh.pid && e.platformMetadata?.detectedBy === 'connector+audit').length;
    return {
      backend: source.backend(),
      execs: n,
      events: mine(),
      withAuditRecord: withAudit,
      lossReported: tx.losses.reduce((s, l) => s + l.count, 0),
      wallMs: Math.round(wallMs),
      cpuUsPerExec: +((cpu.user + cpu.system) / n).toFixed(1),
    };
  });
}

out(
  `load average before: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
const n = quick ? 100 : 500;
// Each backend forced, so a row never says "audit" for a run that used eBPF.
const audit = await probeAudit();
const configs = [
  { label: 'eBPF (ebpf_latency 50 ms, default)', options: { backend: 'ebpf' } },
  { label: 'eBPF (ebpf_latency 10 ms)', options: { backend: 'ebpf', ebpfLatencyMs: 10 } },
  ...(audit.available
    ? [{ label: 'proc connector + audit', options: { backend: 'proc-connector', audit: 'auto' } }]
    : []),
  { label: 'proc connector, audit off', options: { backend: 'proc-connector', audit: 'off' } },
];
if (!audit.available) out(`audit rows left out: audit is not available here (${audit.reason})`);
const lat = [];
for (const c of configs) lat.push({ label: c.label, ...(await latency(c.options, n)) });
results.sections.latency = lat;
out('\nexec → event latency (kernel exec time to the sink), sequential /bin/true 5 ms apart');
out('configuration                        backend                  events   p50 ms   p99 ms   max ms');
for (const r of lat)
  out(
    `${r.label.padEnd(36)} ${r.backend.padEnd(24)} ${String(r.events).padStart(6)} ${String(r.p50Ms).padStart(8)} ${String(r.p99Ms).padStart(8)} ${String(r.maxMs).padStart(8)}`,
  );

const bursts = [];
for (const c of configs.filter((x) => x.options.audit !== 'off' && x.options.ebpfLatencyMs === undefined))
  for (const size of quick ? [1000] : [1000, 5000]) bursts.push({ label: c.label, ...(await burst(size, c.options)) });
results.sections.bursts = bursts;
out('\nexec bursts (one shell, /bin/true): exec events with the exact program');
out('configuration                        execs   events   with audit record   loss reported   wall ms');
for (const b of bursts)
  out(
    `${b.label.padEnd(36)} ${String(b.execs).padStart(5)} ${String(b.events).padStart(8)} ${String(b.withAuditRecord).padStart(19)} ${String(b.lossReported).padStart(15)} ${String(b.wallMs).padStart(9)}`,
  );

// Ancestry: alternate depth 8 and depth 0 so a change of host load hits both alike.
const anc = { depth8: [], depth0: [] };
const size = quick ? 1000 : 3000;
for (let round = 0; round < (quick ? 1 : 3); round++) {
  anc.depth8.push((await burst(size, { audit: 'auto', ancestryDepth: 8 })).cpuUsPerExec);
  anc.depth0.push((await burst(size, { audit: 'auto', ancestryDepth: 0 })).cpuUsPerExec);
}
const med = (xs) => pct(xs, 50);
const overhead = ((med(anc.depth8) - med(anc.depth0)) / med(anc.depth0)) * 100;
results.sections.ancestry = {
  ...anc,
  medianDepth8: med(anc.depth8),
  medianDepth0: med(anc.depth0),
  overheadPct: +overhead.toFixed(1),
};
out(
  `\nsource CPU per exec (${size}-exec bursts, median of runs): ancestry depth 8 ${med(anc.depth8)} µs, parent only ${med(anc.depth0)} µs → ${overhead.toFixed(1)} %`,
);
results.loadAfter = loadavg();
out(
  `load average after: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
writeBenchResult('source-process-trust', results);
