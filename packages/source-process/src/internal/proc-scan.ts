/**
 * The /proc scanner: reads every process (or one pid) through a `ProcReader` and turns the parsed
 * files into `ProcessSnapshot` records. A `ProcScanner` keeps what must survive between scans: the
 * boot time, the cached user names and the previous CPU tick counts for per-scan CPU %. Errors are
 * handled per field: a process is only skipped when its `stat` file is gone (it exited before it
 * could be read). It is synchronous on purpose and belongs in a worker thread or a short main-thread
 * read of a single pid; it does not hash, diff or emit.
 */
import type { ProcessSnapshot } from '../process-snapshot.ts';
import { buildCgroupIndex, type CgroupIndex } from './cgroup-index.ts';
import {
  type CgroupFile,
  type CgroupInfo,
  PF_KTHREAD,
  type ProcStat,
  parseBootTime,
  parseCgroup,
  parseCgroupFile,
  parseCmdline,
  parseExeLink,
  parsePasswd,
  parseStat,
  parseStatus,
  parseUptime,
  processName,
} from './proc-parse.ts';
import { capturedProcReader, errorCode, latin1ToUtf8, loadFastProcReader, type ProcReader } from './proc-reader.ts';

/** The settings of full-snapshot scanners: reuse slow fields for 10 s, no cwd. */
export const SNAPSHOT_SCANNER_SETTINGS = { reuseMs: 10_000, withCwd: false } as const;

/**
 * A full-snapshot scanner over the native procfs reader (or Node's, where it cannot load), as the
 * snapshot workers, the process source's in-thread scans and `openProcessScanner` use it.
 */
export async function openSnapshotScanner(options: { procRoot?: string; reuseMs?: number } = {}): Promise<ProcScanner> {
  return new ProcScanner(await loadFastProcReader(), {
    ...SNAPSHOT_SCANNER_SETTINGS,
    ...(options.procRoot === undefined ? {} : { procRoot: options.procRoot }),
    ...(options.reuseMs === undefined ? {} : { reuseMs: options.reuseMs }),
  });
}

/** Scanner settings. */
export interface ProcScannerOptions {
  /** Where procfs is mounted (default `/proc`). */
  readonly procRoot?: string;
  /** The passwd file (default `/etc/passwd`). */
  readonly passwdPath?: string;
  /** Clock ticks per second (`getconf CLK_TCK`, 100 on Linux). */
  readonly clockTicks?: number;
  /** Page size in bytes, used when `status` has no `VmRSS`. */
  readonly pageSize?: number;
  /** Wall clock, epoch ms (tests pin it). */
  readonly now?: () => number;
  /**
   * Remember CPU ticks per pid so the next scan reports CPU % since this one (default true). Without
   * it CPU % is the average over each process's life and nothing is kept between reads.
   */
  readonly trackCpu?: boolean;
  /**
   * Reuse a process's real uid, executable, cgroup and cwd from a scan younger than this (ms) while
   * its pid, start time, comm and command line are unchanged (default 0: always read).
   */
  readonly reuseMs?: number;
  /** Read each process's working directory (default true). */
  readonly withCwd?: boolean;
  /**
   * A scan that must read the cgroup of at least this many processes learns them from one walk of
   * the cgroup file systems instead (default 256; `Infinity` always reads `/proc/<pid>/cgroup`).
   */
  readonly cgroupWalkFrom?: number;
}

/** What one scan shares between its processes. */
interface ScanContext {
  /** Where this read's files come from (the scanner's reader, or files captured at exec time). */
  readonly reader: ProcReader;
  /** Whether each executable path exists, so a path shared by many processes is checked once. */
  readonly exists: Map<string, boolean>;
  /** Cgroups from a walk of the cgroup file systems, when the scan built one. */
  readonly cgroups: CgroupIndex | undefined;
  /** What the kernel already said of this process (an eBPF exec): those files are not read. */
  readonly known?: KnownFromKernel | undefined;
}

/**
 * What an exec event from the kernel already gives (eBPF): its argument vector and real uid, so
 * `cmdline` and `status` are not read; the snapshot carries the kernel's values instead.
 */
export interface KnownFromKernel {
  readonly argv: readonly string[];
  readonly uid: number;
}

/** What {@link ProcScanner.readPlace} reads of a process. */
export interface ProcessPlace {
  readonly startTime: number;
  readonly startTicks: number;
  readonly kernelThread: boolean;
  readonly cgroup?: string;
  readonly containerId?: string;
  readonly containerRuntime?: string;
  readonly podUid?: string;
  readonly fieldErrors?: Readonly<Record<string, string>>;
}

