// The README's "Using the library" example as a user runs it, with a small source of its own as
// `mySource`. The collector shuts down on SIGINT (`handleSignals: true`), which this script sends
// itself once every event reached the sink.
import { CollectionEvent, Collector, CollectorConfig, SourceCaps } from '@daemoneye/core';

const EVENTS = 250;
let received = 0;

const mySource = {
  name: () => 'my-source',
  capabilities: () => SourceCaps.PERFORMANCE,
  async start(tx, shutdownSignal) {
    for (let i = 0; i < EVENTS && !shutdownSignal.aborted; i++) {
      await tx.send(
        CollectionEvent.performance({ metricName: 'my.metric', value: i, unit: 'count', component: 'mine' }),
      );
    }
    await new Promise((resolve) => shutdownSignal.addEventListener('abort', resolve, { once: true }));
  },
  async stop() {},
  async healthCheck() {},
};

const collector = new Collector(
  new CollectorConfig().withComponentName('my-collector').withMaxBatchSize(100).withBatchTimeout(100),
);
collector.register(mySource); // an EventSource
collector.addSink({
  name: () => 'stdout',
  write: async (batch) => {
    console.log(batch.length);
    received += batch.length;
    if (received === EVENTS) process.kill(process.pid, 'SIGINT');
  },
});
const giveUp = setTimeout(() => {
  console.log(`FAIL: README example: ${received} of ${EVENTS} events after 10 s`);
  process.exit(1);
}, 10_000);
const report = await collector.run({ handleSignals: true }); // resolves after a graceful shutdown
clearTimeout(giveUp);

if (received !== EVENTS || !report.drained) {
  console.log(`FAIL: README example: ${received} of ${EVENTS} events, drained ${report.drained}`);
  process.exit(1);
}
console.log(`ok: README example: ${received} events in batches of at most 100, stopped by SIGINT, drained`);
