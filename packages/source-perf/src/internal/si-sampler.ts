/**
 * The portable sampler off Linux: the same metric names through systeminformation (which computes
 * its own rates between calls) and `os.loadavg`. Less detail than /proc: no per-device disk busy %,
 * no pressure stall information, no file handle counts. Used only when /proc is not there or the
 * backend is forced; it spawns helper programs on some platforms, so it is not the Linux hot path.
 */
import { loadavg } from 'node:os';
import type { PerfSample } from './proc-sampler.ts';

/** Samples through systeminformation. */
export class SystemInformationSampler {
  readonly #topN: number;

  /** While true, the top-N process lists are not computed (the collector is shedding load). */
  skipTopN = false;

  constructor(topN: number) {
    this.#topN = topN;
  }

  async sample(): Promise<PerfSample[]> {
    const si = (await import('systeminformation')).default;
    const [load, mem, net, io, procs] = await Promise.all([
      si.currentLoad(),
      si.mem(),
      si.networkStats('*'),
      si.disksIO().catch(() => null),
      this.#topN > 0 && !this.skipTopN ? si.processes() : Promise.resolve(undefined),
    ]);
    const out: PerfSample[] = [];
    out.push({ metricName: 'cpu.usage', value: load.currentLoad, unit: 'percent', component: 'cpu' });
    out.push({ metricName: 'cpu.user', value: load.currentLoadUser, unit: 'percent', component: 'cpu' });
    out.push({ metricName: 'cpu.system', value: load.currentLoadSystem, unit: 'percent', component: 'cpu' });
    load.cpus.forEach((c, i) => {
      out.push({ metricName: 'cpu.usage', value: c.load, unit: 'percent', component: 'cpu', instance: `cpu${i}` });
    });
    const m = (metricName: string, value: number, unit: string) =>
      out.push({ metricName, value, unit, component: 'memory' });
    m('memory.total', mem.total, 'bytes');
    m('memory.available', mem.available, 'bytes');
    m('memory.used', mem.total - mem.available, 'bytes');
    m('memory.usage', mem.total > 0 ? ((mem.total - mem.available) / mem.total) * 100 : 0, 'percent');
    m('swap.total', mem.swaptotal, 'bytes');
    m('swap.used', mem.swapused, 'bytes');
    m('swap.usage', mem.swaptotal > 0 ? (mem.swapused / mem.swaptotal) * 100 : 0, 'percent');
    ['load.1', 'load.5', 'load.15'].forEach((metricName, i) => {
      out.push({ metricName, value: loadavg()[i] ?? 0, unit: 'load', component: 'cpu' });
    });
    for (const n of net) {
      const rate = (metricName: string, value: number | null, unit: string) => {
        if (value !== null && value >= 0)
          out.push({ metricName, value, unit, component: 'network', instance: n.iface });
      };
      rate('network.rx_bytes', n.rx_sec, 'bytes/s');
      rate('network.tx_bytes', n.tx_sec, 'bytes/s');
    }
    if (io !== null && io.rIO_sec !== null && io.wIO_sec !== null) {
      out.push({ metricName: 'disk.read_iops', value: io.rIO_sec, unit: 'ops/s', component: 'disk', instance: 'all' });
      out.push({ metricName: 'disk.write_iops', value: io.wIO_sec, unit: 'ops/s', component: 'disk', instance: 'all' });
    }
    if (procs !== undefined) {
      const list = procs.list;
      [...list]
        .sort((a, b) => b.cpu - a.cpu)
        .slice(0, this.#topN)
        .forEach((p, i) => {
          out.push({
            metricName: 'process.cpu',
            value: p.cpu,
            unit: 'percent',
            component: 'process',
            instance: String(i + 1),
            pid: p.pid,
            processName: p.name,
          });
        });
      [...list]
        .sort((a, b) => b.memRss - a.memRss)
        .slice(0, this.#topN)
        .forEach((p, i) => {
          out.push({
            metricName: 'process.memory',
            value: p.memRss * 1024,
            unit: 'bytes',
            component: 'process',
            instance: String(i + 1),
            pid: p.pid,
            processName: p.name,
          });
        });
    }
    return out;
  }
}
