// Performance source benchmark: the CPU the source costs at a 1 s interval (default metrics, top 5
// processes), measured as this process's CPU time over a window minus the same window with nothing
// running, against sampling the same kind of metrics with systeminformation at the same interval
// (currentLoad, mem, networkStats, fsStats, disksIO, processes). Runs against the built package;
// prints a table and writes JSON to bench-results/.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import si from 'systeminformation';
import { writeBenchResult } from '../../../tools/bench/results.mjs';
import { createPerfSource } from '../dist/index.js';

const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const WINDOW_S = quick ? 10 : 60;
const out = (s = '') => process.stdout.write(`${s}\n`);
const _root = fileURLToPath(new URL('../../..', import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** CPU ms of this process (user + system) over `seconds` while `body` runs. */
async function cpuOver(seconds) {
  globalThis.gc?.();
  const before = process.cpuUsage();
  const t = performance.now();
  await sleep(seconds * 1000);
  const used = process.cpuUsage(before);
  const wall = performance.now() - t;
  return { cpuMs: (used.user + used.system) / 1000, wallMs: wall };
}

const sender = () => {
  const s = { events: 0, closed: false, underPressure: false, ready() {}, reportLoss() {}, pressure: () => 0 };
  s.send = async () => {
    s.events++;
    return true;
  };
  s.trySend = () => true;
  return s;
};

const processes = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).length;
const idle = await cpuOver(WINDOW_S);

const source = createPerfSource({ intervalMs: 1000, topN: 5 });
const tx = sender();
const ctl = new AbortController();
const running = source.start(tx, ctl.signal);
await sleep(3000); // first samples and JIT warm-up outside the window
const eventsBefore = tx.events;
const withSource = await cpuOver(WINDOW_S);
const events = tx.events - eventsBefore;
ctl.abort();
await running;

let siSamples = 0;
const siCtl = new AbortController();
const siLoop = (async () => {
  while (!siCtl.signal.aborted) {
    const t = performance.now();
    await Promise.all([si.currentLoad(), si.mem(), si.networkStats('*'), si.fsStats(), si.disksIO(), si.processes()]);
    siSamples++;
    await sleep(Math.max(0, 1000 - (performance.now() - t)));
  }
})();
await sleep(3000);
const siBefore = siSamples;
const withSi = await cpuOver(WINDOW_S);
const siCount = siSamples - siBefore;
siCtl.abort();
await siLoop;

const pctOfCore = (r) => +(((r.cpuMs - (idle.cpuMs * r.wallMs) / idle.wallMs) / r.wallMs) * 100).toFixed(3);
const rows = {
  'idle baseline (this process, nothing sampling)': { cpuMs: +idle.cpuMs.toFixed(1), pctOfOneCore: 0, samples: 0 },
  '@daemoneye/source-perf, 1 s interval': {
    cpuMs: +withSource.cpuMs.toFixed(1),
    pctOfOneCore: pctOfCore(withSource),
    samples: source.stats().samples,
    eventsPerSecond: +(events / (withSource.wallMs / 1000)).toFixed(1),
    lastSampleMs: +source.stats().lastSampleMs.toFixed(2),
  },
  'systeminformation, 1 s interval (spawns ps)': {
    cpuMs: +withSi.cpuMs.toFixed(1),
    pctOfOneCore: pctOfCore(withSi),
    samples: siCount,
  },
};
out(`\nperformance source CPU cost over ${WINDOW_S} s windows, ${processes} processes on the host`);
out('| sampler | CPU ms in window | % of one core (minus idle) | samples |');
out('| --- | ---: | ---: | ---: |');
for (const [k, v] of Object.entries(rows)) out(`| ${k} | ${v.cpuMs} | ${v.pctOfOneCore} | ${v.samples} |`);
out(
  `source: ${rows['@daemoneye/source-perf, 1 s interval'].eventsPerSecond} events/s, last sample took ${rows['@daemoneye/source-perf, 1 s interval'].lastSampleMs} ms`,
);
out("(systeminformation's ps child processes are not in this process's CPU time: its real cost is higher)");
writeBenchResult('source-perf-cpu', {
  when: new Date().toISOString(),
  node: process.version,
  windowS: WINDOW_S,
  processes,
  rows,
});
