// Event bus benchmark: one publisher, four subscribers each reading its own bounded queue with
// `for await`, measured in deliveries per second (events × subscribers), beside Node's EventEmitter
// with four listeners (what a user would pick instead: synchronous, unbounded, no filters). Runs
// against the built package (`npx tsc -b packages/event-bus` first); prints a table and writes JSON
// to bench-results/.
import { EventEmitter } from 'node:events';
import { batchOf, CollectionEvent } from '@daemoneye/core';
import { writeBenchResult } from '../../../tools/bench/results.mjs';
import { EventBus } from '../dist/index.js';

const quick = process.argv.includes('--quick');
const out = (s = '') => process.stdout.write(`${s}\n`);
const EVENTS = quick ? 200_000 : 2_000_000;
const BATCH = 1000;
const SUBSCRIBERS = 4;

const events = Array.from({ length: BATCH }, (_, i) =>
  CollectionEvent.process({
    subtype: i % 2 === 0 ? 'exec' : 'exit',
    pid: 1000 + i,
    name: 'sh',
    commandLine: ['sh'],
    accessible: true,
    fileExists: true,
  }),
);

async function busRun(topics) {
  const bus = new EventBus({ subscriberCapacity: 10_000 });
  const ctl = new AbortController();
  const counts = new Array(SUBSCRIBERS).fill(0);
  const readers = counts.map((_, s) =>
    (async () => {
      const q = bus.subscribe({ subscriberId: `s${s}`, topics, signal: ctl.signal });
      for await (const _d of q) counts[s]++;
    })(),
  );
  const batches = Array.from({ length: EVENTS / BATCH }, (_, b) => batchOf(events, { firstSeq: b * BATCH + 1 }));
  const t = performance.now();
  for (const batch of batches) {
    bus.process(batch);
    // Let the readers run between batches, as between the collector's batches.
    await new Promise((r) => setImmediate(r));
  }
  const ms = performance.now() - t;
  ctl.abort();
  await Promise.all(readers);
  const s = bus.stats();
  const delivered = counts.reduce((a, b) => a + b, 0);
  return {
    ms,
    delivered,
    dropped: Object.values(s.dropped).reduce((a, b) => a + b, 0) - (s.dropped.unsubscribed ?? 0),
  };
}

function emitterRun() {
  const em = new EventEmitter();
  const counts = new Array(SUBSCRIBERS).fill(0);
  for (let s = 0; s < SUBSCRIBERS; s++) em.on('event', () => counts[s]++);
  const t = performance.now();
  for (let b = 0; b < EVENTS / BATCH; b++) for (const e of events) em.emit('event', e);
  return { ms: performance.now() - t, delivered: counts.reduce((a, b) => a + b, 0), dropped: 0 };
}

const rows = [];
const row = (name, r) => {
  const perSec = Math.round(r.delivered / (r.ms / 1000));
  rows.push({
    name,
    events: EVENTS,
    subscribers: SUBSCRIBERS,
    delivered: r.delivered,
    dropped: r.dropped,
    ms: +r.ms.toFixed(1),
    deliveriesPerSec: perSec,
  });
  out(
    `| ${name} | ${EVENTS} | ${r.delivered} | ${r.dropped} | ${r.ms.toFixed(0)} | ${perSec.toLocaleString('en-US')} |`,
  );
};
out(`event bus fan-out — ${new Date().toISOString()}, node ${process.version}`);
out('| method | events | deliveries | dropped | ms | deliveries/s |');
out('| --- | ---: | ---: | ---: | ---: | ---: |');
await busRun(['#']); // warm-up
row('EventBus, 4 async-iterator subscribers, topic #', await busRun(['#']));
row("EventBus, 4 subscribers, topic 'events.process.+'", await busRun(['events.process.+']));
row('node:events EventEmitter, 4 listeners (sync, unbounded)', emitterRun());

writeBenchResult('event-bus-fanout', { when: new Date().toISOString(), node: process.version, rows });
