import { describe, expect, it } from 'vitest';
import { ev, failure, readyUntilAborted, sleep, sum, testConfig, untilAborted, waitFor } from './__test__/support.ts';
import { Collector } from './collector.ts';
import type { CollectionEvent, PerformanceEvent } from './event.ts';
import { HealthStatus } from './health.ts';
import type { EventSender, EventSink, EventSource } from './source.ts';
import { SourceCaps } from './source-caps.ts';

const valuesOf = (events: readonly CollectionEvent[]): number[] => events.map((e) => (e as PerformanceEvent).value);

interface SourceScript {
  caps?: number;
  run?: (tx: EventSender, signal: AbortSignal) => Promise<void>;
  check?: () => Promise<void>;
  stopLog?: string[];
}

class TestSource implements EventSource {
  starts = 0;
  stops = 0;
  constructor(
    readonly id: string,
    readonly script: SourceScript = {},
  ) {}
  name(): string {
    return this.id;
  }
  capabilities(): number {
    return this.script.caps ?? 0;
  }
  start(tx: EventSender, signal: AbortSignal): Promise<void> {
    this.starts++;
    return (this.script.run ?? readyUntilAborted)(tx, signal);
  }
  async stop(): Promise<void> {
    this.stops++;
    this.script.stopLog?.push(this.id);
  }
  healthCheck(): Promise<void> {
    return this.script.check?.() ?? Promise.resolve();
  }
}

class RecordingSink implements EventSink {
  readonly batches: CollectionEvent[][] = [];
  closes = 0;
  constructor(
    readonly id = 'rec',
    readonly delayMs = 0,
  ) {}
  name(): string {
    return this.id;
  }
  async write(batch: readonly CollectionEvent[]): Promise<void> {
    if (this.delayMs > 0) await sleep(this.delayMs);
    this.batches.push([...batch]);
  }
  async close(): Promise<void> {
    this.closes++;
  }
  get values(): number[] {
    return valuesOf(this.batches.flat());
  }
}

class StalledSink implements EventSink {
  writes = 0;
  constructor(readonly id = 'stalled') {}
  name(): string {
    return this.id;
  }
  write(): Promise<void> {
    this.writes++;
    return new Promise(() => {});
  }
}

describe('Collector.register', () => {
  it('rejects a duplicate name', () => {
    const c = new Collector(testConfig());
    c.register(new TestSource('proc'));
    const e = failure(() => c.register(new TestSource('proc')));
    expect(e.code).toBe('ERR_SOURCE_DUPLICATE');
    expect(e.message).toBe('an event source named "proc" is already registered');
    expect(c.sourceNames()).toEqual(['proc']);
  });

  it('rejects more than maxEventSources', () => {
    const c = new Collector(testConfig().withMaxEventSources(2));
    c.register(new TestSource('a'));
    c.register(new TestSource('b'));
    const e = failure(() => c.register(new TestSource('c')));
    expect(e.code).toBe('ERR_SOURCE_LIMIT');
    expect(e.details).toEqual({ source: 'c', limit: 2 });
    expect(c.sourceNames()).toEqual(['a', 'b']);
  });

  it('allows the default 16 sources and refuses the 17th', () => {
    const c = new Collector(testConfig());
    for (let i = 0; i < 16; i++) c.register(new TestSource(`s${i}`));
    expect(failure(() => c.register(new TestSource('s16'))).code).toBe('ERR_SOURCE_LIMIT');
  });

  it('rejects something that is not an EventSource', () => {
    const c = new Collector(testConfig());
    const { healthCheck: _omit, ...noHealth } = {
      name: () => 'x',
      capabilities: () => 0,
      start: async () => {},
      stop: async () => {},
      healthCheck: async () => {},
    };
    const e = failure(() => c.register(noHealth as unknown as EventSource));
    expect(e.code).toBe('ERR_SOURCE_INVALID');
    expect(e.message).toBe('event source has no healthCheck() method');
    for (const bad of [null, undefined, 42, 'proc', {}]) {
      expect(failure(() => c.register(bad as unknown as EventSource)).code).toBe('ERR_SOURCE_INVALID');
    }
    expect(c.sourceNames()).toEqual([]);
  });

  it('rejects registration once the collector runs, and after it stopped', async () => {
    const c = new Collector(testConfig());
    c.register(new TestSource('a'));
    const done = c.run();
    const e = failure(() => c.register(new TestSource('b')));
    expect(e.code).toBe('ERR_COLLECTOR_STATE');
    expect(e.message).toBe('cannot register source "b": the collector is running');
    await c.shutdown();
    await done;
    expect(failure(() => c.register(new TestSource('c'))).code).toBe('ERR_COLLECTOR_STATE');
    await expect(c.run()).rejects.toMatchObject({ code: 'ERR_COLLECTOR_STATE' });
  });

  it('capabilities() is the union of the sources', () => {
    const c = new Collector(testConfig());
    expect(c.capabilities()).toBe(0);
    c.register(new TestSource('p', { caps: SourceCaps.PROCESS | SourceCaps.REALTIME }));
    c.register(new TestSource('n', { caps: SourceCaps.NETWORK | SourceCaps.REALTIME }));
    c.register(new TestSource('k', { caps: SourceCaps.KERNEL_LEVEL }));
    expect(c.capabilities()).toBe(0b110011);
    expect(c.capabilities()).toBe(
      SourceCaps.PROCESS | SourceCaps.NETWORK | SourceCaps.REALTIME | SourceCaps.KERNEL_LEVEL,
    );
    c.register(new TestSource('hi', { caps: 0x80000000 }));
    expect(c.capabilities()).toBe(0x80000033);
  });
});

