// Network source benchmark with 10,000 open loopback TCP sockets (5,000 connections, the listener and
// the accepted ends in one helper process, the clients in another: the fd limit is 20,000 per
// process). Measures, side by side in one run: sock_diag dumps through @daemoneye/native (columns
// transferred from the worker, and the object API), the running source's dump cycle with pid mapping
// (dump, diff, owner lookup, events), the source's full snapshot without and with pid mapping (cold:
// a full /proc/PID/fd walk; warm: the incremental index of a running source), parsing /proc/net/tcp
// and tcp6, spawning `ss -tanp`, and systeminformation.networkConnections(). Runs against the built packages; prints a table and
// writes JSON to bench-results/. Loopback only.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { openSockDiag } from '@daemoneye/native';
import si from 'systeminformation';
import { writeBenchResult } from '../../../tools/bench/results.mjs';
import { createNetworkSource, parseProcNet } from '../dist/index.js';

const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const CONNECTIONS = 5000;
const RUNS = quick ? 5 : 20;
const run = promisify(execFile);
const out = (s = '') => process.stdout.write(`${s}\n`);

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
async function timeIt(fn, n, gapMs = 0) {
  await fn();
  const times = [];
  for (let i = 0; i < n; i++) {
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return { medianMs: +pct(times, 50).toFixed(2), p90Ms: +pct(times, 90).toFixed(2), runs: n };
}

/** Starts a helper process running `code`; resolves with it once it prints its first line. */
function helper(code, args) {
  const child = spawn(process.execPath, ['-e', code, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.stdout.once('data', (d) => resolve({ child, line: String(d).trim() }));
  });
}

const SERVER = `
const net = require('node:net');
const held = [];
const s = net.createServer((c) => { held.push(c); if (held.length === Number(process.argv[1])) console.log('all'); });
s.listen(0, '127.0.0.1', () => console.log(s.address().port));
`;
const CLIENT = `
const net = require('node:net');
const [port, n] = process.argv.slice(1).map(Number);
const held = [];
let open = 0;
(async () => {
  for (let i = 0; i < n; i += 200) {
    await Promise.all(Array.from({ length: Math.min(200, n - i) }, () => new Promise((ok, ko) => {
      const c = net.connect(port, '127.0.0.1', () => { open++; ok(); });
      c.once('error', ko);
      held.push(c);
    })));
  }
  console.log('open', open);
})();
`;

const server = await helper(SERVER, [String(CONNECTIONS)]);
const port = Number(server.line);
const client = await helper(CLIENT, [String(port), String(CONNECTIONS)]);
await new Promise((r) => setTimeout(r, 1000));

const reader = await openSockDiag();
const tcp4 = await reader.dump({ family: 4, protocol: 'tcp', withInfo: true });
const sockets = tcp4.filter((s) => s.srcPort === port || s.dstPort === port).length;
out(
  `network dump benchmark: ${sockets} loopback TCP sockets on port ${port} (${CONNECTIONS} connections + listener), ${tcp4.length} IPv4 TCP sockets in all`,
);

const cold = () => createNetworkSource({ pidMapping: 'auto' }).snapshot();
const warm = createNetworkSource({ intervalMs: 600_000 });
const ctl = new AbortController();
const sink = {
  closed: false,
  underPressure: false,
  ready() {},
  reportLoss() {},
  pressure: () => 0,
  send: async () => true,
  trySend: () => true,
};
const running = warm.start(sink, ctl.signal);
while (warm.stats().dumps === 0) await new Promise((r) => setTimeout(r, 50));
let withPid = 0;

// A running source dumping every 250 ms: the cost of one interval, from its own counters.
const cycling = createNetworkSource({ intervalMs: 250 });
const cycleCtl = new AbortController();
const cycleRun = cycling.start(sink, cycleCtl.signal);
while (cycling.stats().dumps === 0) await new Promise((r) => setTimeout(r, 50));
const cycles = [];
for (let last = cycling.stats().dumps; cycles.length < RUNS; ) {
  await new Promise((r) => setTimeout(r, 20));
  const st = cycling.stats();
  if (st.dumps > last && st.lastCycleMs > 0) {
    last = st.dumps;
    cycles.push(st.lastCycleMs);
  }
}
cycleCtl.abort();
await cycleRun;

const rows = {
  'sock_diag dumpColumns, TCP+UDP v4+v6, no tcp_info (@daemoneye/native)': await timeIt(
    () => reader.dumpColumns({ withInfo: false }),
    RUNS,
  ),
  'sock_diag dumpColumns, TCP+UDP v4+v6 with tcp_info': await timeIt(
    () => reader.dumpColumns({ withInfo: true }),
    RUNS,
  ),
  'sock_diag dump() objects, TCP v4+v6 with tcp_info': await timeIt(async () => {
    await Promise.all([
      reader.dump({ family: 4, protocol: 'tcp', withInfo: true }),
      reader.dump({ family: 6, protocol: 'tcp', withInfo: true }),
    ]);
  }, RUNS),
  'running source, one interval with pid mapping (dump + diff + owners + events)': {
    medianMs: +pct(cycles, 50).toFixed(2),
    p90Ms: +pct(cycles, 90).toFixed(2),
    runs: cycles.length,
  },
  'source snapshot, TCP+UDP v4+v6, no pid mapping': await timeIt(
    () => createNetworkSource({ pidMapping: 'off', protocols: ['tcp', 'udp'] }).snapshot(),
    RUNS,
  ),
  'source snapshot with pid mapping, cold (full /proc/PID/fd walk)': await timeIt(cold, quick ? 3 : 10),
  'source snapshot with pid mapping, warm (running source, incremental)': await timeIt(async () => {
    const events = await warm.snapshot();
    withPid = events.filter(
      (e) => e.pid !== undefined && (portOf(e.sourceAddr) === port || portOf(e.destAddr) === port),
    ).length;
  }, RUNS),
  'parse /proc/net/tcp + tcp6 (no counters, no pids)': await timeIt(async () => {
    for (const [file, fam] of [
      ['tcp', 4],
      ['tcp6', 6],
    ])
      parseProcNet(readFileSync(`/proc/net/${file}`, 'latin1'), fam, 'tcp');
  }, RUNS),
  'spawn ss -tanp': await timeIt(() => run('ss', ['-tanp'], { maxBuffer: 256 << 20 }), quick ? 3 : 10),
  'systeminformation.networkConnections()': await timeIt(() => si.networkConnections(), quick ? 2 : 3, 600),
};
function portOf(endpoint) {
  return Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));
}

out('| method | median ms | p90 ms | runs |');
out('| --- | ---: | ---: | ---: |');
for (const [k, v] of Object.entries(rows)) out(`| ${k} | ${v.medianMs} | ${v.p90Ms} | ${v.runs} |`);
out(`pid coverage of the benchmark's sockets (warm snapshot): ${withPid}/${sockets}`);
out(`source stats: ${JSON.stringify(warm.stats())}`);

ctl.abort();
await running;
await reader.close();
client.child.kill();
server.child.kill();
writeBenchResult('source-network-dump', {
  when: new Date().toISOString(),
  node: process.version,
  sockets,
  connections: CONNECTIONS,
  withPid,
  rows,
});
