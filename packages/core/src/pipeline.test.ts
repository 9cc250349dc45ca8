import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ev, pipelineOptions, queueOptions } from './__test__/support.ts';
import { Collector } from './collector.ts';
import { CollectorConfig } from './config.ts';
import type { CollectionEvent, PerformanceEvent } from './event.ts';
import { Pipeline } from './pipeline.ts';
import { SinkQueue } from './sink-queue.ts';
import type { EventSender, EventSink, EventSource } from './source.ts';

class RecordingSink implements EventSink {
  readonly batches: number[][] = [];
  readonly at: number[] = [];
  name(): string {
    return 'rec';
  }
  async write(batch: readonly CollectionEvent[]): Promise<void> {
    this.at.push(performance.now());
    this.batches.push(batch.map((e) => (e as PerformanceEvent).value));
  }
}

function pipeline(maxBatchSize: number, batchTimeout = 20, capacity = 10_000): { p: Pipeline; sink: RecordingSink } {
  const p = new Pipeline(
    pipelineOptions({ capacity, threshold: Math.max(1, capacity - 1), maxWait: 50, maxBatchSize, batchTimeout }),
  );
  const sink = new RecordingSink();
  p.sinks.push(new SinkQueue(sink, queueOptions(capacity, 'block')));
  return { p, sink };
}

