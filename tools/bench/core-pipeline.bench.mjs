/**
 * Benchmarks of the collector runtime of `@daemoneye/core` (the built package): trySend and awaited
 * send throughput into a null sink, end-to-end latency at a paced 100,000 events/s, and memory plus
 * exact accounting with a sink that never finishes a write. A naive EventEmitter bus runs beside them
 * as a baseline. Each scenario uses a fresh Collector with telemetry off. Prints a table and writes
 * `bench-results/core-pipeline.json`. It measures; it asserts nothing about speed. The process exits
 * non-zero only when an accounting identity does not hold.
 *
 *   node --expose-gc tools/bench/core-pipeline.mjs [--quick]     (or BENCH_QUICK=1)
 */
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep, setImmediate as yieldToLoop } from 'node:timers/promises';
import { Collector, CollectorConfig, SourceCaps } from '@daemoneye/core';
import { writeBenchResult } from './results.mjs';

const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const ROOT = path.resolve(import.meta.dirname, '../..');

/** Durations and sizes; `--quick` shrinks them for a smoke run. */
const PLAN = QUICK
  ? { throughputMs: 500, throughputMin: 300_000, warmupMs: 150, latencyMs: 2000, stalledMs: 3000, rate: 100_000 }
  : {
      throughputMs: 3000,
      throughputMin: 3_000_000,
      warmupMs: 500,
      latencyMs: 10_000,
      stalledMs: 30_000,
      rate: 100_000,
    };
const CHUNK = 1000;
const BATCH_TIMEOUT_MS = 100;

const GOALS = {
  trySendPerSec: 5_000_000,
  sendPerSec: 2_000_000,
  latencyP99Ms: BATCH_TIMEOUT_MS + 10,
  stalledRssGrowthMb: 50,
};

// ---------------------------------------------------------------------------------------------
// Fixtures: a source driven from outside, sinks, events.

/** A source whose sender is handed to the benchmark, which then drives it. */
class DrivenSource {
  #name;
  #resolveSender;
  /** Resolves with the EventSender once the collector started the source. */
  sender;

  constructor(name) {
    this.#name = name;
    this.sender = new Promise((resolve) => {
      this.#resolveSender = resolve;
    });
  }
  name() {
    return this.#name;
  }
  capabilities() {
    return SourceCaps.PERFORMANCE;
  }
  start(tx, signal) {
    this.#resolveSender(tx);
    tx.ready();
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }
  async stop() {}
  async healthCheck() {}
}

/**
 * A sink whose write resolves at once; counts what it saw and checks that the records of every batch
 * are there and consecutive (the last sequence number seen), so their cost is in the figure.
 */
function nullSink(name = 'null', onBatch = undefined) {
  const sink = {
    events: 0,
    lastSeq: 0,
    name: () => name,
    write(batch) {
      const r = batch.records;
      if (r.length !== batch.length || (sink.lastSeq !== 0 && r.firstSeq !== sink.lastSeq + 1)) {
        throw new Error(`records out of step: batch of ${batch.length}, firstSeq ${r.firstSeq} after ${sink.lastSeq}`);
      }
      sink.lastSeq = r.seq(batch.length - 1);
      sink.events += batch.length;
      if (onBatch !== undefined) onBatch(batch);
      return Promise.resolve();
    },
  };
  return sink;
}

/** A sink whose first write never settles, so its queue fills and stays full. */
function stalledSink() {
  return { name: () => 'stalled', write: () => new Promise(() => {}) };
}

/** A performance event, as a metrics source would post; `value` carries whatever the scenario needs. */
function makeEvent(value, timestamp) {
  return { kind: 'performance', metricName: 'bench.sample', value, unit: 'count', component: 'bench', timestamp };
}

function config() {
  return new CollectorConfig().withTelemetry(false).withBatchTimeout(BATCH_TIMEOUT_MS).withShutdownTimeout(2000);
}

/** Starts a fresh collector with one driven source and the given sink; resolves once the sender is live. */
async function startCollector(sink, sinkOptions = {}) {
  const collector = new Collector(config());
  const source = new DrivenSource('bench');
  collector.register(source);
  collector.addSink(sink, sinkOptions);
  const running = collector.run();
  const tx = await source.sender;
  return { collector, tx, running };
}

/**
 * Shuts down and waits for the report. The shutdown deadline is an unref'd timer, so with a stalled
 * sink nothing else would keep the event loop alive until it fires; a ref'd timer does here.
 */
async function stopCollector({ collector, running }) {
  const keepAlive = setInterval(() => {}, 1000);
  try {
    const report = await collector.shutdown();
    await running;
    return report;
  } finally {
    clearInterval(keepAlive);
  }
}

