// A collector in a process of its own, for restart tests: a ticking source, a data directory (so
// sequence numbers persist across restarts) and the built IPC server on the socket given.
//   node collector-child.mjs DATA_DIR SOCKET
import { CollectionEvent, Collector, CollectorConfig, SourceCaps } from '@daemoneye/core';
import { CollectorIpcServer } from '../../dist/index.js';

const [dataDir, socketPath] = process.argv.slice(2);
const ticker = {
  name: () => 'ticker',
  capabilities: () => SourceCaps.PERFORMANCE,
  async start(tx, signal) {
    tx.ready?.();
    let n = 0;
    while (!signal.aborted) {
      await tx.send(CollectionEvent.performance({ metricName: 'tick', value: n++, unit: 'count', component: 'cpu' }));
      await new Promise((r) => setTimeout(r, 2));
    }
  },
  async stop() {},
  async healthCheck() {},
};
const collector = new Collector(new CollectorConfig().withDataDir(dataDir).withBatchTimeout(10));
collector.register(ticker);
collector.addSink(new CollectorIpcServer({ socketPath, replayCapacity: 100_000, subscriberQueue: 50_000 }));
const done = collector.run({ handleSignals: true });
const wait = setInterval(() => {
  if (collector.health().sources.every((s) => s.state === 'running')) {
    clearInterval(wait);
    process.stdout.write('ready\n');
  }
}, 20);
await done;