describe('Collector.addSink', () => {
  it('rejects a duplicate sink name', () => {
    const c = new Collector(testConfig());
    c.addSink(new RecordingSink('store'));
    const e = failure(() => c.addSink(new RecordingSink('store')));
    expect(e.code).toBe('ERR_SINK_DUPLICATE');
    expect(e.message).toBe('a sink named "store" is already added');
  });

  it('rejects a queue smaller than max_batch_size', () => {
    const c = new Collector(testConfig().withMaxBatchSize(100));
    const e = failure(() => c.addSink(new RecordingSink('small'), { queueCapacity: 99 }));
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.details).toEqual({ field: 'queueCapacity', value: 99, layer: 'api', source: 'addSink()' });
    expect(failure(() => c.addSink(new RecordingSink('frac'), { queueCapacity: 150.5 })).code).toBe(
      'ERR_CONFIG_INVALID',
    );
    c.addSink(new RecordingSink('exact'), { queueCapacity: 100 });
    expect(c.stats().sinks.map((s) => [s.name, s.capacity, s.overflow])).toEqual([['exact', 100, 'block']]);
  });

  it('defaults the queue to the event buffer size and rejects bad policies and non-sinks', () => {
    const c = new Collector(testConfig().withEventBufferSize(5000));
    c.addSink(new RecordingSink('a'));
    expect(c.stats().sinks[0]?.capacity).toBe(5000);
    const e = failure(() => c.addSink(new RecordingSink('b'), { overflow: 'drop-all' as never }));
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.details.field).toBe('overflow');
    expect(failure(() => c.addSink({ name: () => 'x' } as unknown as EventSink)).code).toBe('ERR_SINK_INVALID');
    expect(failure(() => c.addSink(null as unknown as EventSink)).code).toBe('ERR_SINK_INVALID');
  });
});