/** A kernel thread that was not read further. */
interface KernelThreadMark {
  readonly kernelThread: true;
}

/** Fields read from `status`, `exe`, `cwd` and `cgroup`, with their errors. */
interface SlowFields {
  readonly uid?: number;
  readonly exePath?: string;
  readonly deleted: boolean;
  readonly fileExists: boolean;
  readonly cwd?: string;
  readonly cgroup?: CgroupInfo;
  readonly errors: Readonly<Record<string, string>>;
  /** Whether `errors` has any entry. */
  readonly hasErrors: boolean;
}

/** `T` with its fields assignable, for records built field by field. */
type Writable<T> = { -readonly [K in keyof T]: T[K] };

interface SlowEntry {
  readonly startTicks: number;
  readonly comm: string;
  readonly cmdText: string | undefined;
  readonly at: number;
  readonly fields: SlowFields;
}

interface CpuSample {
  readonly startTicks: number;
  readonly ticks: number;
  readonly atMs: number;
}

/** Reads processes from /proc, keeping boot time, user names and CPU samples between scans. */
export class ProcScanner {
  readonly #reader: ProcReader;
  readonly #root: string;
  readonly #passwdPath: string;
  readonly #hz: number;
  readonly #pageSize: number;
  readonly #now: () => number;
  readonly #trackCpu: boolean;
  readonly #reuseMs: number;
  readonly #withCwd: boolean;
  readonly #cgroupWalkFrom: number;
  readonly #slow = new Map<number, SlowEntry>();
  #bootTimeMs: number | undefined;
  #users = new Map<number, string>();
  #passwdStamp = Number.NaN;
  #cpu = new Map<number, CpuSample>();

  constructor(reader: ProcReader, options: ProcScannerOptions = {}) {
    this.#reader = reader;
    this.#root = options.procRoot ?? '/proc';
    this.#passwdPath = options.passwdPath ?? '/etc/passwd';
    this.#hz = options.clockTicks ?? 100;
    this.#pageSize = options.pageSize ?? 4096;
    this.#now = options.now ?? Date.now;
    this.#trackCpu = options.trackCpu ?? true;
    this.#reuseMs = options.reuseMs ?? 0;
    this.#withCwd = options.withCwd ?? true;
    this.#cgroupWalkFrom = options.cgroupWalkFrom ?? 256;
  }

