import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { batchOf, type CollectionEvent, silentLogger } from '@daemoneye/core';
import { createNatsSink } from '@daemoneye/forward-nats';
import { type NatsServer, startNatsServer } from '@daemoneye/forward-nats/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { runFleetConsumer } from './nats-consumer.ts';

let server: NatsServer | undefined;
afterAll(async () => {
  await server?.stop();
});

const ev = (n: number): CollectionEvent => ({
  kind: 'performance',
  metricName: 'counter',
  value: n,
  unit: 'count',
  component: 'test',
  timestamp: n,
});

/** Forwards `count` events from `host`, sequence numbers from `first`, and waits for their acks. */
async function forward(url: string, host: string, first: number, count: number): Promise<void> {
  const sink = createNatsSink({ servers: [url], reconnectWaitMs: 100 });
  const never = new AbortController().signal;
  await sink.open(never, {
    componentName: 'example',
    host: { hostname: host },
    dataDir: mkdtempSync(join(tmpdir(), 'de-example-')),
    logger: silentLogger,
  });
  const events = Array.from({ length: count }, (_, i) => ev(first + i));
  await sink.write(batchOf(events, { firstSeq: first }), never);
  const end = Date.now() + 20_000;
  while (sink.stats().acked < count && Date.now() < end) await sleep(20);
  await sink.close();
}

describe('the fleet consumer example', () => {
  it("reads every host's events with a durable consumer and resumes after a restart", async () => {
    server = await startNatsServer();
    const url = server.url;
    await forward(url, 'web-1', 1, 300);
    await forward(url, 'db-1', 1, 200);

    const seen = new Map<string, number[]>();
    const run = async (expected: number) => {
      const ctl = new AbortController();
      let got = 0;
      const report = runFleetConsumer({
        servers: [url],
        signal: ctl.signal,
        onBatch(batch) {
          const list = seen.get(batch.host.hostname) ?? [];
          for (const e of batch.events) list.push(e.record.seq);
          seen.set(batch.host.hostname, list);
          got += batch.events.length;
          if (got >= expected) ctl.abort();
        },
      });
      return report;
    };
    expect(await run(500)).toMatchObject({ events: 500, undecodable: 0 });
    expect(seen.get('web-1')).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(seen.get('db-1')).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));

    // After a restart the durable consumer delivers only what is new.
    await forward(url, 'web-1', 301, 50);
    expect(await run(50)).toMatchObject({ events: 50 });
    expect(seen.get('web-1')?.slice(300)).toEqual(Array.from({ length: 50 }, (_, i) => 301 + i));
    expect(seen.get('db-1')?.length).toBe(200);
  }, 60_000);
});
