/**
 * `ProcSampler`: turns successive reads of /proc into performance samples. Gauges (memory, swap,
 * load, file handles) come from one read; rates (CPU %, disk and interface throughput, pressure
 * stall %, per-process CPU) from the delta against the previous read divided by the time between
 * them, never from lifetime counters, so the first sample has no rates and a counter that went
 * backwards yields no rate for that interval. Reads go through a `ProcFiles` port (recorded
 * fixtures in tests). It emits nothing itself.
 */
import { counterDelta, counterRate } from './counter-delta.ts';
import {
  type CpuTimes,
  type DiskCounters,
  type InterfaceCounters,
  type PidStat,
  type PressureTotals,
  parseDiskstats,
  parseFileNr,
  parseLoadavg,
  parseMeminfo,
  parseNetDev,
  parsePidStat,
  parsePressure,
  parseProcStat,
} from './proc-parse.ts';

/** Synchronous /proc access: text, or `undefined` when the file cannot be read. */
export interface ProcFiles {
  read(path: string): string | undefined;
  /** The numeric entries of /proc. */
  listPids(): number[];
  /** Releases what the reader still holds after a sample (batched closes); optional. */
  flush?(): void;
}

/** One measured value. */
export interface PerfSample {
  readonly metricName: string;
  readonly value: number;
  readonly unit: string;
  readonly component: string;
  readonly instance?: string;
  readonly pid?: number;
  readonly processName?: string;
}

/** Sampler settings. */
export interface ProcSamplerOptions {
  /** Processes listed by CPU and by memory (0: none); each one's `instance` is its pid. */
  readonly topN: number;
  /** Block devices whose name matches are left out (default: loop and ram devices). */
  readonly excludeDevices: RegExp;
  /** USER_HZ: /proc's clock ticks per second (100 on Linux). */
  readonly clockTicks: number;
  /** Bytes per memory page. */
  readonly pageSize: number;
  readonly procRoot: string;
}

interface Reading {
  readonly at: number;
  readonly cpu: { total: CpuTimes | undefined; cores: Map<string, CpuTimes> } | undefined;
  readonly disks: Map<string, DiskCounters>;
  readonly ifaces: Map<string, InterfaceCounters>;
  readonly pressure: Map<string, PressureTotals>;
  readonly pids: Map<number, PidStat>;
}

const PRESSURE = [
  ['cpu', 'cpu'],
  ['memory', 'memory'],
  ['io', 'disk'],
] as const;

function busy(t: CpuTimes): number {
  return t.user + t.nice + t.system + t.irq + t.softirq + t.steal;
}
function all(t: CpuTimes): number {
  return busy(t) + t.idle + t.iowait;
}

/** Percent of `part` in the delta of all CPU time between two readings; undefined on a reset. */
function cpuShare(prev: CpuTimes, cur: CpuTimes, part: (t: CpuTimes) => number): number | undefined {
  const total = counterDelta(all(prev), all(cur));
  const d = counterDelta(part(prev), part(cur));
  if (total === undefined || d === undefined || total === 0) return undefined;
  return Math.min(100, (d / total) * 100);
}

/** Samples /proc. */
export class ProcSampler {
  readonly #files: ProcFiles;
  readonly #o: ProcSamplerOptions;
  #prev: Reading | undefined;

  /** While true, the top-N process lists are not computed (the collector is shedding load). */
  skipTopN = false;

  constructor(files: ProcFiles, options: ProcSamplerOptions) {
    this.#files = files;
    this.#o = options;
  }