/** Polls until `predicate()` holds or `timeoutMs` passes. */
async function until(predicate, timeoutMs = 5000) {
  const end = performance.now() + timeoutMs;
  while (!predicate() && performance.now() < end) await yieldToLoop();
  return predicate();
}

const sum = (obj) => Object.values(obj).reduce((a, b) => a + b, 0);

// ---------------------------------------------------------------------------------------------
// Scenarios.

/** Chunks of `CHUNK` trySend calls with a macrotask yield between, like a kernel reader posting batches. */
async function trySendThroughput(durationMs, minEvents) {
  const sink = nullSink();
  const c = await startCollector(sink);
  let sent = 0;
  let refused = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < durationMs || sent < minEvents) {
    const ts = Date.now();
    for (let i = 0; i < CHUNK; i++) if (!c.tx.trySend(makeEvent(sent + i, ts))) refused++;
    sent += CHUNK;
    await yieldToLoop();
  }
  const accepted = sent - refused;
  await until(() => sink.events >= accepted);
  const elapsedMs = performance.now() - t0;
  const stats = c.collector.stats();
  await stopCollector(c);
  return {
    events: sent,
    delivered: sink.events,
    elapsedMs,
    eventsPerSec: sink.events / (elapsedMs / 1000),
    dropped: sum(stats.events.dropped),
    droppedByReason: stats.events.dropped,
    channelHighWater: stats.channel.highWater,
    batches: stats.batches.count,
  };
}

/** `for (...) await tx.send(e)`: one event per await. */
async function sendThroughput(durationMs, minEvents) {
  const sink = nullSink();
  const c = await startCollector(sink);
  let sent = 0;
  let refused = 0;
  const t0 = performance.now();
  let ts = Date.now();
  while (true) {
    if (!(await c.tx.send(makeEvent(sent, ts)))) refused++;
    sent++;
    if ((sent & 0x3fff) === 0) {
      ts = Date.now();
      if (performance.now() - t0 >= durationMs && sent >= minEvents) break;
    }
  }
  const accepted = sent - refused;
  await until(() => sink.events >= accepted);
  const elapsedMs = performance.now() - t0;
  const stats = c.collector.stats();
  await stopCollector(c);
  return {
    events: sent,
    delivered: sink.events,
    elapsedMs,
    eventsPerSec: sink.events / (elapsedMs / 1000),
    dropped: sum(stats.events.dropped),
    droppedByReason: stats.events.dropped,
    channelHighWater: stats.channel.highWater,
    batches: stats.batches.count,
  };
}

/**
 * Offers `rate` events/s for `durationMs` with trySend, in 1 ms ticks (100 events a tick at 100k/s;
 * a late tick catches up on what was due). `stamp()` gives each event's `value`.
 */
async function paced(tx, { rate, durationMs, stamp }) {
  const perMs = rate / 1000;
  const t0 = performance.now();
  let offered = 0;
  let refused = 0;
  let maxBurst = 0;
  for (;;) {
    const elapsed = performance.now() - t0;
    if (elapsed >= durationMs) break;
    const due = Math.floor(elapsed * perMs) - offered;
    if (due > maxBurst) maxBurst = due;
    const ts = Date.now();
    for (let i = 0; i < due; i++) if (!tx.trySend(makeEvent(stamp(), ts))) refused++;
    offered += due;
    await sleep(1);
  }
  return { offered, refused, elapsedMs: performance.now() - t0, maxBurst };
}

/** Latency from trySend to the sink's write, per event, at a paced rate. */
async function latency(durationMs, rate) {
  const samples = new Float64Array(Math.ceil((rate * durationMs) / 1000) + rate);
  let n = 0;
  const sink = nullSink('latency', (batch) => {
    const now = performance.now();
    for (const e of batch) if (n < samples.length) samples[n++] = now - e.value;
  });
  const c = await startCollector(sink);
  const load = await paced(c.tx, { rate, durationMs, stamp: () => performance.now() });
  await until(() => sink.events >= load.offered - load.refused, BATCH_TIMEOUT_MS * 20);
  const stats = c.collector.stats();
  await stopCollector(c);
  const sorted = samples.subarray(0, n).sort();
  const at = (q) => sorted[Math.min(n - 1, Math.floor(q * n))] ?? 0;
  return {
    offered: load.offered,
    offeredPerSec: load.offered / (load.elapsedMs / 1000),
    measured: n,
    dropped: sum(stats.events.dropped),
    p50Ms: at(0.5),
    p90Ms: at(0.9),
    p99Ms: at(0.99),
    maxMs: n > 0 ? (sorted[n - 1] ?? 0) : 0,
    flushCauses: stats.batches.flushCauses,
    maxBurst: load.maxBurst,
  };
}