describe('Pipeline batching', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('flushes on size: 3 × maxBatch sent in one tick gives 3 full batches', async () => {
    const { p, sink } = pipeline(10);
    for (let i = 0; i < 30; i++) p.channel.trySend(ev(i));
    await vi.advanceTimersByTimeAsync(0);
    expect(sink.batches).toEqual([0, 1, 2].map((b) => Array.from({ length: 10 }, (_, i) => b * 10 + i)));
    expect(p.flushCauses).toEqual({ size: 3, timeout: 0, shutdown: 0 });
    expect(p.batches).toBe(3);
    expect(p.batched).toBe(30);
    // nothing is left, so no timeout flush follows
    await vi.advanceTimersByTimeAsync(100);
    expect(p.flushCauses).toEqual({ size: 3, timeout: 0, shutdown: 0 });
  });

  it('flushes on timeout: 5 events and no more give one batch of 5 after batchTimeout', async () => {
    const { p, sink } = pipeline(10, 20);
    for (let i = 0; i < 5; i++) p.channel.trySend(ev(i));
    await vi.advanceTimersByTimeAsync(19);
    expect(sink.batches).toEqual([]);
    expect(p.channel.size).toBe(5);
    await vi.advanceTimersByTimeAsync(1);
    expect(sink.batches).toEqual([[0, 1, 2, 3, 4]]);
    expect(p.flushCauses).toEqual({ size: 0, timeout: 1, shutdown: 0 });
    await vi.advanceTimersByTimeAsync(200);
    expect(p.flushCauses).toEqual({ size: 0, timeout: 1, shutdown: 0 });
  });

  it('a remainder after size flushes goes out on timeout', async () => {
    const { p, sink } = pipeline(10, 20);
    for (let i = 0; i < 25; i++) p.channel.trySend(ev(i));
    await vi.advanceTimersByTimeAsync(0);
    expect(sink.batches.map((b) => b.length)).toEqual([10, 10]);
    await vi.advanceTimersByTimeAsync(20);
    expect(sink.batches.map((b) => b.length)).toEqual([10, 10, 5]);
    expect(p.flushCauses).toEqual({ size: 2, timeout: 1, shutdown: 0 });
    expect(p.batchSizes.toObject()).toEqual({ le_1: 0, le_10: 3, le_100: 0, le_1000: 0, le_10000: 0, gt_10000: 0 });
  });

  it('drain flushes a partial batch with cause shutdown and waits for the sinks', async () => {
    const { p, sink } = pipeline(10, 1000);
    for (let i = 0; i < 7; i++) p.channel.trySend(ev(i));
    const drained = p.drain(new AbortController().signal);
    await vi.advanceTimersByTimeAsync(0);
    await expect(drained).resolves.toBe(true);
    expect(sink.batches).toEqual([[0, 1, 2, 3, 4, 5, 6]]);
    expect(p.flushCauses).toEqual({ size: 0, timeout: 0, shutdown: 1 });
  });

  it('drain reports success when everything was already delivered, even at the deadline', async () => {
    const { p, sink } = pipeline(10, 20);
    for (let i = 0; i < 10; i++) p.channel.trySend(ev(i));
    await vi.advanceTimersByTimeAsync(0);
    expect(sink.batches).toHaveLength(1);
    await expect(p.drain(AbortSignal.abort())).resolves.toBe(true);
    expect(p.flushCauses).toEqual({ size: 1, timeout: 0, shutdown: 0 });
  });

  it('drain gives up when the deadline passes with events still pending', async () => {
    const p = new Pipeline(
      pipelineOptions({ capacity: 100, threshold: 80, maxWait: 50, maxBatchSize: 10, batchTimeout: 20 }),
    );
    p.sinks.push(new SinkQueue({ name: () => 'stuck', write: () => new Promise(() => {}) }, queueOptions(10, 'block')));
    for (let i = 0; i < 5; i++) p.channel.trySend(ev(i));
    const ctl = new AbortController();
    const drained = p.drain(ctl.signal);
    await vi.advanceTimersByTimeAsync(10);
    ctl.abort();
    await expect(drained).resolves.toBe(false);
    expect(p.sinks[0]?.inFlight).toBe(5);
  });

  it('without a sink, batches are discarded and counted', async () => {
    const p = new Pipeline(
      pipelineOptions({ capacity: 100, threshold: 80, maxWait: 50, maxBatchSize: 10, batchTimeout: 20 }),
    );
    for (let i = 0; i < 12; i++) p.channel.trySend(ev(i));
    await vi.advanceTimersByTimeAsync(20);
    expect(p.discarded.toObject()).toEqual({ no_sink: 12 });
  });

  it('never exceeds maxBatchSize and keeps order, whatever the sending pattern (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 16 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 30 })), { maxLength: 20 }),
        async (maxBatch, steps) => {
          const { p, sink } = pipeline(maxBatch, 20);
          let n = 0;
          for (const [count, pause] of steps) {
            for (let k = 0; k < count; k++) p.channel.trySend(ev(n++));
            await vi.advanceTimersByTimeAsync(pause);
          }
          await vi.advanceTimersByTimeAsync(20);
          expect(sink.batches.flat()).toEqual(Array.from({ length: n }, (_, i) => i));
          for (const b of sink.batches) {
            expect(b.length).toBeGreaterThan(0);
            expect(b.length).toBeLessThanOrEqual(maxBatch);
          }
          const causes = p.flushCauses;
          expect(causes.size + causes.timeout + causes.shutdown).toBe(sink.batches.length);
          expect(causes.shutdown).toBe(0);
          expect(sink.batches.filter((b) => b.length === maxBatch).length).toBeGreaterThanOrEqual(causes.size);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('batching through the collector', () => {
  it('reports flush causes and delivers a lone batch no earlier than batchTimeout', async () => {
    let sentAt = 0;
    let tx!: EventSender;
    const src: EventSource = {
      name: () => 'src',
      capabilities: () => 0,
      stop: async () => {},
      healthCheck: async () => {},
      start: async (sender, signal) => {
        tx = sender;
        sender.ready();
        await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      },
    };
    const sink = new RecordingSink();
    const c = new Collector(new CollectorConfig().withMaxBatchSize(10).withBatchTimeout(50).withTelemetry(false));
    c.register(src);
    c.addSink(sink);
    const run = c.run();
    while (tx === undefined) await new Promise((r) => setTimeout(r, 2));
    for (let i = 0; i < 30; i++) await tx.send(ev(i));
    sentAt = performance.now();
    for (let i = 30; i < 35; i++) await tx.send(ev(i));
    while (sink.batches.length < 4) await new Promise((r) => setTimeout(r, 2));
    expect(sink.batches.map((b) => b.length)).toEqual([10, 10, 10, 5]);
    expect((sink.at[3] as number) - sentAt).toBeGreaterThanOrEqual(50 - 2);
    expect(c.stats().batches).toMatchObject({ count: 4, flushCauses: { size: 3, timeout: 1, shutdown: 0 } });
    await c.shutdown();
    await run;
  });
});
