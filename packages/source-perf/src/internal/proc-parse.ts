/**
 * Parsers for the /proc files the performance source reads: `/proc/stat`, `/proc/meminfo`,
 * `/proc/loadavg`, `/proc/diskstats`, `/proc/net/dev`, `/proc/pressure/*`, `/proc/sys/fs/file-nr`
 * and `/proc/PID/stat`. Pure functions, text in and numbers out, tested on recorded files; a line
 * that does not parse is skipped. They compute no rates: that is the sampler's job.
 */

/** Jiffies a CPU (or all of them) spent in each state since boot. */
export interface CpuTimes {
  readonly user: number;
  readonly nice: number;
  readonly system: number;
  readonly idle: number;
  readonly iowait: number;
  readonly irq: number;
  readonly softirq: number;
  readonly steal: number;
}

/** `/proc/stat`'s cpu lines: `total` is the `cpu` line, `cores` the `cpuN` lines by name. */
export function parseProcStat(text: string): { total: CpuTimes | undefined; cores: Map<string, CpuTimes> } {
  const cores = new Map<string, CpuTimes>();
  let total: CpuTimes | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu')) continue;
    const f = line.trim().split(/\s+/);
    const n = f.slice(1, 9).map(Number);
    if (n.length < 8 || n.some((x) => !Number.isFinite(x))) continue;
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = n;
    const times = { user, nice, system, idle, iowait, irq, softirq, steal };
    if (f[0] === 'cpu') total = times;
    else cores.set(f[0] ?? '', times);
  }
  return { total, cores };
}

/** `/proc/meminfo` in bytes, by key (`MemTotal`, `MemAvailable`, `SwapTotal`, ...). */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z0-9_()]+):\s+(\d+)(\s+kB)?/.exec(line);
    if (m?.[1] === undefined) continue;
    out.set(m[1], Number(m[2]) * (m[3] === undefined ? 1 : 1024));
  }
  return out;
}

/** `/proc/loadavg`: the 1, 5 and 15 minute load averages. */
export function parseLoadavg(text: string): [number, number, number] | undefined {
  const f = text.trim().split(/\s+/).slice(0, 3).map(Number);
  if (f.length < 3 || f.some((x) => !Number.isFinite(x))) return undefined;
  return [f[0] ?? 0, f[1] ?? 0, f[2] ?? 0];
}

/** One block device's counters since boot (sectors are 512 bytes whatever the device). */
export interface DiskCounters {
  readonly reads: number;
  readonly sectorsRead: number;
  readonly writes: number;
  readonly sectorsWritten: number;
  /** Milliseconds the device had I/O in flight. */
  readonly ioMs: number;
}

/** `/proc/diskstats` by device name. */
export function parseDiskstats(text: string): Map<string, DiskCounters> {
  const out = new Map<string, DiskCounters>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 14) continue;
    const n = (i: number) => Number(f[i]);
    const c = { reads: n(3), sectorsRead: n(5), writes: n(7), sectorsWritten: n(9), ioMs: n(12) };
    if (Object.values(c).some((x) => !Number.isFinite(x))) continue;
    out.set(f[2] ?? '', c);
  }
  return out;
}

/** One network interface's counters since it came up. */
export interface InterfaceCounters {
  readonly rxBytes: number;
  readonly rxPackets: number;
  readonly rxErrors: number;
  readonly rxDrops: number;
  readonly txBytes: number;
  readonly txPackets: number;
  readonly txErrors: number;
  readonly txDrops: number;
}

/** `/proc/net/dev` by interface name. */
export function parseNetDev(text: string): Map<string, InterfaceCounters> {
  const out = new Map<string, InterfaceCounters>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.includes('|')) continue;
    const name = line.slice(0, colon).trim();
    const n = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    if (n.length < 16 || n.some((x) => !Number.isFinite(x))) continue;
    const at = (i: number) => n[i] ?? 0;
    out.set(name, {
      rxBytes: at(0),
      rxPackets: at(1),
      rxErrors: at(2),
      rxDrops: at(3),
      txBytes: at(8),
      txPackets: at(9),
      txErrors: at(10),
      txDrops: at(11),
    });
  }
  return out;
}

/** One /proc/pressure file: cumulative stall time in µs of `some` and `full` tasks. */
export interface PressureTotals {
  readonly some: number | undefined;
  readonly full: number | undefined;
}

/** A /proc/pressure/{cpu,memory,io} file. */
export function parsePressure(text: string): PressureTotals {
  let some: number | undefined;
  let full: number | undefined;
  for (const line of text.split('\n')) {
    const m = /^(some|full)\s.*\btotal=(\d+)/.exec(line);
    if (m === null) continue;
    if (m[1] === 'some') some = Number(m[2]);
    else full = Number(m[2]);
  }
  return { some, full };
}

/** `/proc/sys/fs/file-nr`: allocated file handles and the maximum. */
export function parseFileNr(text: string): { allocated: number; max: number } | undefined {
  const [a, , m] = text.trim().split(/\s+/).map(Number);
  if (a === undefined || m === undefined || !Number.isFinite(a) || !Number.isFinite(m)) return undefined;
  return { allocated: a, max: m };
}

/** What the top-N lists need from `/proc/PID/stat`. */
export interface PidStat {
  readonly name: string;
  /** utime + stime, in clock ticks. */
  readonly cpuTicks: number;
  readonly rssPages: number;
  /** Start time in clock ticks since boot: a pid's identity. */
  readonly startTicks: number;
}

/** `/proc/PID/stat`; the name (field 2) may hold spaces and parentheses. */
export function parsePidStat(text: string): PidStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  // Fields after the comm, from field 3 (state) as index 0: utime 11, stime 12, starttime 19, rss 21.
  // Scanned in place: a split would make ~50 strings per process per sample.
  const at = [0, 0, 0, 0];
  const want = [11, 12, 19, 21];
  let field = 0;
  let k = 0;
  let start = close + 2;
  for (let i = start; i <= text.length && k < 4; i++) {
    if (i < text.length && text.charCodeAt(i) !== 32) continue;
    if (field === want[k]) at[k++] = Number(text.slice(start, i));
    field++;
    start = i + 1;
  }
  if (k < 4) return undefined;
  const [utime = Number.NaN, stime = Number.NaN, startTicks = Number.NaN, rss = Number.NaN] = at;
  if (![utime, stime, startTicks, rss].every(Number.isFinite)) return undefined;
  return { name: text.slice(open + 1, close), cpuTicks: utime + stime, rssPages: rss, startTicks };
}