describe('Collector lifecycle', () => {
  it('await using shuts the collector down', async () => {
    const src = new TestSource('a');
    const sink = new RecordingSink();
    let outer: Collector | undefined;
    let running: Promise<unknown> | undefined;
    {
      await using c = new Collector(testConfig());
      outer = c;
      c.register(src);
      c.addSink(sink);
      running = c.run();
      await waitFor(() => c.health().sources[0]?.state === 'running', 'source running');
      expect(c.stats().state).toBe('running');
    }
    expect(outer.stats().state).toBe('stopped');
    expect(src.stops).toBe(1);
    expect(sink.closes).toBe(1);
    await expect(running).resolves.toMatchObject({ drained: true, undelivered: 0, stoppedSources: ['a'] });
  });

  it('shutdown before run just stops', async () => {
    const c = new Collector(testConfig());
    expect(await c.shutdown()).toEqual({
      drained: true,
      undelivered: 0,
      durationMs: 0,
      stoppedSources: [],
      sinks: [],
    });
    expect(c.stats().state).toBe('stopped');
    expect(c.health().status).toBe(HealthStatus.Unhealthy);
    expect(c.health().reasons).toEqual(['collector is stopped']);
  });

  it('shutdown is idempotent and concurrent calls get the same report', async () => {
    const c = new Collector(testConfig());
    c.register(new TestSource('a'));
    const run = c.run();
    const [r1, r2] = await Promise.all([c.shutdown(), c.shutdown()]);
    expect(r1).toBe(r2);
    expect(await run).toBe(r1);
    expect(await c.shutdown()).toBe(r1);
  });

  it('reports Healthy while everything runs', async () => {
    const c = new Collector(testConfig());
    c.register(new TestSource('a'));
    c.addSink(new RecordingSink());
    const run = c.run();
    await waitFor(() => c.health().sources[0]?.state === 'running', 'source running');
    expect(c.health()).toEqual({
      status: 'Healthy',
      reasons: [],
      sources: [{ name: 'a', status: 'Healthy', state: 'running', restarts: 0, lastCheckAt: expect.any(Number) }],
      sinks: [{ name: 'rec', overflow: 'block', status: 'Healthy', consecutiveFailures: 0 }],
      processors: [],
    });
    await c.shutdown();
    await run;
  });
});

