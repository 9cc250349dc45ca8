import { isCollectorError, SheddingController, SheddingLevel } from '@daemoneye/core';
import { afterEach, describe, expect, it } from 'vitest';
import { fixtureProc, pidStat } from '../test/fixture-proc-files.ts';
import { RecordingSender } from '../test/recording-sender.ts';
import { createPerfSource, type PerformanceEventSource, sampleDelay } from './perf-event-source.ts';

const running: Array<{ ctl: AbortController; done: Promise<void> }> = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    r.ctl.abort();
    await r.done;
  }
});
function start(source: PerformanceEventSource): RecordingSender {
  const tx = new RecordingSender();
  const ctl = new AbortController();
  running.push({ ctl, done: source.start(tx, ctl.signal) });
  return tx;
}

describe('PerformanceEventSource', () => {
  it('sends one sample event per value, stamped alike, and a crossed event for a threshold held long enough', async () => {
    const source = createPerfSource({
      intervalMs: 100,
      procFiles: fixtureProc('t0'),
      thresholds: ['memory.usage > 1 for 150ms'],
    });
    const tx = start(source);
    await tx.waitFor((t) => t.perf('threshold_crossed').length === 1, 3000);
    const crossed = tx.perf('threshold_crossed')[0];
    expect(crossed).toMatchObject({
      metricName: 'memory.usage',
      unit: 'percent',
      component: 'memory',
      threshold: { bound: 'max', limit: 1, holdMs: 150 },
    });
    expect(crossed?.value).toBeCloseTo(((24683584 - 24230088) / 24683584) * 100, 10);
    const first = tx.perf().filter((e) => e.timestamp === tx.perf()[0]?.timestamp);
    expect(first.map((e) => e.metricName)).toEqual([
      'memory.total',
      'memory.available',
      'memory.used',
      'memory.usage',
      'swap.total',
      'swap.used',
      'swap.usage',
      'load.1',
      'load.5',
      'load.15',
      'fds.used',
      'fds.max',
    ]);
    expect(source.stats()).toMatchObject({ backend: 'procfs', thresholdEvents: 1, failedSamples: 0 });
  });

  it('drops its top-N lists while the collector sheds load, and lists again once it stops', async () => {
    const shedding = new SheddingController();
    const source = createPerfSource({
      intervalMs: 100,
      topN: 2,
      shedding,
      procFiles: fixtureProc('t0', { '/proc/42/stat': pidStat(42, 'busy', 100, 50, 1000, 2560) }),
    });
    const tx = start(source);
    const listed = () => tx.perf().filter((e) => e.metricName === 'process.memory').length;
    await tx.waitFor(() => listed() > 0, 3000);
    shedding.set(SheddingLevel.Shed, 'RSS over budget');
    // The sample in progress may still list; after it, none does.
    await tx.waitFor(() => tx.perf().length > 0, 3000);
    const samples = () => new Set(tx.perf().map((e) => e.timestamp)).size;
    const at = samples();
    await tx.waitFor(() => samples() >= at + 2, 3000);
    const whileShed = listed();
    await tx.waitFor(() => samples() >= at + 3, 3000);
    expect(listed()).toBe(whileShed);
    shedding.set(SheddingLevel.None);
    await tx.waitFor(() => listed() > whileShed, 3000);
  });

  it('samples 2× and 4× less often while shedding, and 2× under backpressure', () => {
    expect([0, 1, 2].map((l) => sampleDelay(1000, l, false))).toEqual([1000, 2000, 4000]);
    expect(sampleDelay(1000, 1, true)).toBe(4000);
  });

  it('is unhealthy after three failed samples in a row', async () => {
    const source = createPerfSource({ intervalMs: 100, procFiles: { read: () => undefined, listPids: () => [] } });
    start(source);
    await expect.poll(() => source.stats().failedSamples, { timeout: 3000 }).toBeGreaterThanOrEqual(3);
    await expect(source.healthCheck()).rejects.toThrow(
      /^\d+ performance samples failed in a row: Error: nothing could be read under \/proc$/,
    );
  });

  it('rejects bad options naming the field', () => {
    const cases = [
      [{ intervalMs: 50 }, 'ERR_CONFIG_INVALID', /intervalMs must be an integer >= 100, got 50/],
      [{ topN: 101 }, 'ERR_CONFIG_INVALID', /topN must be an integer from 0 to 100/],
      [{ excludeDevices: ['lo(op'] }, 'ERR_CONFIG_INVALID', /excludeDevices must be a list of device name prefixes/],
      [{ thresholds: ['cpu.usage >> 3'] }, 'ERR_PERF_THRESHOLD_INVALID', /threshold "cpu.usage >> 3" must look like/],
      [
        { thresholds: [{ metric: 'x', bound: 'max', limit: Number.NaN, holdMs: 0 }] },
        'ERR_PERF_THRESHOLD_INVALID',
        /finite limit/,
      ],
    ] as const;
    for (const [opts, code, message] of cases) {
      let err: unknown;
      try {
        createPerfSource(opts as never);
      } catch (e) {
        err = e;
      }
      expect(isCollectorError(err, code), JSON.stringify(opts)).toBe(true);
      expect((err as Error).message).toMatch(message);
    }
  });
});
