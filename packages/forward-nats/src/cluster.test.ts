/**
 * The forwarder against a 3-node JetStream cluster on loopback ports (a stream with 3 replicas): one
 * server is stopped mid-stream and started again, and the stream still holds every event once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { batchAt, runtime, seqSummary, waitFor } from './__test__/support.ts';
import { createNatsSink, type NatsSink } from './nats-sink.ts';
import { type NatsServer, readStream, startNatsCluster } from './testing.ts';

let cluster: NatsServer[] = [];
let sink: NatsSink | undefined;
afterEach(async () => {
  await sink?.close();
  for (const s of cluster) await s.stop();
  cluster = [];
});

describe('the forwarder on a 3-node JetStream cluster', () => {
  it('loses nothing when one server is stopped mid-stream', async () => {
    cluster = await startNatsCluster();
    const urls = cluster.map((s) => s.url);
    sink = createNatsSink({ servers: urls, stream: { replicas: 3 }, reconnectWaitMs: 200, ackTimeoutMs: 3000 });
    const never = new AbortController().signal;
    await sink.open(never, runtime());
    const s = sink;
    const writer = (async () => {
      for (let i = 0; i < 200; i++) {
        await s.write(batchAt(i, 250), never);
        await sleep(10);
      }
    })();
    const state = () => ({ stats: s.stats(), health: s.health() });
    await waitFor(() => s.stats().acked >= 10_000, 'the first acks', 60_000, state);
    // Stop the server the forwarder is connected to, while events are still being written.
    const on = s.stats().server;
    const victim = cluster.find((c) => on?.endsWith(`:${c.port}`)) as NatsServer;
    expect(victim).toBeDefined();
    await victim.stop();
    expect(s.stats().acked).toBeLessThan(50_000);
    await sleep(3000);
    await writer;
    await waitFor(() => s.stats().acked >= 50_000, 'every ack with one server down', 90_000, state);
    await victim.start();
    expect(s.stats().server).not.toMatch(new RegExp(`:${victim.port}$`));
    const got = await readStream(urls, 'DAEMONEYE_EVENTS');
    expect(got.events.length).toBe(50_000);
    expect(seqSummary(got.events.map((e) => e.record.seq))).toEqual({ unique: 50_000, repeated: 0 });
    expect(s.stats()).toMatchObject({ acked: 50_000, dropped: {}, spoolPendingEvents: 0 });
  }, 180_000);
});
