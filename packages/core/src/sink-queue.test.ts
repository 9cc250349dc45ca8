import { describe, expect, it } from 'vitest';
import { ev, queueOptions, sum, untilAborted, waitFor } from './__test__/support.ts';
import { Collector } from './collector.ts';
import { CollectorConfig } from './config.ts';
import type { CollectionEvent, PerformanceEvent } from './event.ts';
import { HealthStatus } from './health.ts';
import { batchOf } from './record.ts';
import type { EventSender, EventSink, EventSource, OverflowPolicy } from './source.ts';

/** Sends `n` events with trySend in one synchronous burst, then runs until aborted. */
class BurstSource implements EventSource {
  accepted = 0;
  done = false;
  constructor(readonly n: number) {}
  name(): string {
    return 'burst';
  }
  capabilities(): number {
    return 0;
  }
  async start(tx: EventSender, signal: AbortSignal): Promise<void> {
    for (let i = 0; i < this.n; i++) if (tx.trySend(ev(i))) this.accepted++;
    this.done = true;
    await untilAborted(signal);
  }
  async stop(): Promise<void> {}
  async healthCheck(): Promise<void> {}
}

class RecordingSink implements EventSink {
  readonly batches: CollectionEvent[][] = [];
  constructor(readonly id = 'healthy') {}
  name(): string {
    return this.id;
  }
  async write(batch: readonly CollectionEvent[]): Promise<void> {
    this.batches.push([...batch]);
  }
  get values(): number[] {
    return this.batches.flat().map((e) => (e as PerformanceEvent).value);
  }
}

class StalledSink implements EventSink {
  writes: number[][] = [];
  constructor(readonly id = 'stalled') {}
  name(): string {
    return this.id;
  }
  write(batch: readonly CollectionEvent[]): Promise<void> {
    this.writes.push(batch.map((e) => (e as PerformanceEvent).value));
    return new Promise(() => {});
  }
}

class FailingSink implements EventSink {
  attempts = 0;
  name(): string {
    return 'failing';
  }
  async write(): Promise<void> {
    this.attempts++;
    throw new Error('disk full');
  }
}

function config(): CollectorConfig {
  return new CollectorConfig()
    .withComponentName('test')
    .withEventBufferSize(1000)
    .withMaxBatchSize(10)
    .withBatchTimeout(20)
    .withShutdownTimeout(150)
    .withStartupTimeout(200)
    .withTelemetry(false);
}

describe('a stalled sink does not block a healthy one', () => {
  const N = 100;
  const B = 10;
  const Q = 30;

  it.each<[OverflowPolicy, string]>([
    ['drop-newest', 'queue_full'],
    ['drop-oldest', 'queue_full_evicted'],
  ])('with overflow %s the healthy sink gets all events and the ledger is exact', async (overflow, reason) => {
    const src = new BurstSource(N);
    const healthy = new RecordingSink();
    const stalled = new StalledSink();
    const c = new Collector(config());
    c.register(src);
    c.addSink(stalled, { queueCapacity: Q, overflow });
    c.addSink(healthy);
    const run = c.run();
    await waitFor(() => healthy.values.length === N, 'healthy sink has every event');
    expect(healthy.values).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(healthy.batches.map((b) => b.length)).toEqual(Array(N / B).fill(B));

    const s = c.stats();
    const st = s.sinks.find((q) => q.name === 'stalled');
    // One batch is being written (forever) and counts against the queue; the queue holds Q/B batches.
    const kept = Math.floor(Q / B) * B;
    expect(st).toMatchObject({
      received: N,
      delivered: 0,
      dropped: { [reason]: N - kept },
      inFlight: kept,
      queueDepth: kept,
      queueHighWater: Q,
      writes: 0,
      overflow,
      capacity: Q,
    });
    expect(st?.received).toBe((st?.delivered ?? 0) + sum(st?.dropped ?? {}) + (st?.inFlight ?? 0));
    expect(stalled.writes).toEqual([Array.from({ length: B }, (_, i) => i)]);
    expect(s.sinks.find((q) => q.name === 'healthy')).toMatchObject({
      received: N,
      delivered: N,
      dropped: {},
      inFlight: 0,
    });
    expect(s.events).toMatchObject({ offered: N, accepted: N, dropped: {}, waiting: 0 });

    const report = await c.shutdown();
    await run;
    expect(report.drained).toBe(false);
    expect(report.undelivered).toBe(kept);
    const after = c.stats().sinks.find((q) => q.name === 'stalled');
    expect(after).toMatchObject({
      received: N,
      delivered: 0,
      dropped: { [reason]: N - kept, shutdown_timeout: kept },
      inFlight: 0,
    });
    expect(c.stats().sinks.find((q) => q.name === 'healthy')?.delivered).toBe(N);
  });

  it('drop-newest with a batch that does not divide the queue', async () => {
    // 95 events, batches of 10 (the last 5 flushed on timeout), queue of 25: the written batch plus one
    // queued batch fit (20); batches 3..9 do not (30 > 25) and are dropped (70); the last batch of 5
    // fits exactly (25).
    const src = new BurstSource(95);
    const healthy = new RecordingSink();
    const c = new Collector(config());
    c.register(src);
    c.addSink(new StalledSink(), { queueCapacity: 25, overflow: 'drop-newest' });
    c.addSink(healthy);
    const run = c.run();
    await waitFor(() => healthy.values.length === 95, 'healthy sink has every event');
    const st = c.stats().sinks[0];
    expect(st).toMatchObject({
      received: 95,
      delivered: 0,
      dropped: { queue_full: 70 },
      inFlight: 25,
      queueHighWater: 25,
    });
    expect(c.stats().batches.flushCauses).toEqual({ size: 9, timeout: 1, shutdown: 0 });
    await c.shutdown();
    await run;
  });
});

