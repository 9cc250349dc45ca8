import { describe, expect, it } from 'vitest';
import { CollectionEvent } from '../event.ts';
import type { EventSender, EventSource } from '../source.ts';
import { SourceCaps } from '../source-caps.ts';
import { checkSourceConformance } from './conformance.ts';
import { MockEventSource } from './mock-event-source.ts';

const perf = (i: number) => CollectionEvent.performance({ metricName: 'm', value: i, unit: 'count', component: 'cpu' });

describe('checkSourceConformance', () => {
  it('passes a well-behaved source', async () => {
    const report = await checkSourceConformance(
      () => new MockEventSource({ capabilities: SourceCaps.PERFORMANCE, events: [perf(1), perf(2)] }),
      { minEvents: 2, eventTimeoutMs: 1000 },
    );
    expect(report.failures).toEqual([]);
    expect(report.checks.map((c) => c.check)).toHaveLength(5);
  });

  it('fails a source whose start returns early and whose events do not match its capabilities', async () => {
    const report = await checkSourceConformance(
      () => new MockEventSource({ capabilities: SourceCaps.PROCESS, events: [perf(1)], returnEarly: true }),
      { minEvents: 1, eventTimeoutMs: 500 },
    );
    const failed = report.failures.map((f) => f.check);
    expect(failed).toContain('start() runs until aborted, then returns; stop() is idempotent; restart works');
    expect(failed).toContain('runs under a Collector and shuts down cleanly');
  });

  it('fails a source that ignores its abort signal and one that is never healthy', async () => {
    class Stubborn implements EventSource {
      name() {
        return 'stubborn';
      }
      capabilities() {
        return SourceCaps.PERFORMANCE;
      }
      start(_tx: EventSender, _s: AbortSignal) {
        return new Promise<void>(() => {});
      }
      async stop() {}
      async healthCheck() {
        throw new Error('never healthy');
      }
    }
    const report = await checkSourceConformance(() => new Stubborn(), { eventTimeoutMs: 300, stopTimeoutMs: 200 });
    const messages = report.failures.map((f) => `${f.check}: ${f.message}`).join('\n');
    expect(messages).toContain('start() after abort took longer than 200 ms');
    expect(messages).toContain('healthCheck() kept failing: Error: never healthy');
  });
});