function rssMb() {
  globalThis.gc?.();
  globalThis.gc?.();
  return process.memoryUsage().rss / 2 ** 20;
}

function collectorLedger(s) {
  const e = s.events;
  const dropped = sum(e.dropped);
  return {
    offered: e.offered,
    accepted: e.accepted,
    dropped,
    droppedByReason: e.dropped,
    waiting: e.waiting,
    ok: e.offered === e.accepted + dropped + e.waiting,
  };
}

function sinkLedger(s) {
  const dropped = sum(s.dropped);
  return {
    received: s.received,
    delivered: s.delivered,
    dropped,
    droppedByReason: s.dropped,
    inFlight: s.inFlight,
    ok: s.received === s.delivered + dropped + s.inFlight,
  };
}

/** A sink that never finishes a write, paced trySend load; RSS and both ledgers. */
async function stalled(overflow, durationMs, rate) {
  await sleep(50);
  const rssBefore = rssMb();
  const c = await startCollector(stalledSink(), { overflow });
  const rssSamples = [];
  const sampler = setInterval(() => rssSamples.push(process.memoryUsage().rss / 2 ** 20), 1000);
  const load = await paced(c.tx, { rate, durationMs, stamp: () => 0 });
  clearInterval(sampler);
  const rssAfter = rssMb();
  const running = c.collector.stats();
  const report = await stopCollector(c);
  const final = c.collector.stats();
  const ledgers = {
    running: { collector: collectorLedger(running), sink: sinkLedger(running.sinks[0]) },
    afterShutdown: { collector: collectorLedger(final), sink: sinkLedger(final.sinks[0]) },
  };
  return {
    overflow,
    offered: load.offered,
    offeredPerSec: load.offered / (load.elapsedMs / 1000),
    rssBeforeMb: rssBefore,
    rssAfterMb: rssAfter,
    rssGrowthMb: rssAfter - rssBefore,
    rssPeakMb: Math.max(rssAfter, ...rssSamples),
    shutdown: { drained: report.drained, undelivered: report.undelivered, durationMs: report.durationMs },
    ledgers,
    accountingOk: Object.values(ledgers).every((l) => l.collector.ok && l.sink.ok),
  };
}

/** Baseline: one EventEmitter `emit` per event to a listener that buffers and flushes every 1,000. */
async function emitterBaseline(durationMs, minEvents) {
  const bus = new EventEmitter();
  let buffer = [];
  let delivered = 0;
  const flush = (batch) => {
    delivered += batch.length;
  };
  bus.on('event', (e) => {
    buffer.push(e);
    if (buffer.length >= 1000) {
      flush(buffer);
      buffer = [];
    }
  });
  let sent = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < durationMs || sent < minEvents) {
    const ts = Date.now();
    for (let i = 0; i < CHUNK; i++) bus.emit('event', makeEvent(sent + i, ts));
    sent += CHUNK;
    await yieldToLoop();
  }
  flush(buffer);
  const elapsedMs = performance.now() - t0;
  return { events: sent, delivered, elapsedMs, eventsPerSec: delivered / (elapsedMs / 1000) };
}

// ---------------------------------------------------------------------------------------------
// Reporting.

const fmtInt = (n) => Math.round(n).toLocaleString('en-US');
const fmtMs = (n) => `${n.toFixed(2)} ms`;
const fmtMb = (n) => `${n >= 0 ? '+' : ''}${n.toFixed(1)} MB`;
const verdict = (ok) => (ok ? 'met' : 'MISSED');

