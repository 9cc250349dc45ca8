import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ev, sum } from './__test__/support.ts';
import { EventChannel } from './channel.ts';
import { Collector } from './collector.ts';
import { CollectorConfig } from './config.ts';
import type { CollectionEvent, PerformanceEvent } from './event.ts';
import type { EventSender, EventSink, EventSource } from './source.ts';

const valueNum = (e: CollectionEvent): number => (e as PerformanceEvent).value;

function ledgerHolds(ch: EventChannel): void {
  expect(ch.offered).toBe(ch.accepted + sum(ch.dropped()) + ch.waiting);
}

describe('EventChannel', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function channel(capacity = 4, threshold = 2, maxWait = 50): { ch: EventChannel; pushes: number[] } {
    const pushes: number[] = [];
    return { ch: new EventChannel({ capacity, threshold, maxWait, onPush: (d) => pushes.push(d) }), pushes };
  }

  it('trySend accepts up to capacity, then drops with channel_full', () => {
    const { ch, pushes } = channel();
    expect([0, 1, 2, 3, 4, 5].map((i) => ch.trySend(ev(i)))).toEqual([true, true, true, true, false, false]);
    expect(ch.size).toBe(4);
    expect(ch.highWater).toBe(4);
    expect(ch.dropped()).toEqual({ channel_full: 2 });
    expect(pushes).toEqual([1, 2, 3, 4]);
    ledgerHolds(ch);
    expect(ch.take(10).events.map(valueNum)).toEqual([0, 1, 2, 3]);
    expect(ch.size).toBe(0);
    expect(ch.highWater).toBe(4);
  });

  it('send accepts below the threshold, waits above it, and is admitted in FIFO order on take', async () => {
    const { ch } = channel();
    await expect(ch.send(ev(0))).resolves.toBe(true);
    await expect(ch.send(ev(1))).resolves.toBe(true);
    const results: [number, boolean][] = [];
    const p2 = ch.send(ev(2)).then((ok) => results.push([2, ok]));
    const p3 = ch.send(ev(3)).then((ok) => results.push([3, ok]));
    expect(ch.waiting).toBe(2);
    expect(ch.size).toBe(2);
    ledgerHolds(ch);
    // trySend does not wait and is not blocked by waiting senders while there is room
    expect(ch.trySend(ev(9))).toBe(true);
    expect(ch.take(2).events.map(valueNum)).toEqual([0, 1]);
    // size 1 < threshold 2: one waiter admitted, then size 2 stops the rest
    await Promise.resolve();
    expect(results).toEqual([[2, true]]);
    expect(ch.waiting).toBe(1);
    ledgerHolds(ch);
    expect(ch.take(2).events.map(valueNum)).toEqual([9, 2]);
    await Promise.all([p2, p3]);
    expect(results).toEqual([
      [2, true],
      [3, true],
    ]);
    expect(ch.take(5).events.map(valueNum)).toEqual([3]);
    expect(sum(ch.dropped())).toBe(0);
    ledgerHolds(ch);
  });

  it('a waiting send drops with backpressure_timeout after maxWait', async () => {
    const { ch } = channel(4, 2, 50);
    ch.trySend(ev(0));
    ch.trySend(ev(1));
    let result: boolean | undefined;
    void ch.send(ev(2)).then((ok) => {
      result = ok;
    });
    await vi.advanceTimersByTimeAsync(49);
    expect(result).toBeUndefined();
    expect(ch.waiting).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(result).toBe(false);
    expect(ch.waiting).toBe(0);
    expect(ch.dropped()).toEqual({ backpressure_timeout: 1 });
    ledgerHolds(ch);
    // a later take does not resurrect the timed-out event
    expect(ch.take(10).events.map(valueNum)).toEqual([0, 1]);
  });

  it('close refuses waiting and later senders, counted as closed; buffered events stay', async () => {
    const { ch } = channel();
    ch.trySend(ev(0));
    ch.trySend(ev(1));
    const waiting = ch.send(ev(2));
    ch.close();
    await expect(waiting).resolves.toBe(false);
    await expect(ch.send(ev(3))).resolves.toBe(false);
    expect(ch.trySend(ev(4))).toBe(false);
    expect(ch.closed).toBe(true);
    expect(ch.dropped()).toEqual({ closed: 3 });
    expect(ch.take(10).events.map(valueNum)).toEqual([0, 1]);
    ledgerHolds(ch);
  });

  it('wraps around the ring without losing order', () => {
    const { ch } = channel(3, 2);
    const out: number[] = [];
    for (let i = 0; i < 20; i++) {
      expect(ch.trySend(ev(i))).toBe(true);
      if (i % 2 === 1) out.push(...ch.take(2).events.map(valueNum));
    }
    expect(out).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});

describe('backpressure through the collector', () => {
  it("a stalled 'block' sink makes send wait then drop (backpressure_timeout) and trySend drop (channel_full)", async () => {
    let waitingSeen = -1;
    let ledgerWhileWaiting = false;
    const log: string[] = [];
    let done = false;
    let tx!: EventSender;
    let c!: Collector;
    const src: EventSource = {
      name: () => 'src',
      capabilities: () => 0,
      stop: async () => {},
      healthCheck: async () => {},
      start: async (sender, signal) => {
        tx = sender;
        // phase 1: a synchronous burst; the channel takes 40 (its capacity), 40 are dropped
        let ok = 0;
        for (let i = 0; i < 80; i++) if (sender.trySend(ev(i))) ok++;
        log.push(`burst accepted ${ok}`);
        await new Promise((r) => setTimeout(r, 10));
        // the batcher took 20 (one batch written forever, one waiting for room): 20 fit again
        ok = 0;
        for (let i = 80; i < 110; i++) if (sender.trySend(ev(i))) ok++;
        log.push(`second burst accepted ${ok}`);
        // phase 3: send waits for room, then drops
        for (let i = 110; i < 113; i++) {
          const p = sender.send(ev(i));
          if (i === 110) {
            const e = c.stats().events;
            waitingSeen = e.waiting;
            ledgerWhileWaiting = e.offered === e.accepted + sum(e.dropped) + e.waiting;
          }
          log.push(`send ${i} → ${await p}`);
        }
        log.push(`trySend → ${sender.trySend(ev(113))}`);
        done = true;
        await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      },
    };
    const writes: number[] = [];
    const stalled: EventSink = {
      name: () => 'stalled',
      write: (batch) => {
        writes.push(batch.length);
        return new Promise(() => {});
      },
    };
    c = new Collector(
      new CollectorConfig()
        .withEventBufferSize(40)
        .withBackpressureThreshold(20)
        .withMaxBatchSize(10)
        .withBatchTimeout(20)
        .withMaxBackpressureWait(50)
        .withShutdownTimeout(150)
        .withTelemetry(false),
    );
    c.register(src);
    c.addSink(stalled, { queueCapacity: 10, overflow: 'block' });
    const run = c.run();
    const t0 = performance.now();
    while (!done) {
      if (performance.now() - t0 > 5000) throw new Error('source did not finish');
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(log).toEqual([
      'burst accepted 40',
      'second burst accepted 20',
      'send 110 → false',
      'send 111 → false',
      'send 112 → false',
      'trySend → false',
    ]);
    expect(waitingSeen).toBe(1);
    expect(ledgerWhileWaiting).toBe(true);
    expect(tx.underPressure).toBe(true);
    expect(tx.pressure()).toBe(1);
    expect(writes).toEqual([10]);

    const s = c.stats();
    expect(s.events).toEqual({
      offered: 114,
      accepted: 60,
      waiting: 0,
      buffered: 40,
      batched: 20,
      dropped: { channel_full: 51, backpressure_timeout: 3 },
    });
    expect(s.events.offered).toBe(s.events.accepted + sum(s.events.dropped) + s.events.waiting);
    expect(s.channel).toEqual({ capacity: 40, threshold: 20, depth: 40, highWater: 40 });
    expect(s.sources.src).toEqual({
      offered: 114,
      accepted: 60,
      dropped: { channel_full: 51, backpressure_timeout: 3 },
      lost: {},
    });
    expect(s.sinks[0]).toMatchObject({ received: 20, delivered: 0, inFlight: 20, queueDepth: 10 });

    const report = await c.shutdown();
    await run;
    expect(report.undelivered).toBe(60);
    const after = c.stats();
    expect(after.events.offered).toBe(after.events.accepted + sum(after.events.dropped) + after.events.waiting);
    expect(after.events.dropped).toEqual({ channel_full: 51, backpressure_timeout: 3, shutdown_timeout: 40 });
    expect(tx.closed).toBe(true);
    expect(await tx.send(ev(999))).toBe(false);
    expect(tx.trySend(ev(1000))).toBe(false);
    expect(c.stats().sources.src?.dropped).toEqual({ channel_full: 51, backpressure_timeout: 3, closed: 2 });
  });

  it('reportLoss shows lost events in the counters and keeps the ledger exact', async () => {
    let tx!: EventSender;
    const src: EventSource = {
      name: () => 'kernel',
      capabilities: () => 0,
      stop: async () => {},
      healthCheck: async () => {},
      start: async (sender, signal) => {
        tx = sender;
        sender.ready();
        await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      },
    };
    const c = new Collector(new CollectorConfig().withTelemetry(false).withBatchTimeout(20));
    c.register(src);
    const run = c.run();
    while (tx === undefined) await new Promise((r) => setTimeout(r, 2));
    tx.trySend(ev(1));
    tx.reportLoss(7, 'kernel_overrun');
    tx.reportLoss(0, 'ignored');
    tx.reportLoss(-3, 'ignored');
    const s = c.stats();
    expect(s.events.offered).toBe(8);
    expect(s.events.dropped).toEqual({ 'source_lost:kernel_overrun': 7 });
    expect(s.sources.kernel).toEqual({ offered: 1, accepted: 1, dropped: {}, lost: { kernel_overrun: 7 } });
    expect(s.events.offered).toBe(s.events.accepted + sum(s.events.dropped) + s.events.waiting);
    await c.shutdown();
    await run;
    // without a sink, batched events are discarded and counted
    const after = c.stats().events;
    expect(after.dropped).toEqual({ 'source_lost:kernel_overrun': 7, no_sink: 1 });
    expect(after.accepted).toBe(0);
    expect(after.offered).toBe(after.accepted + sum(after.dropped) + after.waiting);
  });
});
