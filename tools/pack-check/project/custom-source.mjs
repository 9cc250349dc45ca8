// The seed's "Custom Event Source" under a collector with a sink: its counter events arrive in order,
// and a shutdown drains them all.
import { Collector, CollectorConfig } from '@daemoneye/core';
import { CustomEventSource } from './custom-event-source.mjs';

const collector = new Collector(
  new CollectorConfig().withMaxBatchSize(10).withEventBufferSize(100).withBatchTimeout(20),
);
collector.register(new CustomEventSource('custom-source', 1));
const seen = [];
collector.addSink({ name: () => 'memory', write: async (batch) => void seen.push(...batch) });

const running = collector.run();
await new Promise((resolve) => setTimeout(resolve, 200));
const report = await collector.shutdown();
await running;

const fail = (message) => {
  console.log(`FAIL: Custom Event Source: ${message}`);
  process.exit(1);
};
if (!report.drained) fail('shutdown did not drain');
if (seen.length === 0) fail('the sink received no event');
if (seen.length !== collector.stats().events.accepted) {
  fail(`the sink received ${seen.length} of ${collector.stats().events.accepted} accepted events`);
}
const outOfOrder = seen.findIndex((e, i) => e.kind !== 'performance' || e.value !== i);
if (outOfOrder >= 0) fail(`event ${outOfOrder} is ${JSON.stringify(seen[outOfOrder])}`);
console.log(`ok: Custom Event Source: ${seen.length} counter events delivered in order, drained`);