  /** Boot time in epoch ms: now minus `/proc/uptime` (10 ms resolution), else `/proc/stat` btime. */
  bootTimeMs(): number {
    if (this.#bootTimeMs !== undefined) return this.#bootTimeMs;
    let boot: number | undefined;
    try {
      const up = parseUptime(this.#reader.readFile(`${this.#root}/uptime`));
      if (up !== undefined) boot = Math.round(this.#now() - up * 1000);
    } catch {}
    if (boot === undefined) {
      try {
        const bt = parseBootTime(this.#reader.readFile(`${this.#root}/stat`));
        if (bt !== undefined) boot = bt * 1000;
      } catch {}
    }
    this.#bootTimeMs = boot ?? 0;
    return this.#bootTimeMs;
  }

  /** Lists the numeric entries of procfs. */
  listPids(): number[] {
    const pids: number[] = [];
    for (const name of this.#reader.readdir(this.#root)) {
      const c = name.charCodeAt(0);
      if (c >= 48 && c <= 57) pids.push(Number(name));
    }
    return pids;
  }

  /**
   * Reads every process (or, with `part`, those whose pid modulo `shards` is `shard`, so several
   * scanners can share one scan). Kernel threads are left out unless `includeKernelThreads`. Samples
   * of processes that are gone are forgotten. With `onBatch`, records are handed over in batches of
   * `batchSize` while the scan goes on (a worker posts them, so the receiving thread decodes one
   * batch while the next is read), and only the last, partial batch is returned.
   */
  scan(
    includeKernelThreads: boolean,
    part: { shard: number; shards: number } = { shard: 0, shards: 1 },
    onBatch?: (batch: ProcessSnapshot[]) => void,
    batchSize = 512,
  ): ProcessSnapshot[] {
    this.#refreshUsers();
    let out: ProcessSnapshot[] = [];
    const seen = new Set<number>();
    const pids = this.listPids().filter((pid) => part.shards <= 1 || pid % part.shards === part.shard);
    const ctx: ScanContext = { reader: this.#reader, exists: new Map(), cgroups: this.#cgroupIndex(pids) };
    try {
      for (const pid of pids) {
        const p = this.#read(pid, ctx, includeKernelThreads);
        if (p === undefined) continue;
        seen.add(pid);
        if (!('pid' in p)) continue;
        out.push(p);
        if (onBatch !== undefined && out.length >= batchSize) {
          onBatch(out);
          out = [];
        }
      }
    } finally {
      this.#reader.flush?.();
    }
    for (const pid of this.#cpu.keys()) if (!seen.has(pid)) this.#cpu.delete(pid);
    for (const pid of this.#slow.keys()) if (!seen.has(pid)) this.#slow.delete(pid);
    return out;
  }

  /**
   * A cgroup walk when this scan has at least `cgroupWalkFrom` processes whose slow fields are not
   * cached or too old to reuse; it may visit up to a quarter as many cgroups (each costs about as
   * much as two reads).
   */
  #cgroupIndex(pids: readonly number[]): CgroupIndex | undefined {
    const now = this.#now();
    let uncached = 0;
    for (const pid of pids) {
      const hit = this.#slow.get(pid);
      if (hit === undefined || now - hit.at >= this.#reuseMs) uncached++;
    }
    if (uncached < this.#cgroupWalkFrom) return undefined;
    return buildCgroupIndex(this.#reader, this.#root, Math.floor(uncached / 4));
  }

  /**
   * Reads one process; `undefined` when it is gone (its `stat` cannot be read). `captured` holds
   * files of `/proc/<pid>/` read earlier (at exec time, by the connector's reader thread): text, or
   * `-errno` when that read failed; they are used instead of reading those files again.
   */
  readOne(
    pid: number,
    captured?: Readonly<Record<string, string | number>>,
    known?: KnownFromKernel,
  ): ProcessSnapshot | undefined {
    if (this.#users.size === 0) this.#refreshUsers();
    const reader =
      captured === undefined ? this.#reader : capturedProcReader(this.#reader, `${this.#root}/${pid}/`, captured);
    let p: ProcessSnapshot | KernelThreadMark | undefined;
    try {
      p = this.#read(pid, { reader, exists: new Map(), cgroups: undefined, known }, true);
    } finally {
      reader.flush?.();
    }
    return p !== undefined && 'pid' in p ? p : undefined;
  }

  /**
   * Where a process is, not what it runs: its start time, whether it is a kernel thread, and its
   * cgroup (two reads: `stat` and `cgroup`). For a child just forked, whose image is its parent's.
   * `undefined` when it is gone.
   */
  readPlace(pid: number): ProcessPlace | undefined {
    const dir = `${this.#root}/${pid}`;
    let stat: ProcStat | undefined;
    try {
      stat = parseStat(this.#reader.readFile(`${dir}/stat`));
    } catch {
      return undefined;
    }
    if (stat === undefined) return undefined;
    const place: Writable<ProcessPlace> = {
      startTime: this.bootTimeMs() + Math.round((stat.startTicks * 1000) / this.#hz),
      startTicks: stat.startTicks,
      kernelThread: (stat.flags & PF_KTHREAD) !== 0 || pid === 2 || stat.ppid === 2,
    };
    if (place.kernelThread) return place;
    const read = this.readCgroup(pid);
    if (read.error !== undefined) place.fieldErrors = { cgroup: read.error };
    if (read.cgroup !== undefined) withCgroup(place, read.cgroup);
    return place;
  }

  /**
   * The cgroup of `pid` from /proc/PID/cgroup (none for an empty file), or the error code of the
   * read. `unifiedOnly` when the file holds nothing but the cgroup v2 line: the cgroup is then all
   * there is of it, and one v2 cgroup id stands for it.
   */
  readCgroup(pid: number): Partial<CgroupFile> & { readonly error?: string } {
    try {
      return parseCgroupFile(this.#reader.readFile(`${this.#root}/${pid}/cgroup`));
    } catch (e) {
      return { error: errorCode(e) };
    }
  }

  /**
   * The start of a process from the kernel's `start_boottime` in ns (an eBPF record): the clock
   * ticks /proc/PID/stat shows as `starttime` (the kernel divides by 10^9 / USER_HZ, rounding down)
   * and the epoch ms a /proc read would give.
   */
  startOf(startBoottimeNs: bigint): { readonly startTicks: number; readonly startTime: number } {
    const startTicks = Number(startBoottimeNs / BigInt(Math.round(1e9 / this.#hz)));
    return { startTicks, startTime: this.bootTimeMs() + Math.round((startTicks * 1000) / this.#hz) };
  }

  /** The user name of a uid, from the cached passwd file. */
  userName(uid: number): string | undefined {
    if (this.#users.size === 0) this.#refreshUsers();
    return this.#users.get(uid);
  }

  #refreshUsers(): void {
    try {
      const stamp = this.#reader.stat(this.#passwdPath).mtimeMs;
      if (stamp === this.#passwdStamp) return;
      this.#users = parsePasswd(latin1ToUtf8(this.#reader.readFile(this.#passwdPath)));
      this.#passwdStamp = stamp;
    } catch {
      // No passwd file: user names stay unknown.
    }
  }

  #read(pid: number, ctx: ScanContext, withKernelThreads: boolean): ProcessSnapshot | KernelThreadMark | undefined {
    const dir = `${this.#root}/${pid}`;
    let statText: string;
    try {
      statText = ctx.reader.readFile(`${dir}/stat`);
    } catch {
      return undefined;
    }
    const stat = parseStat(statText);
    if (stat === undefined) return undefined;
    const kernelThread = (stat.flags & PF_KTHREAD) !== 0 || pid === 2 || stat.ppid === 2;
    if (kernelThread && !withKernelThreads) return { kernelThread: true };
    const known = ctx.known;
    let cmdText: string | undefined;
    let cmdError: string | undefined;
    if (known === undefined) {
      try {
        cmdText = ctx.reader.readFile(`${dir}/cmdline`);
      } catch (e) {
        cmdError = errorCode(e);
      }
    }
    const slow = this.#slowFields(pid, stat, cmdText, kernelThread, ctx);
    // A process that exits while it is read: its stat said running, then its exe link reads ENOENT and
    // its command line empty. Read the state once more in that case to say why rather than "missing".
    // A task in do_exit is still running (R) after it released its memory: PF_EXITING says so.
    const exiting = (st: ProcStat): boolean => st.state === 'Z' || st.state === 'X' || (st.flags & PF_EXITING) !== 0;
    let exited = exiting(stat);
    if (!exited && !kernelThread && (cmdText === '' || slow.errors.exe === 'ENOENT')) {
      let again: ProcStat | undefined;
      try {
        again = parseStat(ctx.reader.readFile(`${dir}/stat`));
      } catch {
        again = undefined;
      }
      // A user process has an executable while it lives: no exe link and no command line means it is gone.
      exited =
        again === undefined ||
        again.startTicks !== stat.startTicks ||
        exiting(again) ||
        (cmdText === '' && slow.errors.exe === 'ENOENT');
    }
    // A zombie's (or an exiting process's) command line reads empty: say why instead of showing nothing.
    if (cmdText === '' && !kernelThread) cmdError = exited ? 'exited before it could be read' : 'empty';
    let errors = cmdError === undefined ? slow.errors : { ...slow.errors, cmdline: cmdError };
    if (exited) errors = exitedErrors(errors);
    const denied = (code: string | undefined): boolean => code === 'EACCES' || code === 'EPERM';
    const startTime = this.bootTimeMs() + Math.round((stat.startTicks * 1000) / this.#hz);
    const uid = known?.uid ?? slow.uid;
    const userName = uid === undefined ? undefined : this.#users.get(uid);
    const cpuUsage = this.#cpuUsage(pid, stat.startTicks, stat.utime + stat.stime, startTime);
    const exePath = slow.exePath;
    // Built by assignment rather than conditional spreads: this runs for every process of a scan.
    const p: Writable<ProcessSnapshot> = {
      pid,
      ppid: stat.ppid,
      name: processName(latin1ToUtf8(stat.comm), exePath),
      executableDeleted: slow.deleted,
      commandLine:
        known !== undefined ? [...known.argv] : cmdText === undefined ? [] : parseCmdline(latin1ToUtf8(cmdText)),
      startTime,
      startTicks: stat.startTicks,
      memoryUsage: stat.rssPages * this.#pageSize,
      accessible: !denied(errors.exe) && !denied(errors.cmdline) && (cmdText !== undefined || known !== undefined),
      fileExists: slow.fileExists,
      threadCount: stat.numThreads,
      state: stat.state,
      kernelThread,
    };
    if (exePath !== undefined) p.executablePath = exePath;
    if (cpuUsage !== undefined) p.cpuUsage = cpuUsage;
    if (uid !== undefined) p.userId = uid;
    if (userName !== undefined) p.userName = userName;
    if (slow.cwd !== undefined) p.cwd = slow.cwd;
    if (slow.cgroup !== undefined) withCgroup(p, slow.cgroup);
    if (cmdError !== undefined || slow.hasErrors) p.fieldErrors = errors;
    return p;
  }

  /**
   * The fields that rarely change while a process runs (real uid, executable, cgroup, cwd): reused
   * from the previous scan while the process (pid + start ticks), its comm and its command line are
   * the same and the entry is younger than `reuseMs`; read otherwise.
   */
  #slowFields(
    pid: number,
    stat: ProcStat,
    cmdText: string | undefined,
    kernelThread: boolean,
    ctx: ScanContext,
  ): SlowFields {
    const now = this.#now();
    const hit = this.#slow.get(pid);
    if (
      hit !== undefined &&
      hit.startTicks === stat.startTicks &&
      hit.comm === stat.comm &&
      hit.cmdText === cmdText &&
      now - hit.at < this.#reuseMs
    ) {
      return hit.fields;
    }
    const dir = `${this.#root}/${pid}`;
    const errors: Record<string, string> = {};
    const field = <T>(name: string, read: () => T): T | undefined => {
      try {
        return read();
      } catch (e) {
        errors[name] = errorCode(e);
        return undefined;
      }
    };
    const status =
      ctx.known === undefined ? field('status', () => parseStatus(ctx.reader.readFile(`${dir}/status`))) : undefined;
    const exe = kernelThread ? undefined : field('exe', () => parseExeLink(ctx.reader.readlink(`${dir}/exe`)));
    const cwd = kernelThread || !this.#withCwd ? undefined : field('cwd', () => ctx.reader.readlink(`${dir}/cwd`));
    const indexed = ctx.cgroups === undefined ? null : ctx.cgroups.lookup(pid);
    const cgroup =
      indexed !== null ? indexed : field('cgroup', () => parseCgroup(ctx.reader.readFile(`${dir}/cgroup`)));
    const exePath = exe === undefined ? undefined : latin1ToUtf8(exe.path);
    let fileExists = false;
    if (exePath !== undefined && exe?.deleted === false) {
      const known = ctx.exists.get(exePath);
      fileExists = known ?? this.#exists(exePath);
      if (known === undefined) ctx.exists.set(exePath, fileExists);
    }
    const fields: Writable<SlowFields> = {
      deleted: exe?.deleted === true,
      fileExists,
      errors,
      hasErrors: Object.keys(errors).length > 0,
    };
    if (status?.realUid !== undefined) fields.uid = status.realUid;
    if (exePath !== undefined) fields.exePath = exePath;
    if (cwd !== undefined) fields.cwd = latin1ToUtf8(cwd);
    if (cgroup !== undefined) fields.cgroup = cgroup;
    // Fields read without `status` lack the uid: not kept for later scans.
    if (this.#reuseMs > 0 && ctx.known === undefined) {
      // Spread refreshes over time so entries read in one scan do not all expire in the same later one.
      const at = now - Math.random() * this.#reuseMs * 0.5;
      this.#slow.set(pid, { startTicks: stat.startTicks, comm: stat.comm, cmdText, at, fields });
    }
    return fields;
  }

  #exists(path: string): boolean {
    try {
      this.#reader.stat(path);
      return true;
    } catch {
      return false;
    }
  }

  #cpuUsage(pid: number, startTicks: number, ticks: number, startTime: number): number | undefined {
    const now = this.#now();
    const prev = this.#cpu.get(pid);
    if (this.#trackCpu) this.#cpu.set(pid, { startTicks, ticks, atMs: now });
    const round = (v: number): number => Math.round(v * 100) / 100;
    if (prev !== undefined && prev.startTicks === startTicks && now > prev.atMs) {
      return round(((ticks - prev.ticks) / this.#hz / ((now - prev.atMs) / 1000)) * 100);
    }
    const lifeMs = now - startTime;
    return lifeMs > 0 ? round(((ticks / this.#hz) * 100_000) / lifeMs) : undefined;
  }
}

/** The task flag set when a process starts to exit (include/linux/sched.h). */
const PF_EXITING = 0x00000004;

/** A zombie's links read ENOENT: say that it exited rather than that a file is missing. */
function exitedErrors(errors: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = { ...errors };
  for (const [field, code] of Object.entries(out)) if (code === 'ENOENT') out[field] = 'exited before it could be read';
  return out;
}

/** Sets the cgroup fields of `place` from `cgroup`. */
export function withCgroup(
  place: { cgroup?: string; containerId?: string; containerRuntime?: string; podUid?: string },
  cgroup: CgroupInfo,
): void {
  place.cgroup = cgroup.path;
  if (cgroup.containerId !== undefined) place.containerId = cgroup.containerId;
  if (cgroup.containerRuntime !== undefined) place.containerRuntime = cgroup.containerRuntime;
  if (cgroup.podUid !== undefined) place.podUid = cgroup.podUid;
}