describe('failing sink', () => {
  it('counts rejected writes as sink_error and reports its health', async () => {
    const src = new BurstSource(30);
    const failing = new FailingSink();
    const healthy = new RecordingSink();
    const c = new Collector(config());
    c.register(src);
    c.addSink(failing);
    c.addSink(healthy);
    const run = c.run();
    await waitFor(() => failing.attempts === 3 && healthy.values.length === 30, 'three failed writes');
    await waitFor(() => c.stats().sinks[0]?.inFlight === 0, 'failing sink idle');
    expect(c.stats().sinks[0]).toMatchObject({
      received: 30,
      delivered: 0,
      dropped: { sink_error: 30 },
      inFlight: 0,
      writes: 3,
      failedWrites: 3,
    });
    expect(c.health().sinks[0]).toEqual({
      name: 'failing',
      overflow: 'block',
      status: 'Unhealthy',
      reason: 'last 3 writes failed: Error: disk full',
      consecutiveFailures: 3,
    });
    // A lossless (block) sink that keeps failing makes the whole collector Unhealthy.
    expect(c.health().status).toBe(HealthStatus.Unhealthy);
    expect(c.health().reasons).toEqual(['sink failing: last 3 writes failed: Error: disk full']);
    const report = await c.shutdown();
    await run;
    // a failed write still counts as handled: nothing is left undelivered at shutdown
    expect(report).toMatchObject({ drained: true, undelivered: 0 });
  });
});

describe('SinkQueue drop-oldest bound', () => {
  it('never holds more than its capacity: a batch that cannot fit beside the one being written is refused', async () => {
    const { SinkQueue } = await import('./sink-queue.ts');
    const stalled: EventSink = { name: () => 'stalled', write: () => new Promise(() => {}) };
    const q = new SinkQueue(stalled, queueOptions(4, 'drop-oldest'));
    const batch = (from: number) => batchOf([ev(from), ev(from + 1), ev(from + 2), ev(from + 3)]);
    expect(q.offer(batch(0))).toBeUndefined(); // being written: cannot be evicted
    expect(q.offer(batch(4))).toBeUndefined();
    q.offer(batchOf([ev(8), ev(9)]));
    const s = q.stats();
    expect(s.queueDepth).toBe(4);
    expect(s.queueHighWater).toBe(4);
    expect(s.dropped).toEqual({ queue_full: 6 });
    expect(s.received).toBe(10);
    expect(s.received).toBe(s.delivered + sum(s.dropped) + s.inFlight);
  });
});
