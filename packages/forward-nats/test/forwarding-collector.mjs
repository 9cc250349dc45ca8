// A collector process for the crash tests: one source that emits numbered process events as fast as
// the pipeline takes them, and the NATS forwarder, with a data directory (so sequence numbers stay
// unique across restarts). Usage: node forwarding-collector.mjs <data dir> <server url>... It prints
// the forwarder's counters as a JSON line every 100 ms and runs until SIGTERM (or SIGKILL).
import { Collector, CollectorConfig } from '@daemoneye/core';
import { createNatsSink } from '../dist/index.js';

const [dataDir, ...servers] = process.argv.slice(2);
const collector = new Collector(
  new CollectorConfig({
    componentName: 'crash-test',
    dataDir,
    maxBatchSize: 500,
    batchTimeout: 10,
    enableTelemetry: false,
  }),
);
let n = 0;
collector.register({
  name: () => 'counter',
  capabilities: () => 1,
  async start(tx, signal) {
    tx.ready();
    while (!signal.aborted) {
      for (let k = 0; k < 100; k++) {
        n++;
        await tx.send({
          kind: 'process',
          subtype: 'snapshot',
          pid: n,
          name: 'counter',
          commandLine: ['counter', String(n)],
          accessible: true,
          fileExists: true,
          timestamp: Date.now(),
        });
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  },
  async stop() {},
  async healthCheck() {},
});
const sink = createNatsSink({ servers, reconnectWaitMs: 200, ackTimeoutMs: 2000 });
collector.addSink(sink, { queueCapacity: 5000 });
const timer = setInterval(() => process.stdout.write(`${JSON.stringify({ stats: sink.stats(), sent: n })}\n`), 100);
process.on('SIGTERM', () => {
  clearInterval(timer);
  void collector.shutdown();
});
await collector.run();
