import { describe, expect, it } from 'vitest';
import { readyUntilAborted, testConfig, waitFor } from './__test__/support.ts';
import { Collector } from './collector.ts';
import { type SheddingChange, SheddingController, SheddingLevel } from './shedding.ts';
import { type ResourceSample, Watchdog } from './watchdog.ts';

const MiB = 2 ** 20;

/** A watchdog fed with the samples in `feed` (the last one repeats). */
function fed(feed: ResourceSample[], options: { exitChecks?: number } = {}) {
  const shedding = new SheddingController();
  const changes: SheddingChange[] = [];
  shedding.onChange((c) => changes.push(c));
  let i = 0;
  const exhausted: string[] = [];
  const dog = new Watchdog({
    shedding,
    sample: () => feed[Math.min(i++, feed.length - 1)] as ResourceSample,
    cpuPercentBudget: 50,
    rssBytesBudget: 100 * MiB,
    intervalMs: 1000,
    overChecks: 2,
    underChecks: 3,
    ...(options.exitChecks !== undefined ? { exitChecks: options.exitChecks } : {}),
    onExhausted: (r) => exhausted.push(r),
  });
  const run = (n: number): SheddingLevel[] => {
    const levels: SheddingLevel[] = [];
    for (let k = 0; k < n; k++) {
      dog.check();
      levels.push(shedding.level);
    }
    return levels;
  };
  return { shedding, changes, dog, run, exhausted };
}

const ok: ResourceSample = { cpuPercent: 10, rssBytes: 50 * MiB };
const hot: ResourceSample = { cpuPercent: 90, rssBytes: 50 * MiB };
const fat: ResourceSample = { cpuPercent: 10, rssBytes: 150 * MiB };
/** Under budget but above the 80 % recovery mark: neither sheds more nor recovers. */
const warm: ResourceSample = { cpuPercent: 45, rssBytes: 50 * MiB };

describe('Watchdog', () => {
  it('sheds one step per run of over-budget samples, then recovers one step per run of calm ones', () => {
    const w = fed([ok, hot, hot, hot, hot, hot, warm, warm, warm, ok, ok, ok, ok, ok, ok]);
    expect(w.run(15)).toEqual([0, 0, 1, 1, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 0]);
    expect(w.changes.map((c) => [c.previous, c.level])).toEqual([
      [0, 1],
      [1, 2],
      [2, 1],
      [1, 0],
    ]);
    expect(w.changes[0]?.reason).toBe('CPU 90.0% over budget 50%');
    expect(w.shedding.reason).toBeUndefined();
    expect(w.exhausted).toEqual([]);
    expect(w.dog.stats()).toMatchObject({ checks: 15, overBudgetChecks: 5, level: 0, exhausted: false });
  });

  it('names every budget that is exceeded', () => {
    const w = fed([{ cpuPercent: 80, rssBytes: 150 * MiB }]);
    w.run(2);
    expect(w.shedding.reason).toBe('CPU 80.0% over budget 50%; RSS 150.0 MiB over budget 100.0 MiB');
  });

  it('gives up (once) only after shedding fully did not help, when told to', () => {
    const w = fed([fat], { exitChecks: 3 });
    expect(w.run(4)).toEqual([0, 1, 1, 2]);
    w.run(2);
    expect(w.exhausted).toEqual([]);
    w.run(5);
    expect(w.exhausted).toEqual(['still over budget after shedding: RSS 150.0 MiB over budget 100.0 MiB']);
    expect(w.dog.stats().exhausted).toBe(true);
    const never = fed([fat]);
    never.run(50);
    expect(never.exhausted).toEqual([]);
  });

  it('samples on its interval until stopped', async () => {
    const shedding = new SheddingController();
    let samples = 0;
    const dog = new Watchdog({
      shedding,
      sample: () => {
        samples++;
        return hot;
      },
      cpuPercentBudget: 50,
      intervalMs: 5,
      overChecks: 1,
    });
    dog.start();
    await waitFor(() => shedding.level === SheddingLevel.Severe, 'severe');
    dog.stop();
    const n = samples;
    await new Promise((r) => setTimeout(r, 30));
    expect(samples).toBe(n);
  });
});

