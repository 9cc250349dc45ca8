import { setTimeout as sleep } from 'node:timers/promises';
import { batchOf } from '@daemoneye/core';
import { afterEach, describe, expect, it } from 'vitest';
import { batchAt, ev, HOST, runtime, seqSummary, waitFor } from './__test__/support.ts';
import { createNatsSink, type NatsSink } from './nats-sink.ts';
import { type NatsServer, natsServer, readStream, startNatsServer } from './testing.ts';

const servers: NatsServer[] = [];
const sinks: NatsSink[] = [];
afterEach(async () => {
  for (const s of sinks.splice(0)) await s.close();
  for (const s of servers.splice(0)) await s.stop();
});

async function server(): Promise<NatsServer> {
  const s = await startNatsServer();
  servers.push(s);
  return s;
}

function sink(url: string, extra: Parameters<typeof createNatsSink>[0] = {}): NatsSink {
  const s = createNatsSink({ servers: [url], reconnectWaitMs: 200, ackTimeoutMs: 2000, ...extra });
  sinks.push(s);
  return s;
}

const never = new AbortController().signal;

describe('the NATS forwarder', () => {
  it('forwards 100,000 events: the stream holds exactly those events, on host and kind subjects', async () => {
    const srv = await server();
    const s = sink(srv.url);
    await s.open(never, runtime());
    for (let i = 0; i < 100; i++) await s.write(batchAt(i, 1000), never);
    await waitFor(() => s.stats().acked === 100_000, 'every ack');
    const got = await readStream([srv.url], 'DAEMONEYE_EVENTS');
    expect(got.events.length).toBe(100_000);
    const seqs = got.events.map((e) => e.record.seq);
    expect(seqSummary(seqs)).toEqual({ unique: 100_000, repeated: 0 });
    expect(Math.min(...seqs)).toBe(1);
    expect(Math.max(...seqs)).toBe(100_000);
    // The events are the ones written, each with its own record.
    for (const e of got.events) expect(e.event).toMatchObject({ kind: 'process', pid: e.record.seq });
    expect(new Set(got.subjects)).toEqual(new Set(['daemoneye.events.test-host_example.process']));
    expect(got.msgIds[0]).toBe(`${HOST.machineId}:1`);
    expect(s.stats()).toMatchObject({ published: 100_000, acked: 100_000, duplicates: 0, dropped: {} });
    expect(s.health()).toEqual({ status: 'healthy' });
  });

  it('splits a batch by kind into per-kind subjects', async () => {
    const srv = await server();
    const s = sink(srv.url);
    await s.open(never, runtime());
    await s.write(batchOf([ev(1), ev(2, 'filesystem'), ev(3), ev(4, 'filesystem')], { firstSeq: 10 }), never);
    await waitFor(() => s.stats().acked === 4, 'the acks');
    const got = await readStream([srv.url], 'DAEMONEYE_EVENTS');
    expect(got.messages).toBe(2);
    expect(got.subjects.sort()).toEqual([
      'daemoneye.events.test-host_example.filesystem',
      'daemoneye.events.test-host_example.process',
    ]);
    expect(got.events.map((e) => e.record.seq).sort()).toEqual([10, 11, 12, 13]);
  });

  it('spools while the server is down for 10 s mid-stream, then replays: zero lost, zero duplicated', async () => {
    const srv = await server();
    const s = sink(srv.url);
    await s.open(never, runtime());
    const writer = (async () => {
      for (let i = 0; i < 400; i++) {
        await s.write(batchAt(i, 250), never);
        await sleep(40);
      }
    })();
    await waitFor(() => s.stats().acked >= 10_000, 'the first acks');
    await srv.stop();
    await waitFor(() => s.health().status === 'degraded', 'degraded health');
    expect(s.health().reason).toMatch(/disconnected|publish|connect/);
    await sleep(10_000);
    expect(s.stats().spoolPendingEvents).toBeGreaterThan(0);
    await srv.start();
    await writer;
    await waitFor(() => s.stats().acked === 100_000, 'every ack after the restart', 60_000);
    expect(s.health()).toEqual({ status: 'healthy' });
    const got = await readStream([srv.url], 'DAEMONEYE_EVENTS');
    expect(seqSummary(got.events.map((e) => e.record.seq))).toEqual({ unique: 100_000, repeated: 0 });
    expect(got.events.length).toBe(100_000);
    const st = s.stats();
    expect(st.spooled).toBeGreaterThan(0);
    // Everything written during the outage was published from the spool after it.
    expect(st.replayed).toBeGreaterThanOrEqual(st.spooled);
    expect(st.dropped).toEqual({});
    expect(st.spoolPendingEvents).toBe(0);
  }, 120_000);

  it('uses a stream an administrator made, and refuses one that does not take its subjects', async () => {
    const srv = await server();
    const { connect } = await import('@nats-io/transport-node');
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const nc = await connect({ servers: [srv.url] });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'ADMIN', subjects: ['daemoneye.events.>'] });
    await jsm.streams.add({ name: 'OTHER', subjects: ['other.>'] });
    await nc.close();
    const ok = sink(srv.url, { stream: { name: 'ADMIN', create: false } });
    await ok.open(never, runtime());
    await ok.write(batchAt(0, 10), never);
    await waitFor(() => ok.stats().acked === 10, 'the acks');
    expect((await readStream([srv.url], 'ADMIN')).events.length).toBe(10);
    const bad = sink(srv.url, { stream: { name: 'OTHER', create: false } });
    await bad.open(never, runtime());
    await bad.write(batchAt(0, 10), never);
    await waitFor(() => /does not take|not the forwarder/.test(bad.health().reason ?? ''), 'the refusal');
    expect(bad.health().status).toBe('degraded');
    const missing = sink(srv.url, { stream: { name: 'NOPE', create: false } });
    await missing.open(never, runtime());
    await waitFor(() => /does not exist/.test(missing.health().reason ?? ''), 'the missing stream');
  });

  it('at its bound drops the oldest spooled events, counts them exactly, and delivers the rest', async () => {
    const srv = await natsServer();
    servers.push(srv);
    const s = sink(srv.url, { spool: { maxBytes: 256 * 1024, segmentBytes: 32 * 1024 } });
    await s.open(never, runtime());
    for (let i = 0; i < 200; i++) await s.write(batchAt(i, 50), never);
    const st = s.stats();
    expect(st.connected).toBe(false);
    expect(st.spoolBytes).toBeLessThanOrEqual(256 * 1024);
    const dropped = st.dropped.spool_full ?? 0;
    expect(dropped).toBeGreaterThan(0);
    expect(dropped + st.spoolPendingEvents).toBe(10_000);
    await srv.start();
    await waitFor(() => s.stats().acked === st.spoolPendingEvents, 'the spool replayed');
    const got = await readStream([srv.url], 'DAEMONEYE_EVENTS');
    const seqs = got.events.map((e) => e.record.seq).sort((a, b) => a - b);
    // Exactly the newest events are delivered: the dropped ones are the oldest, each counted once.
    expect(seqs).toEqual(Array.from({ length: 10_000 - dropped }, (_, i) => dropped + i + 1));
    expect(s.stats().dropped).toEqual({ spool_full: dropped });
  });

  it('creates the stream again when it is deleted while the sink runs', async () => {
    const srv = await server();
    const s = sink(srv.url);
    await s.open(never, runtime());
    await s.write(batchAt(0, 1000), never);
    await waitFor(() => s.stats().acked === 1000, 'the first acks');
    const { connect } = await import('@nats-io/transport-node');
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const nc = await connect({ servers: [srv.url] });
    await (await jetstreamManager(nc)).streams.delete('DAEMONEYE_EVENTS');
    await nc.close();
    await s.write(batchAt(1, 1000), never);
    await waitFor(() => s.stats().acked === 2000, 'the acks after the stream came back');
    const got = await readStream([srv.url], 'DAEMONEYE_EVENTS');
    expect(got.events.map((e) => e.record.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => 1001 + i));
    expect(s.health()).toEqual({ status: 'healthy' });
  });

  it('is Degraded with the reason when no server answers, and spools what it is given', async () => {
    const { freePort } = await import('./testing.ts');
    const s = sink(`nats://127.0.0.1:${await freePort()}`);
    await s.open(never, runtime());
    await s.write(batchAt(0, 100), never);
    expect(s.health().status).toBe('degraded');
    expect(s.health().reason).toMatch(/connect|not connected/);
    expect(s.stats()).toMatchObject({ spooled: 100, spoolPendingEvents: 100, acked: 0, connected: false });
  });
});
