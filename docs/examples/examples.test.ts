import { type CollectionEvent, SourceCaps } from '@daemoneye/core';
import { describe, expect, it } from 'vitest';
import { basicCollector } from './basic-collector.ts';
import { CustomEventSource } from './custom-source.ts';

describe('seed examples', () => {
  it('Basic Collector Setup runs the Custom Event Source and shuts down cleanly', async () => {
    const source = new CustomEventSource('custom-source', 5);
    const collector = await basicCollector(source, 300);
    const stats = collector.stats();
    expect(collector.capabilities()).toBe(SourceCaps.PERFORMANCE | SourceCaps.REALTIME);
    expect(stats.state).toBe('stopped');
    expect(stats.events.offered).toBeGreaterThan(10);
    // No sink was added: every batched event is counted as discarded, none vanish.
    expect(stats.events.batched).toBeGreaterThan(10);
    expect(stats.events.dropped.no_sink).toBe(stats.events.batched);
    expect(stats.events.offered).toBe(
      stats.events.accepted +
        (stats.events.dropped.no_sink ?? 0) +
        (stats.events.dropped.closed ?? 0) +
        stats.events.waiting,
    );
  });

  it('the custom source delivers ordered counter events to a sink', async () => {
    const { Collector, CollectorConfig } = await import('@daemoneye/core');
    const collector = new Collector(
      new CollectorConfig().withMaxBatchSize(10).withEventBufferSize(100).withBatchTimeout(20),
    );
    collector.register(new CustomEventSource('custom-source', 1));
    const seen: CollectionEvent[] = [];
    collector.addSink({ name: () => 'memory', write: async (batch) => void seen.push(...batch) });
    const running = collector.run();
    await new Promise((r) => setTimeout(r, 200));
    const report = await collector.shutdown();
    await running;
    expect(report.drained).toBe(true);
    expect(seen.length).toBe(collector.stats().events.accepted);
    expect(seen.map((e) => (e.kind === 'performance' ? e.value : -1))).toEqual(seen.map((_, i) => i));
  });
});