function printTable(rows) {
  const headers = ['scenario', 'result', 'goal', 'status', 'notes'];
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ');
  console.log(line(headers));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

function printLedger(label, l) {
  const c = l.collector;
  const s = l.sink;
  console.log(
    `  ${label} collector: offered ${c.offered} = accepted ${c.accepted} + dropped ${c.dropped} ${JSON.stringify(c.droppedByReason)} + waiting ${c.waiting} -> ${c.ok ? 'PASS' : 'FAIL'}`,
  );
  console.log(
    `  ${label} sink:      received ${s.received} = delivered ${s.delivered} + dropped ${s.dropped} ${JSON.stringify(s.droppedByReason)} + inFlight ${s.inFlight} -> ${s.ok ? 'PASS' : 'FAIL'}`,
  );
}

function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const env = {
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    exposeGc: typeof globalThis.gc === 'function',
    quick: QUICK,
    commit: gitCommit(),
  };
  console.log(`core-pipeline${QUICK ? ' (quick)' : ''}: node ${env.node}, ${env.cpus} x ${env.cpu}`);
  if (!env.exposeGc) console.log('  note: run with --expose-gc for stable RSS readings');

  // Warm the JIT on the hot paths, each in its own throwaway collector.
  await trySendThroughput(PLAN.warmupMs, 0);
  await sendThroughput(PLAN.warmupMs, 0);
  await emitterBaseline(PLAN.warmupMs, 0);

  console.log('1/6 trySend throughput ...');
  const trySend = await trySendThroughput(PLAN.throughputMs, PLAN.throughputMin);
  console.log('2/6 awaited send throughput ...');
  const send = await sendThroughput(PLAN.throughputMs, PLAN.throughputMin);
  console.log('3/6 EventEmitter baseline ...');
  const emitter = await emitterBaseline(PLAN.throughputMs, PLAN.throughputMin);
  console.log(`4/6 latency at ${fmtInt(PLAN.rate)} events/s for ${PLAN.latencyMs / 1000} s ...`);
  const lat = await latency(PLAN.latencyMs, PLAN.rate);
  console.log(`5/6 stalled sink (drop-newest) for ${PLAN.stalledMs / 1000} s ...`);
  const stalledDrop = await stalled('drop-newest', PLAN.stalledMs, PLAN.rate);
  console.log(`6/6 stalled sink (block) for ${PLAN.stalledMs / 1000} s ...`);
  const stalledBlock = await stalled('block', PLAN.stalledMs, PLAN.rate);

  console.log('');
  for (const s of [stalledDrop, stalledBlock]) {
    console.log(`accounting, stalled sink (${s.overflow}):`);
    printLedger('while running  ', s.ledgers.running);
    printLedger('after shutdown ', s.ledgers.afterShutdown);
  }
  console.log('');

  const stalledRow = (s) => [
    `stalled sink, ${s.overflow}`,
    `RSS ${fmtMb(s.rssGrowthMb)}`,
    `< ${GOALS.stalledRssGrowthMb} MB`,
    `${verdict(s.rssGrowthMb < GOALS.stalledRssGrowthMb)}; ledger ${s.accountingOk ? 'PASS' : 'FAIL'}`,
    `${fmtInt(s.offered)} offered in ${PLAN.stalledMs / 1000} s, RSS ${s.rssBeforeMb.toFixed(0)} -> ${s.rssAfterMb.toFixed(0)} MB (peak ${s.rssPeakMb.toFixed(0)})`,
  ];
  const rows = [
    [
      'trySend -> null sink',
      `${fmtInt(trySend.eventsPerSec)} ev/s`,
      `>= ${fmtInt(GOALS.trySendPerSec)} ev/s`,
      verdict(trySend.eventsPerSec >= GOALS.trySendPerSec),
      `${fmtInt(trySend.events)} events in ${(trySend.elapsedMs / 1000).toFixed(2)} s, ${fmtInt(trySend.dropped)} dropped, chunks of ${CHUNK}`,
    ],
    [
      'await send -> null sink',
      `${fmtInt(send.eventsPerSec)} ev/s`,
      `>= ${fmtInt(GOALS.sendPerSec)} ev/s`,
      verdict(send.eventsPerSec >= GOALS.sendPerSec),
      `${fmtInt(send.events)} events in ${(send.elapsedMs / 1000).toFixed(2)} s, ${fmtInt(send.dropped)} dropped`,
    ],
    [
      'baseline: EventEmitter',
      `${fmtInt(emitter.eventsPerSec)} ev/s`,
      '-',
      '-',
      `collector trySend is ${(trySend.eventsPerSec / emitter.eventsPerSec).toFixed(2)}x this bus`,
    ],
    [
      'latency p50 / p99 / max',
      `${fmtMs(lat.p50Ms)} / ${fmtMs(lat.p99Ms)} / ${fmtMs(lat.maxMs)}`,
      `p99 <= ${GOALS.latencyP99Ms} ms`,
      verdict(lat.p99Ms <= GOALS.latencyP99Ms),
      `${fmtInt(lat.offeredPerSec)} ev/s offered, ${fmtInt(lat.measured)} measured, ${fmtInt(lat.dropped)} dropped`,
    ],
    stalledRow(stalledDrop),
    stalledRow(stalledBlock),
  ];
  printTable(rows);

  const results = {
    benchmark: 'core-pipeline',
    date: new Date().toISOString(),
    env,
    plan: { ...PLAN, chunk: CHUNK, batchTimeoutMs: BATCH_TIMEOUT_MS },
    goals: GOALS,
    results: { trySend, send, emitterBaseline: emitter, latency: lat, stalled: [stalledDrop, stalledBlock] },
  };
  writeBenchResult('core-pipeline', results);
  if (!stalledDrop.accountingOk || !stalledBlock.accountingOk) process.exitCode = 1;
}

await main();
