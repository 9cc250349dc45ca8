/**
 * The performance source on the real /proc: values checked against what the test reads itself
 * (meminfo, loadavg, file-nr, Node's own CPU times), a CPU-burning child in the top-N, a threshold
 * crossed and recovered by that child, and the conformance suite.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { SourceCaps } from '@daemoneye/core';
import { checkSourceConformance } from '@daemoneye/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { RecordingSender } from '../test/recording-sender.ts';
import { createPerfSource, type PerformanceEventSource } from './perf-event-source.ts';

const running: Array<{ ctl: AbortController; done: Promise<void> }> = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
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
const kb = (key: string): number => {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/meminfo', 'utf8'));
  return Number(m?.[1]) * 1024;
};
const busyTicks = () => cpus().reduce((a, c) => a + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0);
const allTicks = () =>
  cpus().reduce((a, c) => a + c.times.user + c.times.nice + c.times.sys + c.times.irq + c.times.idle, 0);

describe.skipIf(process.platform !== 'linux')('PerformanceEventSource on the real /proc', () => {
  it('agrees with values the test reads itself, within tolerance', async () => {
    const source = createPerfSource({ intervalMs: 1000, topN: 3 });
    const busy0 = busyTicks();
    const all0 = allTicks();
    const tx = start(source);
    await tx.waitFor((t) => t.perf().some((e) => e.metricName === 'cpu.usage' && e.instance === undefined), 5000);
    const busy = busyTicks() - busy0;
    const all = allTicks() - all0;
    expect(source.backend()).toBe('procfs');
    expect(source.capabilities()).toBe(SourceCaps.PERFORMANCE | SourceCaps.SYSTEM_WIDE);
    await expect(source.healthCheck()).resolves.toBeUndefined();
    const value = (name: string, instance?: string) =>
      tx
        .perf()
        .filter((e) => e.metricName === name && e.instance === instance)
        .at(-1)?.value ?? Number.NaN;
    expect(value('memory.total')).toBe(kb('MemTotal'));
    expect(Math.abs(value('memory.available') - kb('MemAvailable'))).toBeLessThan(64 * 1024 * 1024);
    expect(value('swap.total')).toBe(kb('SwapTotal'));
    const [l1] = readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number);
    expect(Math.abs(value('load.1') - (l1 ?? 0))).toBeLessThan(0.5);
    const [fds] = readFileSync('/proc/sys/fs/file-nr', 'utf8').split(/\s+/).map(Number);
    expect(Math.abs(value('fds.used') - (fds ?? 0))).toBeLessThan(200);
    // Node's os.cpus() reads /proc/stat too, through its own code: the same ~1 s window, in ms.
    expect(Math.abs(value('cpu.usage') - (busy / all) * 100)).toBeLessThan(20);
    for (let i = 0; i < cpus().length; i++) expect(value('cpu.usage', `cpu${i}`)).toBeGreaterThanOrEqual(0);
    expect(tx.perf().some((e) => e.metricName === 'network.rx_bytes' && e.instance === 'lo')).toBe(true);
    expect(tx.perf().some((e) => e.metricName === 'pressure.cpu.some')).toBe(true);
  });

  it('shows a CPU-burning child in the top-N, then crosses and recovers a threshold on it', async () => {
    const source = createPerfSource({ intervalMs: 300, topN: 3, thresholds: ['process.cpu > 60 for 600ms'] });
    const tx = start(source);
    const burner = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    children.push(burner);
    const crossed = (t: RecordingSender) => t.perf('threshold_crossed').filter((e) => e.pid === burner.pid);
    const recovered = (t: RecordingSender) => t.perf('recovered').filter((e) => e.pid === burner.pid);
    await tx.waitFor((t) => crossed(t).length > 0, 10_000);
    const top = tx.perf().filter((e) => e.metricName === 'process.cpu' && e.pid === burner.pid);
    expect(top.length).toBeGreaterThan(0);
    expect(top.at(-1)).toMatchObject({
      processName: 'node',
      instance: String(burner.pid),
      unit: 'percent',
      component: 'process',
    });
    expect(top.at(-1)?.value).toBeGreaterThan(60);
    expect(crossed(tx)[0]).toMatchObject({
      metricName: 'process.cpu',
      pid: burner.pid,
      threshold: { bound: 'max', limit: 60, holdMs: 600 },
    });
    // Stopped, it uses no CPU; it stays listed (a crossed process is watched) until it recovers.
    burner.kill('SIGSTOP');
    await tx.waitFor((t) => recovered(t).length > 0, 10_000);
    expect(recovered(tx)[0]).toMatchObject({
      metricName: 'process.cpu',
      value: 0,
      threshold: { bound: 'max', limit: 60 },
    });
  }, 30_000);

  it('passes the source conformance suite', async () => {
    const report = await checkSourceConformance(() => createPerfSource({ intervalMs: 200 }), { minEvents: 1 });
    expect(report.failures).toEqual([]);
  }, 60_000);
});
