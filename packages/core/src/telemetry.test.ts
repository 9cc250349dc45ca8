import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { Collector } from './collector.ts';
import { CollectorConfig } from './config.ts';
import { EVENT_LOOP_RESOLUTION_MS, SelfTelemetry, TELEMETRY_HISTORY, type TelemetrySample } from './telemetry.ts';

function burn(ms: number): void {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x += Math.sqrt(x + 1);
  if (x < 0) throw new Error('unreachable');
}

/** Starts `t`, waits `padMs`, blocks the loop for `stallMs`, waits again, and returns a sample. */
async function sampleAroundStall(t: SelfTelemetry, padMs: number, stallMs: number): Promise<TelemetrySample> {
  t.start();
  await new Promise((r) => setTimeout(r, padMs));
  burn(stallMs);
  await new Promise((r) => setTimeout(r, padMs));
  const s = t.sample();
  t.stop();
  return s;
}

describe('self-telemetry', () => {
  it('sampleTelemetry() measures CPU, RSS and heap of this process', () => {
    const c = new Collector(new CollectorConfig().withTelemetry(false));
    burn(30);
    const s = c.sampleTelemetry();
    const rss = process.memoryUsage().rss;
    expect(Number.isFinite(s.cpuPercent)).toBe(true);
    expect(s.cpuPercent).toBeGreaterThan(0);
    expect(s.cpuPercent).toBeLessThanOrEqual(100 * (availableParallelism() + 1));
    expect(s.rssBytes).toBeGreaterThan(rss * 0.8);
    expect(s.rssBytes).toBeLessThan(rss * 1.2);
    expect(s.heapUsedBytes).toBeGreaterThan(0);
    expect(s.heapUsedBytes).toBeLessThanOrEqual(s.rssBytes);
    expect(s.eventLoopDelayP50Ms).toBe(0);
    expect(Math.abs(s.at - Date.now())).toBeLessThan(60_000);
    expect(c.telemetryHistory()).toEqual([s]);
    expect(c.stats().telemetry).toEqual(s);
  });

  it('cpuPercent is never negative', () => {
    const t = new SelfTelemetry();
    for (let i = 0; i < 20; i++) expect(t.sample().cpuPercent).toBeGreaterThanOrEqual(0);
  });

  it('keeps at most TELEMETRY_HISTORY samples, newest last', () => {
    const c = new Collector(new CollectorConfig().withTelemetry(false));
    const taken = Array.from({ length: TELEMETRY_HISTORY + 15 }, () => c.sampleTelemetry());
    const h = c.telemetryHistory();
    expect(TELEMETRY_HISTORY).toBe(120);
    expect(h).toHaveLength(TELEMETRY_HISTORY);
    expect(h[0]).toBe(taken[15]);
    expect(h[h.length - 1]).toBe(taken[taken.length - 1]);
    // the returned history is a copy
    (h as unknown[]).length = 0;
    expect(c.telemetryHistory()).toHaveLength(TELEMETRY_HISTORY);
  });

  it('samples on its interval until stopped', async () => {
    const t = new SelfTelemetry();
    const seen: number[] = [];
    t.start(10, (s) => seen.push(s.rssBytes));
    const t0 = performance.now();
    while (seen.length < 3) {
      if (performance.now() - t0 > 5000) throw new Error('no samples');
      await new Promise((r) => setTimeout(r, 5));
    }
    t.stop();
    const n = t.history().length;
    expect(n).toBe(seen.length);
    expect(t.latest()?.rssBytes).toBe(seen[seen.length - 1]);
    await new Promise((r) => setTimeout(r, 40));
    expect(t.history().length).toBe(n);
  });

  it('measures event-loop delay once started', async () => {
    const s = await sampleAroundStall(new SelfTelemetry({ resolutionMs: 10 }), 30, 60);
    expect(s.eventLoopDelayMaxMs).toBeGreaterThan(20);
    expect(s.eventLoopDelayP50Ms).toBeLessThanOrEqual(s.eventLoopDelayP99Ms);
    expect(s.eventLoopDelayP99Ms).toBeLessThanOrEqual(s.eventLoopDelayMaxMs);
  });

  it('the default monitor ticks every 100 ms and still catches a stall longer than its tick', async () => {
    const s = await sampleAroundStall(new SelfTelemetry(), 150, 250);
    expect(EVENT_LOOP_RESOLUTION_MS).toBe(100);
    expect(s.eventLoopDelayMaxMs).toBeGreaterThan(100);
    expect(s.eventLoopDelayMaxMs).toBeLessThan(400);
  });
});