  /**
   * Reads /proc once and returns the samples, with rates against the previous call. Processes in
   * `watch` are reported beside the top N even when they rank lower (a process a threshold holds as
   * crossed, so its recovery can be seen).
   */
  sample(nowMs: number, watch: ReadonlySet<number> = new Set()): PerfSample[] {
    const root = this.#o.procRoot;
    const read = (p: string) => this.#files.read(`${root}/${p}`);
    const out: PerfSample[] = [];
    const stat = read('stat');
    const reading: Reading = {
      at: nowMs,
      cpu: stat === undefined ? undefined : parseProcStat(stat),
      disks: parseDiskstats(read('diskstats') ?? ''),
      ifaces: parseNetDev(read('net/dev') ?? ''),
      pressure: new Map(PRESSURE.map(([file]) => [file, parsePressure(read(`pressure/${file}`) ?? '')])),
      pids: this.#o.topN > 0 && !this.skipTopN ? this.#readPids() : new Map(),
    };
    this.#gauges(read, out);
    const prev = this.#prev;
    if (prev !== undefined && nowMs > prev.at) this.#rates(prev, reading, (nowMs - prev.at) / 1000, out, watch);
    this.#prev = reading;
    return out;
  }

  #gauges(read: (p: string) => string | undefined, out: PerfSample[]): void {
    const mem = parseMeminfo(read('meminfo') ?? '');
    const total = mem.get('MemTotal');
    const available = mem.get('MemAvailable') ?? mem.get('MemFree');
    if (total !== undefined && available !== undefined) {
      const push = (metricName: string, value: number, unit: string) =>
        out.push({ metricName, value, unit, component: 'memory' });
      push('memory.total', total, 'bytes');
      push('memory.available', available, 'bytes');
      push('memory.used', total - available, 'bytes');
      push('memory.usage', total > 0 ? ((total - available) / total) * 100 : 0, 'percent');
      const swapTotal = mem.get('SwapTotal') ?? 0;
      const swapUsed = swapTotal - (mem.get('SwapFree') ?? swapTotal);
      push('swap.total', swapTotal, 'bytes');
      push('swap.used', swapUsed, 'bytes');
      push('swap.usage', swapTotal > 0 ? (swapUsed / swapTotal) * 100 : 0, 'percent');
    }
    const load = parseLoadavg(read('loadavg') ?? '');
    if (load !== undefined) {
      ['load.1', 'load.5', 'load.15'].forEach((metricName, i) => {
        out.push({ metricName, value: load[i] ?? 0, unit: 'load', component: 'cpu' });
      });
    }
    const files = parseFileNr(read('sys/fs/file-nr') ?? '');
    if (files !== undefined) {
      out.push({ metricName: 'fds.used', value: files.allocated, unit: 'count', component: 'system' });
      out.push({ metricName: 'fds.max', value: files.max, unit: 'count', component: 'system' });
    }
  }

  #rates(prev: Reading, cur: Reading, seconds: number, out: PerfSample[], watch: ReadonlySet<number>): void {
    const p = prev.cpu;
    const c = cur.cpu;
    if (p?.total !== undefined && c?.total !== undefined) {
      const parts: [string, (t: CpuTimes) => number][] = [
        ['cpu.usage', busy],
        ['cpu.user', (t) => t.user + t.nice],
        ['cpu.system', (t) => t.system + t.irq + t.softirq],
        ['cpu.iowait', (t) => t.iowait],
        ['cpu.steal', (t) => t.steal],
      ];
      for (const [metricName, part] of parts) {
        const value = cpuShare(p.total, c.total, part);
        if (value !== undefined) out.push({ metricName, value, unit: 'percent', component: 'cpu' });
      }
      for (const [core, times] of c.cores) {
        const before = p.cores.get(core);
        const value = before === undefined ? undefined : cpuShare(before, times, busy);
        if (value !== undefined)
          out.push({ metricName: 'cpu.usage', value, unit: 'percent', component: 'cpu', instance: core });
      }
    }
    for (const [dev, d] of cur.disks) {
      if (this.#o.excludeDevices.test(dev)) continue;
      const b = prev.disks.get(dev);
      if (b === undefined) continue;
      const rates: [string, number | undefined, string][] = [
        ['disk.read_bytes', counterRate(b.sectorsRead, d.sectorsRead, seconds), 'bytes/s'],
        ['disk.write_bytes', counterRate(b.sectorsWritten, d.sectorsWritten, seconds), 'bytes/s'],
        ['disk.read_iops', counterRate(b.reads, d.reads, seconds), 'ops/s'],
        ['disk.write_iops', counterRate(b.writes, d.writes, seconds), 'ops/s'],
        ['disk.busy', counterRate(b.ioMs, d.ioMs, seconds), 'percent'],
      ];
      for (const [metricName, v, unit] of rates) {
        if (v === undefined) continue;
        const value = metricName.endsWith('_bytes') ? v * 512 : metricName === 'disk.busy' ? Math.min(100, v / 10) : v;
        out.push({ metricName, value, unit, component: 'disk', instance: dev });
      }
    }
    for (const [name, n] of cur.ifaces) {
      const b = prev.ifaces.get(name);
      if (b === undefined) continue;
      const keys: [string, keyof InterfaceCounters, string][] = [
        ['network.rx_bytes', 'rxBytes', 'bytes/s'],
        ['network.tx_bytes', 'txBytes', 'bytes/s'],
        ['network.rx_packets', 'rxPackets', 'packets/s'],
        ['network.tx_packets', 'txPackets', 'packets/s'],
        ['network.rx_errors', 'rxErrors', 'errors/s'],
        ['network.tx_errors', 'txErrors', 'errors/s'],
        ['network.rx_drops', 'rxDrops', 'drops/s'],
        ['network.tx_drops', 'txDrops', 'drops/s'],
      ];
      for (const [metricName, key, unit] of keys) {
        const value = counterRate(b[key], n[key], seconds);
        if (value !== undefined) out.push({ metricName, value, unit, component: 'network', instance: name });
      }
    }
    for (const [file, component] of PRESSURE) {
      const b = prev.pressure.get(file);
      const n = cur.pressure.get(file);
      for (const kind of ['some', 'full'] as const) {
        const stalledUs = counterDelta(b?.[kind], n?.[kind]);
        if (stalledUs === undefined) continue;
        const value = Math.min(100, (stalledUs / (seconds * 1e6)) * 100);
        out.push({ metricName: `pressure.${file}.${kind}`, value, unit: 'percent', component });
      }
    }
    this.#top(prev.pids, cur.pids, seconds, out, watch);
  }

  #readPids(): Map<number, PidStat> {
    const out = new Map<number, PidStat>();
    for (const pid of this.#files.listPids()) {
      const text = this.#files.read(`${this.#o.procRoot}/${pid}/stat`);
      const s = text === undefined ? undefined : parsePidStat(text);
      if (s !== undefined) out.set(pid, s);
    }
    return out;
  }

  #top(
    prev: Map<number, PidStat>,
    cur: Map<number, PidStat>,
    seconds: number,
    out: PerfSample[],
    watch: ReadonlySet<number>,
  ): void {
    const n = this.skipTopN ? 0 : this.#o.topN;
    if (n <= 0) return;
    const cpu: [number, PidStat, number][] = [];
    for (const [pid, s] of cur) {
      const b = prev.get(pid);
      // A pid whose start time changed is a new process: its ticks are not comparable.
      if (b === undefined || b.startTicks !== s.startTicks) continue;
      const ticks = counterDelta(b.cpuTicks, s.cpuTicks);
      if (ticks !== undefined) cpu.push([pid, s, (ticks / this.#o.clockTicks / seconds) * 100]);
    }
    cpu.sort((a, b) => b[2] - a[2] || a[0] - b[0]);
    const listed = (rows: readonly (readonly [number, PidStat, number])[]) =>
      rows.filter((r, i) => i < n || watch.has(r[0]));
    listed(cpu).forEach(([pid, s, value]) => {
      out.push({
        metricName: 'process.cpu',
        value,
        unit: 'percent',
        component: 'process',
        instance: String(pid),
        pid,
        processName: s.name,
      });
    });
    const mem = [...cur].map(([pid, s]) => [pid, s, s.rssPages * this.#o.pageSize] as const);
    mem.sort((a, b) => b[2] - a[2] || a[0] - b[0]);
    listed(mem).forEach(([pid, s, value]) => {
      out.push({
        metricName: 'process.memory',
        value,
        unit: 'bytes',
        component: 'process',
        instance: String(pid),
        pid,
        processName: s.name,
      });
    });
  }
}
