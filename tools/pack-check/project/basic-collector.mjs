// The seed's "Basic Collector Setup", as a user writes it in plain JavaScript: configure a collector
// with the fluent builder, register the custom source, run, shut down. No sink is added, so every
// batched event is counted as discarded and none vanish.
import { Collector, CollectorConfig, SourceCaps } from '@daemoneye/core';
import { CustomEventSource } from './custom-event-source.mjs';

const config = new CollectorConfig()
  .withComponentName('my-collector')
  .withMaxEventSources(10)
  .withEventBufferSize(1000)
  .withMaxBatchSize(100)
  .withBatchTimeout(100)
  .withHealthCheckInterval(30_000);

const collector = new Collector(config);
collector.register(new CustomEventSource('custom-source', 5));

const running = collector.run();
setTimeout(() => void collector.shutdown(), 300);
await running;

const fail = (message) => {
  console.log(`FAIL: Basic Collector Setup: ${message}`);
  process.exit(1);
};
const stats = collector.stats();
const { offered, accepted, waiting, batched, dropped } = stats.events;
if (collector.capabilities() !== (SourceCaps.PERFORMANCE | SourceCaps.REALTIME)) {
  fail(`capabilities() = ${collector.capabilities()}`);
}
if (stats.state !== 'stopped') fail(`state ${stats.state} after run() resolved`);
if (offered <= 10 || batched <= 10) fail(`only ${offered} events offered, ${batched} batched in 300 ms`);
if (dropped.no_sink !== batched) fail(`${batched} batched but ${dropped.no_sink} counted as no_sink`);
if (offered !== accepted + dropped.no_sink + (dropped.closed ?? 0) + waiting) {
  fail(
    `offered ${offered} != accepted ${accepted} + no_sink ${dropped.no_sink} + closed ${dropped.closed ?? 0} + waiting ${waiting}`,
  );
}
console.log(`ok: Basic Collector Setup: ${offered} events offered, every one accounted for, stopped`);