describe('the shedding signal in the collector', () => {
  it('shows in health and stats, and listeners hear each change once', async () => {
    const c = new Collector(testConfig());
    c.register({
      name: () => 'src',
      capabilities: () => 0,
      start: readyUntilAborted,
      stop: async () => {},
      healthCheck: async () => {},
    });
    const heard: number[] = [];
    const off = c.shedding.onChange((ch) => heard.push(ch.level));
    c.shedding.onChange(() => {
      throw new Error('a broken listener');
    });
    const run = c.run();
    await waitFor(() => c.health().status === 'Healthy', 'healthy');
    c.shedding.set(SheddingLevel.Shed, 'RSS 300 MiB over budget 200 MiB');
    c.shedding.set(SheddingLevel.Shed, 'RSS 310 MiB over budget 200 MiB');
    expect(c.health()).toMatchObject({
      status: 'Degraded',
      reasons: ['shedding load (shed): RSS 310 MiB over budget 200 MiB'],
    });
    expect(c.stats().shedding).toEqual({ level: 1, reason: 'RSS 310 MiB over budget 200 MiB', changes: 1 });
    c.shedding.set(SheddingLevel.None);
    off();
    c.shedding.set(SheddingLevel.Severe, 'x');
    expect(heard).toEqual([1, 0]);
    c.shedding.set(SheddingLevel.None);
    expect(c.health().status).toBe('Healthy');
    await c.shutdown();
    await run;
  });
});

describe('Collector.readiness', () => {
  it('is ready once every source runs and every sink opened, and says what is missing until then', async () => {
    const c = new Collector(testConfig().withStartupTimeout(2000));
    let ready: (() => void) | undefined;
    let openSink: (() => void) | undefined;
    c.register({
      name: () => 'slow-start',
      capabilities: () => 0,
      start: (tx, signal) =>
        new Promise<void>((resolve) => {
          ready = () => tx.ready();
          signal.addEventListener('abort', () => resolve(), { once: true });
        }),
      stop: async () => {},
      healthCheck: async () => {
        throw new Error('still starting');
      },
    });
    let opens = 0;
    c.addSink({
      name: () => 'remote',
      open: () => {
        opens++;
        return opens === 1
          ? Promise.reject(new Error('connection refused'))
          : new Promise<void>((r) => {
              openSink = r;
            });
      },
      write: async () => {},
    });
    expect(c.readiness()).toEqual({
      ready: false,
      reasons: ['collector is idle', 'source slow-start is registered', 'sink remote is not open'],
    });
    const run = c.run();
    await waitFor(() => c.readiness().reasons.some((r) => r.includes('connection refused')), 'open error');
    expect(c.readiness().reasons).toEqual([
      'source slow-start is starting',
      'sink remote is not open: Error: connection refused',
    ]);
    expect(c.health().sinks[0]).toMatchObject({ status: 'Degraded', reason: 'open failed: Error: connection refused' });
    ready?.();
    await waitFor(() => c.readiness().reasons.length === 1, 'the source running');
    // The sink's second open happens before its first batch; a replacement opens at once.
    await c.replaceSink('remote', {
      name: () => 'remote',
      open: () => {
        opens++;
        return new Promise<void>((r) => {
          openSink = r;
        });
      },
      write: async () => {},
    });
    expect(c.readiness().reasons).toEqual(['sink remote is not open']);
    openSink?.();
    await waitFor(() => c.readiness().ready, 'ready');
    expect(c.readiness()).toEqual({ ready: true, reasons: [] });
    await c.shutdown();
    await run;
    expect(c.readiness().ready).toBe(false);
  });
});
