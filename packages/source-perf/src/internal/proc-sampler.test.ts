import { describe, expect, it } from 'vitest';
import { fixtureProc, pidStat } from '../../test/fixture-proc-files.ts';
import { parsePidStat } from './proc-parse.ts';
import { type PerfSample, type ProcFiles, ProcSampler } from './proc-sampler.ts';

const OPTIONS = { topN: 2, excludeDevices: /^(loop|ram|zram)\d+$/, clockTicks: 100, pageSize: 4096, procRoot: '/proc' };

/** A port that answers from `t0` on the first round of reads and from `t1` after `advance()`. */
function sequence(...trees: ProcFiles[]): ProcFiles & { advance(): void } {
  let i = 0;
  return {
    read: (p) => trees[i]?.read(p),
    listPids: () => trees[i]?.listPids() ?? [],
    advance() {
      i++;
    },
  };
}

const pick = (samples: PerfSample[], metricName: string, instance?: string) =>
  samples.find((s) => s.metricName === metricName && s.instance === instance)?.value;

describe('ProcSampler on recorded /proc files', () => {
  const procs0 = {
    '/proc/100/stat': pidStat(100, 'burn er', 1000, 200, 5000, 1000),
    '/proc/200/stat': pidStat(200, 'db', 500, 500, 6000, 90_000),
    '/proc/300/stat': pidStat(300, 'idle', 10, 10, 7000, 10),
  };
  const procs1 = {
    '/proc/100/stat': pidStat(100, 'burn er', 1090, 210, 5000, 1000),
    '/proc/200/stat': pidStat(200, 'db', 510, 505, 6000, 90_100),
    '/proc/300/stat': pidStat(300, 'other', 0, 0, 9999, 5),
  };

  it('reports gauges on the first read and rates from the deltas on the next', () => {
    const port = sequence(fixtureProc('t0', procs0), fixtureProc('t1', procs1));
    const sampler = new ProcSampler(port, OPTIONS);
    const first = sampler.sample(1_000);
    expect(pick(first, 'memory.total')).toBe(24683584 * 1024);
    expect(pick(first, 'memory.available')).toBe(24230088 * 1024);
    expect(pick(first, 'memory.used')).toBe((24683584 - 24230088) * 1024);
    expect(pick(first, 'swap.total')).toBe(0);
    expect(pick(first, 'load.1')).toBe(1.54);
    expect(pick(first, 'load.15')).toBe(1.81);
    expect(pick(first, 'fds.used')).toBe(307);
    expect(pick(first, 'fds.max')).toBe(2466116);
    expect(pick(first, 'cpu.usage')).toBeUndefined();
    expect(first.some((s) => s.metricName === 'disk.read_bytes')).toBe(false);

    port.advance();
    const next = sampler.sample(2_000);
    // cpu: busy 218022 -> 218231 (+209) of all 525292 -> 525502 (+210) jiffies.
    expect(pick(next, 'cpu.usage')).toBeCloseTo((209 / 210) * 100, 10);
    // cpu0: busy 107117 -> 107223 (+106), idle and iowait unchanged.
    expect(pick(next, 'cpu.usage', 'cpu0')).toBe(100);
    // vda: +100 writes, +2048 sectors, +250 ms busy in 1 s.
    expect(pick(next, 'disk.write_iops', 'vda')).toBe(100);
    expect(pick(next, 'disk.write_bytes', 'vda')).toBe(2048 * 512);
    expect(pick(next, 'disk.read_bytes', 'vda')).toBe(0);
    expect(pick(next, 'disk.busy', 'vda')).toBe(25);
    expect(next.some((s) => s.instance === 'zram0' || s.instance === 'loop0')).toBe(false);
    expect(pick(next, 'network.rx_bytes', 'eth0')).toBe(100_000);
    expect(pick(next, 'network.rx_packets', 'eth0')).toBe(100);
    expect(pick(next, 'network.tx_bytes', 'eth0')).toBe(0);
    // PSI cpu some: 378112701 -> 378381423 µs stalled (+268722) in 1 s.
    expect(pick(next, 'pressure.cpu.some')).toBeCloseTo(26.8722, 10);
    expect(pick(next, 'pressure.io.full')).toBe(0);
    expect(pick(next, 'memory.available')).toBe(24152704 * 1024);
  });

  it('lists the top processes by CPU over the interval and by resident memory, skipping reused pids', () => {
    const port = sequence(fixtureProc('t0', procs0), fixtureProc('t1', procs1));
    const sampler = new ProcSampler(port, OPTIONS);
    sampler.sample(1_000);
    port.advance();
    const top = sampler.sample(3_000).filter((s) => s.component === 'process');
    expect(top).toEqual([
      {
        metricName: 'process.cpu',
        value: 50,
        unit: 'percent',
        component: 'process',
        instance: '100',
        pid: 100,
        processName: 'burn er',
      },
      {
        metricName: 'process.cpu',
        value: 7.5,
        unit: 'percent',
        component: 'process',
        instance: '200',
        pid: 200,
        processName: 'db',
      },
      {
        metricName: 'process.memory',
        value: 90_100 * 4096,
        unit: 'bytes',
        component: 'process',
        instance: '200',
        pid: 200,
        processName: 'db',
      },
      {
        metricName: 'process.memory',
        value: 1000 * 4096,
        unit: 'bytes',
        component: 'process',
        instance: '100',
        pid: 100,
        processName: 'burn er',
      },
    ]);
  });

  it('keeps listing a watched process below the top N', () => {
    const port = sequence(fixtureProc('t0', procs0), fixtureProc('t1', procs1));
    const sampler = new ProcSampler(port, { ...OPTIONS, topN: 1 });
    sampler.sample(1_000);
    port.advance();
    const cpu = sampler.sample(3_000, new Set([200])).filter((s) => s.metricName === 'process.cpu');
    expect(cpu.map((s) => [s.pid, s.value])).toEqual([
      [100, 50],
      [200, 7.5],
    ]);
  });

  it('gives no rate, and no spike, for a counter that went backwards, and resumes from the new value', () => {
    const reset = (rx: number) => ({
      '/proc/net/dev': `Inter-|   Receive |  Transmit\n face |bytes packets|bytes\n  eth0: ${rx} 10 0 0 0 0 0 0 500 5 0 0 0 0 0 0\n`,
      '/proc/diskstats': ` 254 0 vda 10 0 ${rx} 0 10 0 100 0 0 100 0\n`,
    });
    const trees = [4_000_000_000, 1_000, 3_000].map((rx) => fixtureProc('t0', reset(rx)));
    const port = sequence(...trees);
    const sampler = new ProcSampler(port, OPTIONS);
    sampler.sample(0);
    port.advance();
    const wrapped = sampler.sample(1_000);
    expect(wrapped.filter((s) => s.metricName === 'network.rx_bytes' || s.metricName === 'disk.read_bytes')).toEqual(
      [],
    );
    expect(pick(wrapped, 'network.tx_bytes', 'eth0')).toBe(0);
    port.advance();
    const after = sampler.sample(2_000);
    expect(pick(after, 'network.rx_bytes', 'eth0')).toBe(2_000);
    expect(pick(after, 'disk.read_bytes', 'vda')).toBe(2_000 * 512);
  });
});

describe('parsePidStat', () => {
  it('reads utime+stime, rss and starttime after a comm holding spaces and parentheses', () => {
    const line =
      '4242 (we (ird) name) R 1 4242 4242 0 -1 4194560 120 0 0 0 731 69 0 0 20 0 1 0 5501 9000000 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n';
    expect(parsePidStat(line)).toEqual({ name: 'we (ird) name', cpuTicks: 800, rssPages: 2048, startTicks: 5501 });
  });

  it('rejects a line cut before the rss field or with a non-numeric field', () => {
    expect(parsePidStat('7 (x) S 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 99')).toBeUndefined();
    expect(parsePidStat('7 (x) S 1 7 7 0 -1 0 0 0 0 0 3 z 0 0 20 0 1 0 99 1 2')).toBeUndefined();
  });
});
