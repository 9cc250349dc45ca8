// NATS forwarder benchmark, against a local `nats-server -js` it starts on a free loopback port with
// a temporary store: events per second forwarded with acks by the sink (protobuf encoding, the spool
// write, the read back, publish with Nats-Msg-Id and a 64-message ack window), side by side with a
// bare @nats-io/jetstream publish loop of the same payloads (same encoding, same window, no spool),
// and the overhead as the ratio of the two; then the spool alone: append rate and replay (open +
// read back) rate. Runs against the built package; prints a table with the host's load average and
// writes JSON to bench-results/.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { batchOf, CollectionEvent, silentLogger } from '@daemoneye/core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers } from '@nats-io/transport-node';
import { writeBenchResult } from '../../../tools/bench/results.mjs';
import { createNatsSink, encodeBatch, Spool } from '../dist/index.js';

const quick = process.argv.includes('--quick');
const out = (s = '') => process.stdout.write(`${s}\n`);
const EVENTS = quick ? 100_000 : 500_000;
const BATCH = 1000;
const WINDOW = 64;
const host = { hostname: 'bench-host', machineId: 'b'.repeat(32) };

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
const portOpen = (port) =>
  new Promise((resolve) => {
    const c = createConnection({ port, host: '127.0.0.1' });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });

const port = await freePort();
const store = mkdtempSync(join(tmpdir(), 'de-bench-nats-'));
const server = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', store], { stdio: 'ignore' });
while (!(await portOpen(port))) await sleep(50);
const url = `nats://127.0.0.1:${port}`;

const events = Array.from({ length: BATCH }, (_, i) =>
  CollectionEvent.process({
    subtype: i % 2 === 0 ? 'exec' : 'exit',
    pid: 1000 + i,
    ppid: 1,
    name: 'sh',
    executablePath: '/usr/bin/sh',
    commandLine: ['sh', '-c', 'true'],
    userId: '1000',
    accessible: true,
    fileExists: true,
  }),
);
const batches = Array.from({ length: EVENTS / BATCH }, (_, b) =>
  batchOf(events, { firstSeq: b * BATCH + 1, source: 'process', runId: 'bench-run' }),
);
const forwarded = (batch) => batch.map((event, i) => ({ record: batch.records.at(i), event }));
const payloadBytes = encodeBatch(host, 'bench', forwarded(batches[0])).length;

const admin = await connect({ servers: [url] });
const jsm = await jetstreamManager(admin);
async function freshStream() {
  await jsm.streams.delete('DAEMONEYE_EVENTS').catch(() => undefined);
}

async function sinkRun() {
  await freshStream();
  const dataDir = mkdtempSync(join(tmpdir(), 'de-bench-data-'));
  const sink = createNatsSink({ servers: [url], maxInFlight: WINDOW });
  const never = new AbortController().signal;
  await sink.open(never, { componentName: 'bench', host, dataDir, logger: silentLogger });
  while (!sink.stats().connected || sink.health().status !== 'healthy') {
    await sink.write(batchOf([]), never).catch(() => undefined);
    await sleep(20);
  }
  const t = performance.now();
  for (const b of batches) await sink.write(b, never);
  while (sink.stats().acked < EVENTS) await sleep(1);
  const ms = performance.now() - t;
  await sink.close();
  rmSync(dataDir, { recursive: true, force: true });
  return { ms, acked: EVENTS };
}

async function bareRun() {
  await freshStream();
  await jsm.streams.add({ name: 'DAEMONEYE_EVENTS', subjects: ['daemoneye.events.>'] });
  const nc = await connect({ servers: [url] });
  const js = jetstream(nc);
  const subject = 'daemoneye.events.bench-host.process';
  const inflight = [];
  let acked = 0;
  const t = performance.now();
  for (const b of batches) {
    const data = encodeBatch(host, 'bench', forwarded(b));
    const h = headers();
    h.set('Content-Type', 'application/x-protobuf');
    inflight.push(js.publish(subject, data, { msgID: `${host.machineId}:${b.records.firstSeq}`, headers: h }));
    if (inflight.length >= WINDOW) {
      await inflight.shift();
      acked += BATCH;
    }
  }
  for (const p of inflight) {
    await p;
    acked += BATCH;
  }
  const ms = performance.now() - t;
  await nc.close();
  return { ms, acked };
}

