import { isCollectorError } from '@daemoneye/core';
import { describe, expect, it } from 'vitest';
import type { PerfSample } from './proc-sampler.ts';
import { parseThresholdRule, ThresholdEvaluator } from './thresholds.ts';

const cpu = (value: number, instance?: string): PerfSample => ({
  metricName: 'cpu.usage',
  value,
  unit: 'percent',
  component: 'cpu',
  ...(instance === undefined ? {} : { instance }),
});

describe('parseThresholdRule', () => {
  it('reads max and min bounds, an instance and a hold time', () => {
    expect(parseThresholdRule('cpu.usage > 90 for 30s')).toEqual({
      metric: 'cpu.usage',
      bound: 'max',
      limit: 90,
      holdMs: 30_000,
    });
    expect(parseThresholdRule('memory.available<536870912')).toEqual({
      metric: 'memory.available',
      bound: 'min',
      limit: 536870912,
      holdMs: 0,
    });
    expect(parseThresholdRule('cpu.usage@cpu1 > 95.5 for 500ms')).toMatchObject({
      instance: 'cpu1',
      limit: 95.5,
      holdMs: 500,
    });
  });

  it('rejects malformed rules with ERR_PERF_THRESHOLD_INVALID', () => {
    for (const bad of ['cpu.usage >= 90', 'cpu.usage > ninety', 'cpu.usage > 90 for ever', '']) {
      let err: unknown;
      try {
        parseThresholdRule(bad);
      } catch (e) {
        err = e;
      }
      expect(isCollectorError(err, 'ERR_PERF_THRESHOLD_INVALID'), bad).toBe(true);
      expect((err as Error).message).toContain(JSON.stringify(bad));
    }
  });
});

describe('ThresholdEvaluator', () => {
  it('crosses after the value stays beyond the bound for the hold time, and recovers the same way', () => {
    const ev = new ThresholdEvaluator([parseThresholdRule('cpu.usage > 80 for 2s')]);
    const run = (value: number, at: number) => ev.evaluate([cpu(value)], at).map((t) => [t.subtype, t.sample.value]);
    expect(run(90, 0)).toEqual([]);
    expect(run(50, 1000)).toEqual([]); // a dip resets the hold
    expect(run(90, 2000)).toEqual([]);
    expect(run(95, 3000)).toEqual([]);
    expect(run(99, 4000)).toEqual([['threshold_crossed', 99]]);
    expect(run(99, 5000)).toEqual([]); // reported once
    expect(run(10, 6000)).toEqual([]);
    expect(run(10, 8000)).toEqual([['recovered', 10]]);
  });

  it('lists crossed instances and forgets one that disappears from a sampled metric', () => {
    const ev = new ThresholdEvaluator([parseThresholdRule('cpu.usage > 80')]);
    ev.evaluate([cpu(90, '41'), cpu(95, '42')], 0);
    expect(ev.crossed('cpu.usage')).toEqual(['41', '42']);
    expect(ev.evaluate([cpu(95, '42')], 1000)).toEqual([]);
    expect(ev.crossed('cpu.usage')).toEqual(['42']);
  });

  it('tracks each instance separately, and honours an instance in the rule', () => {
    const ev = new ThresholdEvaluator([parseThresholdRule('cpu.usage > 80'), parseThresholdRule('cpu.usage@cpu1 < 5')]);
    const out = ev.evaluate([cpu(90, 'cpu0'), cpu(1, 'cpu1'), cpu(50)], 0);
    expect(out.map((t) => [t.subtype, t.sample.instance, t.rule.bound])).toEqual([
      ['threshold_crossed', 'cpu0', 'max'],
      ['threshold_crossed', 'cpu1', 'min'],
    ]);
  });
});
