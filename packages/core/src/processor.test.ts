import { describe, expect, it } from 'vitest';
import { ev, sleep, sum, testConfig, waitFor } from './__test__/support.ts';
import { Collector } from './collector.ts';
import { CollectionEvent } from './event.ts';
import type { EventBatch, EventRecord } from './record.ts';
import type { EventProcessor, EventSender, EventSink } from './source.ts';

function burstSource(n: number) {
  return {
    name: () => 'burst',
    capabilities: () => 8,
    async start(tx: EventSender, signal: AbortSignal) {
      for (let i = 0; i < n; i++) tx.trySend(ev(i));
      tx.ready();
      await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    },
    async stop() {},
    async healthCheck() {},
  };
}

/** A processor that emits one analysis result per performance event it sees. */
function echo(name = 'echo'): EventProcessor & { seen: number } {
  const p = {
    seen: 0,
    name: () => name,
    process(batch: EventBatch, tx: { emit(e: CollectionEvent, cause: number | EventRecord): boolean }) {
      batch.forEach((e, i) => {
        p.seen++;
        if (e.kind !== 'performance') return;
        tx.emit(
          CollectionEvent.analysisResult({
            analysisType: 'Custom',
            success: true,
            data: { of: e.value },
            timestamp: e.timestamp,
          }),
          i,
        );
      });
    },
  };
  return p;
}

class MemorySink implements EventSink {
  readonly batches: EventBatch[] = [];
  name() {
    return 'memory';
  }
  async write(batch: EventBatch) {
    this.batches.push(batch);
  }
  get events() {
    return this.batches.flat();
  }
}

describe('processors and the derived-event lane', () => {
  it('delivers derived events after their cause, with the cause and depth in their record', async () => {
    const c = new Collector(testConfig().withMaxBatchSize(10));
    c.register(burstSource(25));
    c.addProcessor(echo());
    const sink = new MemorySink();
    c.addSink(sink);
    const run = c.run();
    await waitFor(() => sink.events.length === 50, '25 events and 25 derived');
    await c.shutdown();
    await run;
    const records = sink.batches.flatMap((b) => [...b.records]);
    const bySeq = new Map(records.map((r, i) => [r.seq, { r, e: sink.events[i] }]));
    const derived = records.filter((r) => r.cause !== undefined);
    expect(derived).toHaveLength(25);
    for (const d of derived) {
      const cause = bySeq.get(d.cause as number);
      expect(cause?.e?.kind).toBe('performance');
      expect(cause?.r.seq).toBeLessThan(d.seq);
      expect(d).toMatchObject({ source: 'echo', depth: 1 });
      const e = bySeq.get(d.seq)?.e;
      expect(e?.kind === 'analysis_result' && e.data.of).toBe(cause?.e?.kind === 'performance' && cause.e.value);
    }
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const s = c.stats();
    expect(s.derived).toMatchObject({ offered: 25, accepted: 25, buffered: 0, dropped: {} });
    expect(s.processors).toEqual([{ name: 'echo', batches: expect.any(Number), errors: 0, emitted: 25, refused: {} }]);
  });

  it('refuses and counts derivation beyond max_derivation_depth, so a processor reacting to its own output ends', async () => {
    const c = new Collector(testConfig().withMaxDerivationDepth(3));
    c.register(burstSource(1));
    // Re-emits everything it sees, its own output included.
    c.addProcessor({
      name: () => 'loop',
      process(batch, tx) {
        for (let i = 0; i < batch.length; i++) tx.emit(ev(100 + batch.records.depth(i)), i);
      },
    });
    const sink = new MemorySink();
    c.addSink(sink);
    const run = c.run();
    await waitFor(() => c.stats().derived.dropped.derivation_depth === 1, 'the depth limit');
    await sleep(50);
    await c.shutdown();
    await run;
    expect(sink.batches.flatMap((b) => [...b.records]).map((r) => r.depth)).toEqual([0, 1, 2, 3]);
    expect(c.stats().derived).toMatchObject({ offered: 4, accepted: 3, dropped: { derivation_depth: 1 } });
  });

  it('never deadlocks under a blocked sink: derived events beyond the lane are dropped and counted', async () => {
    const c = new Collector(
      testConfig().withEventBufferSize(200).withMaxBatchSize(50).withDerivedLaneCapacity(20).withShutdownTimeout(300),
    );
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let writes = 0;
    c.register(burstSource(200));
    c.addProcessor(echo());
    c.addSink(
      {
        name: () => 'blocked',
        async write() {
          writes++;
          await gate;
        },
      },
      { queueCapacity: 50 },
    );
    const run = c.run();
    await waitFor(() => (c.stats().derived.dropped.derived_lane_full ?? 0) > 0, 'lane overflow');
    // The pipeline is stuck on the sink, yet the lane stays bounded and every refusal is counted.
    const s = c.stats();
    expect(s.derived.buffered).toBeLessThanOrEqual(20);
    expect(s.derived.offered).toBe(s.derived.accepted + sum(s.derived.dropped));
    release();
    await waitFor(() => c.stats().sinks[0]?.inFlight === 0 && c.stats().derived.buffered === 0, 'the drain');
    const report = await c.shutdown();
    await run;
    expect(report.drained).toBe(true);
    const end = c.stats();
    expect(end.derived.offered).toBe(end.derived.accepted + sum(end.derived.dropped));
    // Every event that entered a batch reached the sink: source events plus accepted derived events.
    expect(end.sinks[0]?.delivered).toBe(200 + end.derived.accepted);
    expect(writes).toBeGreaterThan(1);
  });

  it('isolates a failing processor: counted, Degraded, and the batch still reaches the sinks', async () => {
    const c = new Collector(testConfig());
    c.register(burstSource(10));
    c.addProcessor({
      name: () => 'broken',
      process() {
        throw new Error('bad rule');
      },
    });
    const sink = new MemorySink();
    c.addSink(sink);
    const run = c.run();
    await waitFor(() => sink.events.length === 10, 'delivery');
    expect(c.stats().processors[0]).toMatchObject({ name: 'broken', errors: 1 });
    expect(c.health()).toMatchObject({
      status: 'Degraded',
      reasons: ['processor broken: last batch failed: Error: bad rule'],
    });
    await c.shutdown();
    await run;
  });

  it('refuses a duplicate or malformed processor and one added after run()', async () => {
    const c = new Collector(testConfig());
    c.addProcessor(echo('p'));
    expect(() => c.addProcessor(echo('p'))).toThrow(expect.objectContaining({ code: 'ERR_PROCESSOR_DUPLICATE' }));
    expect(() => c.addProcessor({ name: () => 'x' } as unknown as EventProcessor)).toThrow(
      expect.objectContaining({ code: 'ERR_PROCESSOR_INVALID' }),
    );
    const run = c.run();
    expect(() => c.addProcessor(echo('q'))).toThrow(expect.objectContaining({ code: 'ERR_COLLECTOR_STATE' }));
    await c.shutdown();
    await run;
  });
});