describe('Collector shutdown drains', () => {
  it('delivers every accepted event, in order, through a slow sink', async () => {
    const N = 500;
    let sent = 0;
    const results: boolean[] = [];
    const src = new TestSource('seq', {
      run: async (tx, signal) => {
        for (let i = 0; i < N; i++) {
          results.push(await tx.send(ev(i)));
          sent++;
          if (i % 25 === 24) await sleep(1);
        }
        await untilAborted(signal);
      },
    });
    const sink = new RecordingSink('slow', 3);
    const c = new Collector(testConfig().withEventBufferSize(200).withMaxBatchSize(50).withMaxBackpressureWait(10_000));
    c.register(src);
    c.addSink(sink, { queueCapacity: 100 });
    const run = c.run();
    await waitFor(() => sent === N, 'all sends');
    const report = await c.shutdown();
    expect(await run).toBe(report);
    expect(results.every((r) => r)).toBe(true);
    expect(report.drained).toBe(true);
    expect(report.undelivered).toBe(0);
    expect(report.stoppedSources).toEqual(['seq']);
    expect(sink.values).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(sink.batches.every((b) => b.length <= 50)).toBe(true);
    expect(sink.closes).toBe(1);
    const s = c.stats();
    expect(s.events).toMatchObject({ offered: N, accepted: N, waiting: 0, buffered: 0, batched: N, dropped: {} });
    expect(s.sinks[0]).toMatchObject({
      received: N,
      delivered: N,
      dropped: {},
      inFlight: 0,
      queueDepth: 0,
      failedWrites: 0,
    });
    expect(s.sources.seq).toEqual({ offered: N, accepted: N, dropped: {}, lost: {} });
  });

  it('delivers exactly the accepted events of a source that keeps sending until shutdown', async () => {
    const accepted: number[] = [];
    let refused = 0;
    let i = 0;
    const src = new TestSource('firehose', {
      run: async (tx, signal) => {
        for (; !signal.aborted; i++) {
          if (await tx.send(ev(i))) accepted.push(i);
          else refused++;
          if (i % 20 === 19) await sleep(1);
        }
      },
    });
    const sink = new RecordingSink('slow', 2);
    const c = new Collector(testConfig().withEventBufferSize(100).withMaxBatchSize(20).withMaxBackpressureWait(30));
    c.register(src);
    c.addSink(sink, { queueCapacity: 40 });
    const run = c.run();
    await waitFor(() => i >= 400, 'a few hundred events');
    const report = await c.shutdown();
    await run;
    expect(report.drained).toBe(true);
    expect(report.undelivered).toBe(0);
    expect(sink.values).toEqual(accepted);
    const s = c.stats();
    expect(s.events.offered).toBe(i);
    expect(s.events.accepted).toBe(accepted.length);
    expect(s.events.offered).toBe(s.events.accepted + sum(s.events.dropped) + s.events.waiting);
    expect(sum(s.events.dropped)).toBe(refused);
    expect(s.sources.firehose?.accepted).toBe(accepted.length);
    expect(sum(s.sources.firehose?.dropped ?? {})).toBe(refused);
    expect(s.sinks[0]).toMatchObject({ received: accepted.length, delivered: accepted.length, inFlight: 0 });
  });

  it('gives up at shutdownTimeout on a sink that never completes and counts exactly what was lost', async () => {
    const src = new TestSource('burst', {
      run: async (tx, signal) => {
        for (let k = 0; k < 60; k++) tx.trySend(ev(k));
        await untilAborted(signal);
      },
    });
    const sink = new StalledSink();
    const c = new Collector(testConfig().withEventBufferSize(100).withMaxBatchSize(10).withShutdownTimeout(150));
    c.register(src);
    c.addSink(sink, { queueCapacity: 10 });
    const run = c.run();
    // batch 1 is being written (forever), batch 2 waits for room, 40 events stay in the channel
    await waitFor(() => sink.writes === 1 && c.stats().events.buffered === 40, 'pipeline blocked');
    expect(c.stats().sinks[0]).toMatchObject({ received: 20, delivered: 0, inFlight: 20 });
    expect(c.health().sinks[0]).toEqual({
      name: 'stalled',
      overflow: 'block',
      status: 'Degraded',
      reason: 'queue full, pipeline blocked on this sink',
      consecutiveFailures: 0,
    });
    const t0 = performance.now();
    const report = await c.shutdown();
    const took = performance.now() - t0;
    expect(await run).toBe(report);
    expect(took).toBeLessThan(150 + 1500);
    expect(report.drained).toBe(false);
    expect(report.undelivered).toBe(60);
    const s = c.stats();
    expect(s.events).toMatchObject({
      offered: 60,
      accepted: 20,
      waiting: 0,
      buffered: 0,
      dropped: { shutdown_timeout: 40 },
    });
    expect(s.events.offered).toBe(s.events.accepted + sum(s.events.dropped) + s.events.waiting);
    expect(s.sinks[0]).toMatchObject({ received: 20, delivered: 0, dropped: { shutdown_timeout: 20 }, inFlight: 0 });
    expect(sink.writes).toBe(1);
  });

  it('a source that ignores the abort signal does not cost the events already accepted', async () => {
    const deaf = new TestSource('deaf', {
      run: async (tx) => {
        tx.ready();
        await new Promise(() => {});
      },
    });
    let sent = 0;
    const seq = new TestSource('seq', {
      run: async (tx, signal) => {
        for (let k = 0; k < 100; k++) {
          await tx.send(ev(k));
          sent++;
        }
        await untilAborted(signal);
      },
    });
    const sink = new RecordingSink('slow', 20);
    const c = new Collector(testConfig().withEventBufferSize(200).withMaxBatchSize(10).withShutdownTimeout(600));
    c.register(deaf);
    c.register(seq);
    c.addSink(sink, { queueCapacity: 200 });
    const run = c.run();
    await waitFor(() => sent === 100, 'all sent');
    const report = await c.shutdown();
    await run;
    expect(deaf.stops).toBe(1);
    expect(report.undelivered).toBe(0);
    expect(report.drained).toBe(true);
    expect(sink.values).toEqual(Array.from({ length: 100 }, (_, k) => k));
  });
});
