import { afterEach, describe, expect, it } from 'vitest';
import {
  ev,
  readyUntilAborted,
  sleep,
  testConfig,
  untilAborted,
  waitFor as waitForCondition,
} from './__test__/support.ts';
import { Collector } from './collector.ts';
import type { CollectorConfig } from './config.ts';
import type { CollectionEvent, PerformanceEvent } from './event.ts';
import { HealthStatus } from './health.ts';
import type { EventSender, EventSink, EventSource } from './source.ts';

const waitFor = (cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> =>
  waitForCondition(cond, what, timeoutMs);

interface SourceScript {
  run?: (tx: EventSender, signal: AbortSignal, attempt: number) => Promise<void>;
  check?: () => Promise<void>;
  stopLog?: string[];
}

class TestSource implements EventSource {
  readonly startTimes: number[] = [];
  readonly signals: AbortSignal[] = [];
  readonly checkTimes: number[] = [];
  stops = 0;
  constructor(
    readonly id: string,
    readonly script: SourceScript = {},
  ) {}
  get starts(): number {
    return this.startTimes.length;
  }
  name(): string {
    return this.id;
  }
  capabilities(): number {
    return 0;
  }
  start(tx: EventSender, signal: AbortSignal): Promise<void> {
    this.startTimes.push(performance.now());
    this.signals.push(signal);
    return (this.script.run ?? readyUntilAborted)(tx, signal, this.startTimes.length);
  }
  async stop(): Promise<void> {
    this.stops++;
    this.script.stopLog?.push(this.id);
  }
  healthCheck(): Promise<void> {
    this.checkTimes.push(performance.now());
    return this.script.check?.() ?? Promise.resolve();
  }
}

class RecordingSink implements EventSink {
  readonly events: CollectionEvent[] = [];
  name(): string {
    return 'rec';
  }
  async write(batch: readonly CollectionEvent[]): Promise<void> {
    this.events.push(...batch);
  }
  get values(): number[] {
    return this.events.map((e) => (e as PerformanceEvent).value);
  }
}

/** A source that sends one event every `everyMs` until aborted. */
function ticker(id: string, everyMs = 5): TestSource & { sent: number } {
  const s = Object.assign(
    new TestSource(id, {
      run: async (tx, signal) => {
        while (!signal.aborted) {
          await tx.send(ev(s.sent++));
          await sleep(everyMs);
        }
      },
    }),
    { sent: 0 },
  );
  return s;
}

let collectors: Collector[] = [];
afterEach(async () => {
  await Promise.all(collectors.map((c) => c.shutdown()));
  collectors = [];
});

function start(
  config: CollectorConfig,
  sources: EventSource[],
  sink: EventSink = new RecordingSink(),
): { c: Collector; run: Promise<unknown> } {
  const c = new Collector(config);
  collectors.push(c);
  for (const s of sources) c.register(s);
  c.addSink(sink);
  return { c, run: c.run() };
}

describe('source supervision', () => {
  it('restarts a source whose start throws, with growing backoff, while another keeps delivering', async () => {
    const bad = new TestSource('bad', {
      run: async () => {
        throw new Error('boom');
      },
      check: async () => {
        throw new Error('not running');
      },
    });
    const good = ticker('good');
    const sink = new RecordingSink();
    const { c } = start(testConfig(), [bad, good], sink);

    await waitFor(() => bad.starts >= 4, 'four starts of the failing source');
    const gaps = bad.startTimes.slice(1, 4).map((t, i) => t - (bad.startTimes[i] as number));
    // backoff caps 20, 40, 80 ms; the delay is drawn from [cap/2, cap]
    expect(gaps[0]).toBeGreaterThanOrEqual(9);
    expect(gaps[1]).toBeGreaterThanOrEqual(19);
    expect(gaps[2]).toBeGreaterThanOrEqual(39);
    expect(gaps[2]).toBeGreaterThan(gaps[0] as number);

    const h = c.health();
    expect(h.status).toBe(HealthStatus.Degraded);
    const badHealth = h.sources.find((s) => s.name === 'bad');
    expect(badHealth).toMatchObject({
      status: 'Unhealthy',
      state: 'restarting',
      reason: 'start() failed: Error: boom',
      lastError: 'start() failed: Error: boom',
    });
    expect(badHealth?.restarts).toBeGreaterThanOrEqual(3);
    expect(h.sources.find((s) => s.name === 'good')).toMatchObject({
      status: 'Healthy',
      state: 'running',
      restarts: 0,
    });
    expect(h.reasons).toEqual(['source bad: start() failed: Error: boom']);

    // the healthy source keeps delivering, losslessly and in order
    const before = sink.events.length;
    await waitFor(() => sink.events.length >= before + 5, 'more events from the good source');
    expect(good.starts).toBe(1);
    const report = await c.shutdown();
    expect(report.drained).toBe(true);
    expect(sink.values).toEqual(Array.from({ length: good.sent }, (_, i) => i));
    expect(bad.stops).toBe(bad.starts);
    expect(good.stops).toBe(1);
  });

  it('restarts a source whose start returns early', async () => {
    const early = new TestSource('early', {
      run: async (tx, signal, attempt) => {
        if (attempt < 3) return;
        tx.ready();
        await untilAborted(signal);
      },
      check: async () => {
        throw new Error('not ready');
      },
    });
    const { c } = start(testConfig(), [early]);
    await waitFor(() => early.starts === 3 && c.health().sources[0]?.state === 'running', 'third start running');
    expect(c.health().sources[0]).toMatchObject({ status: 'Healthy', state: 'running', restarts: 2 });
    await sleep(100);
    expect(early.starts).toBe(3);
    expect(early.signals[0]?.aborted).toBe(true);
    expect(early.signals[1]?.aborted).toBe(true);
    expect(early.signals[2]?.aborted).toBe(false);
    expect(early.stops).toBe(2);
  });

  it('reports why a source that keeps returning early is down', async () => {
    const early = new TestSource('early', {
      run: async () => {},
      check: async () => {
        throw new Error('not ready');
      },
    });
    const { c } = start(testConfig(), [early]);
    await waitFor(() => early.starts >= 2, 'a restart');
    expect(c.health().sources[0]).toMatchObject({
      status: 'Unhealthy',
      state: 'restarting',
      reason: 'start() returned before the source was ready',
    });
    // the only source is down: no source is delivering, so the collector is Unhealthy
    expect(c.health().status).toBe(HealthStatus.Unhealthy);
  });

  it.each([
    ['calls tx.ready()', (tx: EventSender) => tx.ready()],
    ['sends an event', (tx: EventSender) => void tx.send(ev(0))],
    ['trySends an event', (tx: EventSender) => void tx.trySend(ev(0))],
  ])('a source that %s quickly and then runs for 3× startupTimeout is not restarted', async (_how, readyBy) => {
    const long = new TestSource('long', {
      run: async (tx, signal) => {
        await sleep(10);
        readyBy(tx);
        await untilAborted(signal);
      },
      check: async () => {
        throw new Error('readiness only through the sender');
      },
    });
    const { c } = start(testConfig().withStartupTimeout(100), [long]);
    await sleep(350);
    expect(long.starts).toBe(1);
    expect(long.stops).toBe(0);
    expect(long.signals[0]?.aborted).toBe(false);
    expect(c.health().sources[0]).toMatchObject({ status: 'Healthy', state: 'running', restarts: 0 });
  });

  it('a source that is ready by its health check is not restarted either', async () => {
    const quiet = new TestSource('quiet', { run: (_tx, signal) => untilAborted(signal) });
    const { c } = start(testConfig().withStartupTimeout(100), [quiet]);
    await sleep(350);
    expect(quiet.starts).toBe(1);
    expect(c.health().sources[0]).toMatchObject({ status: 'Healthy', state: 'running', restarts: 0 });
  });

  it('restarts a source that never becomes ready after startupTimeout', async () => {
    const stuck = new TestSource('stuck', {
      run: (_tx, signal) => untilAborted(signal),
      check: async () => {
        throw new Error('still warming up');
      },
    });
    const { c } = start(testConfig().withStartupTimeout(100), [stuck]);
    await waitFor(() => stuck.starts >= 2, 'a restart');
    expect((stuck.startTimes[1] as number) - (stuck.startTimes[0] as number)).toBeGreaterThanOrEqual(100 + 9);
    expect(stuck.signals[0]?.aborted).toBe(true);
    expect(stuck.stops).toBe(1);
    expect(c.health().sources[0]).toMatchObject({
      status: 'Unhealthy',
      state: 'restarting',
      reason: 'not ready within startup timeout of 100 ms',
      restarts: 1,
    });
    expect(c.health().reasons).toEqual([
      'source stuck: not ready within startup timeout of 100 ms',
      'no source is delivering',
    ]);
  });

  it('health-checks on its interval and reports a failing check without restarting', async () => {
    let healthy = true;
    const src = new TestSource('checked', {
      check: async () => {
        if (!healthy) throw new Error('disk gone');
      },
    });
    const { c } = start(testConfig().withHealthCheckInterval(40), [src]);
    await waitFor(() => src.checkTimes.length >= 5, 'five health checks');
    // the first check is the readiness probe; the rest come from the interval
    const interval = src.checkTimes.slice(1);
    for (let i = 1; i < interval.length; i++)
      expect((interval[i] as number) - (interval[i - 1] as number)).toBeGreaterThanOrEqual(38);

    healthy = false;
    await waitFor(() => c.health().sources[0]?.status === 'Unhealthy', 'unhealthy source');
    expect(c.health().sources[0]).toMatchObject({
      status: 'Unhealthy',
      state: 'running',
      reason: 'health check failed: Error: disk gone',
      restarts: 0,
    });
    expect(c.health().status).toBe(HealthStatus.Unhealthy);
    expect(c.health().reasons).toEqual([
      'source checked: health check failed: Error: disk gone',
      'no source is delivering',
    ]);
    healthy = true;
    await waitFor(() => c.health().sources[0]?.status === 'Healthy', 'healthy again');
    expect(src.starts).toBe(1);
    expect(c.health().status).toBe(HealthStatus.Healthy);
  });

  it('calls stop() exactly once per source at shutdown, in reverse registration order', async () => {
    const log: string[] = [];
    const sources = ['a', 'b', 'c'].map((id) => new TestSource(id, { stopLog: log }));
    const { c, run } = start(testConfig(), sources);
    await waitFor(() => c.health().sources.every((s) => s.state === 'running'), 'all running');
    const report = await c.shutdown();
    expect(await run).toBe(report);
    expect(log).toEqual(['c', 'b', 'a']);
    expect(report.stoppedSources).toEqual(['c', 'b', 'a']);
    expect(sources.map((s) => s.stops)).toEqual([1, 1, 1]);
    expect(sources.map((s) => s.starts)).toEqual([1, 1, 1]);
    expect(sources.every((s) => s.signals[0]?.aborted)).toBe(true);
    expect(c.health().sources.map((s) => s.state)).toEqual(['stopped', 'stopped', 'stopped']);
    expect(c.health().status).toBe(HealthStatus.Unhealthy);
  });

  it('does not call stop() again at shutdown for a source already stopped after a failure', async () => {
    const bad = new TestSource('bad', {
      run: async () => {
        throw new Error('boom');
      },
    });
    const { c } = start(testConfig().withRestartBackoff(200, 400), [bad]);
    await waitFor(() => bad.stops === 1, 'stop after the failure');
    await c.shutdown();
    expect(bad.starts).toBe(1);
    expect(bad.stops).toBe(1);
  });
});
