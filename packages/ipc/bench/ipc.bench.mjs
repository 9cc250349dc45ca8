// IPC benchmark: event streaming from CollectorIpcServer to one IpcClient (in a worker thread, over
// the Unix socket) in events per second, and the request/response round trip (capability
// negotiation) p50/p99, each beside newline-delimited JSON over the same kind of socket — what one
// would hand-roll instead. DaemonEye's published IPC validation run: 152 messages/s, median 18 ms.
// Runs against the built package; prints a table with the load average and writes JSON to
// bench-results/.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { batchOf, CollectionEvent } from '@daemoneye/core';
import { writeBenchResult } from '../../../tools/bench/results.mjs';
import { CollectorIpcServer } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
const out = (s = '') => process.stdout.write(`${s}\n`);
const EVENTS = quick ? 100_000 : 500_000;
const REQUESTS = quick ? 2000 : 10_000;
const BATCH = 1000;
const WORKER = join(here, 'ipc-client-worker.mjs');

const template = Array.from({ length: BATCH }, (_, i) =>
  CollectionEvent.process({
    subtype: 'exec',
    pid: 1000 + i,
    ppid: 1,
    name: 'curl',
    executablePath: '/usr/bin/curl',
    commandLine: ['curl', '-s', 'https://example.invalid/'],
    userId: '1000',
    accessible: true,
    fileExists: true,
    timestamp: 1_700_000_000_000 + i,
  }),
);
// Fresh event objects per batch, as a collector would hand over.
const batches = Array.from({ length: EVENTS / BATCH }, (_, b) =>
  batchOf(
    template.map((e) => ({ ...e })),
    { firstSeq: b * BATCH + 1, source: 'process' },
  ),
);

function worker(data) {
  const w = new Worker(WORKER, { workerData: data });
  const messages = [];
  let wake;
  w.on('message', (m) => {
    messages.push(m);
    wake?.();
  });
  w.on('error', (e) => {
    throw e;
  });
  return {
    next: async () => {
      while (messages.length === 0) await new Promise((r) => (wake = r));
      return messages.shift();
    },
    done: () => w.terminate(),
  };
}

async function ipcStream(socket) {
  const server = new CollectorIpcServer({ socketPath: socket, replayCapacity: EVENTS, subscriberQueue: EVENTS });
  await server.start();
  const w = worker({ socket, mode: 'ipc-stream', events: EVENTS });
  await w.next();
  const t = performance.now();
  for (const b of batches) {
    await server.write(b);
    await new Promise((r) => setImmediate(r));
  }
  const r = await w.next();
  await w.done();
  await server.close();
  return { ms: r.done - t, got: r.got, dropped: r.dropped };
}

async function jsonStream(socket) {
  let client;
  const server = createServer((s) => {
    client = s;
  });
  await new Promise((r) => server.listen(socket, r));
  const w = worker({ socket, mode: 'json-stream', events: EVENTS });
  await w.next();
  while (client === undefined) await new Promise((r) => setTimeout(r, 5));
  const t = performance.now();
  for (const b of batches) {
    let chunk = '';
    for (let i = 0; i < b.length; i++) chunk += `${JSON.stringify({ seq: b.records.seq(i), event: b[i] })}\n`;
    if (!client.write(chunk)) await new Promise((r) => client.once('drain', r));
  }
  const r = await w.next();
  await w.done();
  client.destroy();
  await new Promise((r) => server.close(r));
  return { ms: r.done - t, got: r.got, dropped: 0 };
}

async function ipcRtt(socket) {
  const server = new CollectorIpcServer({ socketPath: socket });
  await server.start();
  const w = worker({ socket, mode: 'ipc-rtt', requests: REQUESTS });
  const r = await w.next();
  await w.done();
  await server.close();
  return r;
}

async function jsonRtt(socket) {
  const server = createServer((s) => {
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const m = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        s.write(
          `${JSON.stringify({ id: m.id, negotiationSuccess: true, domains: [0, 1, 3], serverVersion: '0.1.0' })}\n`,
        );
      }
    });
  });
  await new Promise((r) => server.listen(socket, r));
  const w = worker({ socket, mode: 'json-rtt', requests: REQUESTS });
  const r = await w.next();
  await w.done();
  await new Promise((r) => server.close(r));
  return r;
}

const dir = mkdtempSync(join(tmpdir(), 'daemoneye-ipc-bench-'));
try {
  const load = loadavg().map((l) => l.toFixed(2));
  const results = {
    ipcStream: await ipcStream(join(dir, 'ipc', 'a.sock')),
    jsonStream: await jsonStream(join(dir, 'b.sock')),
    ipcRtt: await ipcRtt(join(dir, 'ipc2', 'c.sock')),
    jsonRtt: await jsonRtt(join(dir, 'd.sock')),
    loadBefore: load,
    loadAfter: loadavg().map((l) => l.toFixed(2)),
    events: EVENTS,
    requests: REQUESTS,
  };
  const rate = (r) => Math.round((r.got / r.ms) * 1000).toLocaleString('en-US');
  out(`IPC over a Unix socket, ${EVENTS.toLocaleString('en-US')} process events, client in a worker thread`);
  out(`load average before ${results.loadBefore.join(' ')}, after ${results.loadAfter.join(' ')}`);
  out('');
  out('| what | events/s | received | dropped |');
  out('| --- | ---: | ---: | ---: |');
  out(
    `| IpcClient ← CollectorIpcServer (protobuf, CRC32C frames) | ${rate(results.ipcStream)} | ${results.ipcStream.got} | ${results.ipcStream.dropped} |`,
  );
  out(`| JSON lines over a plain socket | ${rate(results.jsonStream)} | ${results.jsonStream.got} | 0 |`);
  out('');
  out(`| round trip (${REQUESTS} sequential requests) | p50 ms | p99 ms | max ms |`);
  out('| --- | ---: | ---: | ---: |');
  const ms = (v) => v.toFixed(3);
  out(
    `| IpcClient capability negotiation | ${ms(results.ipcRtt.p50)} | ${ms(results.ipcRtt.p99)} | ${ms(results.ipcRtt.max)} |`,
  );
  out(
    `| JSON line request/response | ${ms(results.jsonRtt.p50)} | ${ms(results.jsonRtt.p99)} | ${ms(results.jsonRtt.max)} |`,
  );
  out('| DaemonEye\u2019s published validation run | 18 (median) | 67 (p95) | |');
  writeBenchResult('ipc', results);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