function spoolRun() {
  const dir = mkdtempSync(join(tmpdir(), 'de-bench-spool-'));
  const entries = batches.map((b) => ({
    subject: 'daemoneye.events.bench-host.process',
    msgId: `${host.machineId}:${b.records.firstSeq}`,
    events: b.length,
    payload: encodeBatch(host, 'bench', forwarded(b)),
  }));
  const bytes = entries.reduce((n, e) => n + e.payload.length, 0);
  const s = Spool.open({ dir, maxBytes: 4 * 1024 * 1024 * 1024, fsync: 'interval' });
  let t = performance.now();
  for (const e of entries) s.append([e]);
  s.sync();
  const writeMs = performance.now() - t;
  s.close();
  t = performance.now();
  const r = Spool.open({ dir, maxBytes: 4 * 1024 * 1024 * 1024 });
  let n = 0;
  for (let recs = r.takeMany(256); recs.length > 0; recs = r.takeMany(256)) for (const x of recs) n += x.events;
  const replayMs = performance.now() - t;
  r.close();
  rmSync(dir, { recursive: true, force: true });
  return { bytes, writeMs, replayMs, replayed: n };
}

out(`NATS forwarder — ${new Date().toISOString()}, node ${process.version}, nats-server on loopback`);
out(
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(
      ' ',
    )}; ${EVENTS} process events in batches of ${BATCH} (${payloadBytes} bytes of protobuf per message), ack window ${WINDOW}`,
);
await sinkRun(); // warm-up
await bareRun();
const runs = { sink: [], bare: [] };
for (let i = 0; i < 3; i++) {
  runs.sink.push(await sinkRun());
  runs.bare.push(await bareRun());
}
const best = (rs) => rs.reduce((a, b) => (b.ms < a.ms ? b : a));
const sink = best(runs.sink);
const bare = best(runs.bare);
const rate = (r) => Math.round(r.acked / (r.ms / 1000));
const rows = [
  {
    name: '@daemoneye/forward-nats sink (spool, msg ids, 64-message window)',
    events: EVENTS,
    ms: +sink.ms.toFixed(1),
    eventsPerSec: rate(sink),
  },
  {
    name: 'bare @nats-io/jetstream publish loop (same payloads, window 64)',
    events: EVENTS,
    ms: +bare.ms.toFixed(1),
    eventsPerSec: rate(bare),
  },
];
out('| method | events | ms (best of 3) | events/s acked |');
out('| --- | ---: | ---: | ---: |');
for (const r of rows)
  out(`| ${r.name} | ${r.events} | ${r.ms.toFixed(0)} | ${r.eventsPerSec.toLocaleString('en-US')} |`);
const overhead = sink.ms / bare.ms;
out(`overhead of the sink over the bare loop: ×${overhead.toFixed(2)} the time`);

const sp = spoolRun();
const spoolRows = [
  {
    name: 'spool append (fsync interval)',
    ms: +sp.writeMs.toFixed(1),
    eventsPerSec: Math.round(EVENTS / (sp.writeMs / 1000)),
    mbPerSec: +(sp.bytes / 1048576 / (sp.writeMs / 1000)).toFixed(1),
  },
  {
    name: 'spool replay (open, check, read back)',
    ms: +sp.replayMs.toFixed(1),
    eventsPerSec: Math.round(sp.replayed / (sp.replayMs / 1000)),
    mbPerSec: +(sp.bytes / 1048576 / (sp.replayMs / 1000)).toFixed(1),
  },
];
out('');
out('| spool | ms | events/s | MiB/s |');
out('| --- | ---: | ---: | ---: |');
for (const r of spoolRows)
  out(`| ${r.name} | ${r.ms.toFixed(0)} | ${r.eventsPerSec.toLocaleString('en-US')} | ${r.mbPerSec} |`);
out(
  `load average after ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);

await admin.close();
process.kill(server.pid, 'SIGTERM');
writeBenchResult('forward-nats', {
  when: new Date().toISOString(),
  node: process.version,
  loadavg: loadavg(),
  rows,
  overhead,
  spool: spoolRows,
});
