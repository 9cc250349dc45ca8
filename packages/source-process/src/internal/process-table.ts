/**
 * `ProcessTable`: the processes the source believes are running, keyed by pid, and the diff of a full
 * scan against it. Kernel events update it as they arrive; a scan that started before an update must
 * not undo it, so every entry carries the monotonic time it was last set and recent exits are
 * remembered for a while. The diff yields processes that started, exited or exec'd a new executable
 * without the source hearing of it. It is bounded: at most `maxEntries` live entries (the least
 * recently set is evicted first, and counted), and exited processes stay known for
 * `exitedRetentionMs` (at most `maxEntries / 4` of them) so a child's event still names a parent that
 * has just exited. It answers lineage questions (the parent and the chain of ancestors of a pid). It
 * emits nothing itself.
 */
import type { ProcessSnapshot } from '../process-snapshot.ts';
import type { ProcessFacts } from './event-mapping.ts';

/** A process in the table. `seenAt` is monotonic ms (`performance.now()`). */
export interface KnownProcess extends ProcessFacts {
  readonly startTicks?: number;
  readonly executableHash?: string;
  readonly seenAt: number;
}

/** What a scan found that the table did not know. */
export interface TableDiff {
  readonly started: ProcessSnapshot[];
  readonly exited: KnownProcess[];
  readonly execed: ProcessSnapshot[];
}

interface ExitMark {
  readonly startTicks: number | undefined;
  readonly at: number;
}

/** How long an exit is remembered, so a slower scan does not bring the process back (ms). */
const EXIT_MEMORY_MS = 120_000;
/** Exits remembered at most. */
const EXIT_MEMORY_MAX = 65_536;

/** One ancestor of a process: what the table knows of it. */
export interface Ancestor {
  readonly pid: number;
  readonly name: string;
  readonly executablePath?: string;
}

/** Table bounds. */
export interface ProcessTableOptions {
  /** Live processes kept at most; more evict the least recently set (default 65,536). */
  readonly maxEntries?: number;
  /** How long an exited process stays known for the lineage of its children (ms, default 30,000). */
  readonly exitedRetentionMs?: number;
  /** Monotonic clock in ms (default `performance.now`). */
  readonly now?: () => number;
}

/** Counters of the table's bounds at work. */
export interface ProcessTableStats {
  /** Live entries evicted because the table was full. */
  evictions: number;
  /** Exited entries dropped before their retention ended because too many were retained. */
  exitedEvictions: number;
}

interface Retained {
  readonly process: KnownProcess;
  readonly until: number;
}

/** The known process table. */
export class ProcessTable {
  readonly #now: () => number;
  readonly #maxEntries: number;
  readonly #retentionMs: number;
  readonly #procs = new Map<number, KnownProcess>();
  readonly #exited = new Map<number, ExitMark>();
  readonly #retained = new Map<number, Retained>();
  /** The ancestry JSON last built from each parent entry, with the entries it was built from. */
  readonly #chainJson = new WeakMap<
    KnownProcess,
    { readonly entries: readonly KnownProcess[]; readonly json: string }
  >();
  readonly stats: ProcessTableStats = { evictions: 0, exitedEvictions: 0 };

  constructor(options: ProcessTableOptions | (() => number) = {}) {
    const o = typeof options === 'function' ? { now: options } : options;
    this.#now = o.now ?? (() => performance.now());
    this.#maxEntries = o.maxEntries ?? 65_536;
    this.#retentionMs = o.exitedRetentionMs ?? 30_000;
  }

  /**
   * The parent (`ppid`) and up to `depth` ancestors starting there, nearest first, from live and
   * recently exited entries. The walk stops at pid 0, at an unknown pid, at `depth`, or at a loop.
   */
  ancestry(ppid: number | undefined, depth: number): Ancestor[] {
    return this.#walk(ppid, depth).map(ancestorOf);
  }

  /**
   * {@link ancestry} as JSON (`[{ pid, name, executablePath }]`), with the parent's entry; undefined
   * when the parent is not known. The JSON is kept with the parent's entry and reused while the walk
   * meets the same entries (any change to a process replaces its entry), so the children of one
   * parent do not serialize the same chain again and again.
   */
  ancestryJson(ppid: number, depth: number): { readonly parent: KnownProcess; readonly json: string } | undefined {
    const entries = this.#walk(ppid, depth);
    const parent = entries[0];
    if (parent === undefined) return undefined;
    const cached = this.#chainJson.get(parent);
    if (cached !== undefined && sameEntries(cached.entries, entries)) return { parent, json: cached.json };
    const json = JSON.stringify(entries.map(ancestorOf));
    this.#chainJson.set(parent, { entries, json });
    return { parent, json };
  }

  #walk(ppid: number | undefined, depth: number): KnownProcess[] {
    const chain: KnownProcess[] = [];
    let pid = ppid;
    while (pid !== undefined && pid > 0 && chain.length < depth) {
      const k = this.lookup(pid);
      if (k === undefined || chain.includes(k)) break;
      chain.push(k);
      pid = k.ppid;
    }
    return chain;
  }

  /** A live or recently exited process (for a parent that has just exited). */
  lookup(pid: number): KnownProcess | undefined {
    const k = this.#procs.get(pid);
    if (k !== undefined) return k;
    const r = this.#retained.get(pid);
    return r !== undefined && r.until >= this.#now() ? r.process : undefined;
  }

  /** Exited processes retained for lineage right now. */
  get retained(): number {
    return this.#retained.size;
  }

  get size(): number {
    return this.#procs.size;
  }

  get(pid: number): KnownProcess | undefined {
    return this.#procs.get(pid);
  }

  /** Records (or replaces) a process, stamped now. */
  set(facts: Omit<KnownProcess, 'seenAt'>): KnownProcess {
    const k: KnownProcess = { ...facts, seenAt: this.#now() };
    this.#procs.delete(k.pid);
    this.#procs.set(k.pid, k);
    this.#exited.delete(k.pid);
    this.#retained.delete(k.pid);
    this.#bound();
    return k;
  }

  /** Updates some fields of a known process without restamping it. */
  update(pid: number, patch: Partial<Omit<KnownProcess, 'pid' | 'seenAt'>>): void {
    const k = this.#procs.get(pid);
    if (k !== undefined) this.#procs.set(pid, { ...k, ...patch });
  }

  /** Removes an exited process and remembers the exit. Returns what was known. */
  exit(pid: number): KnownProcess | undefined {
    const k = this.#procs.get(pid);
    this.#procs.delete(pid);
    const now = this.#now();
    this.#exited.set(pid, { startTicks: k?.startTicks, at: now });
    if (k !== undefined && this.#retentionMs > 0) this.#retain(k, now);
    if (this.#exited.size > EXIT_MEMORY_MAX) this.#pruneExits(true);
    return k;
  }

  /**
   * Loads the first scan, which began at monotonic time `scanStartedAt`, and returns the processes to
   * report: all of them except those whose exit was already seen after the scan began. Entries the
   * kernel reported after the scan began are kept as they are.
   */
  seed(scan: readonly ProcessSnapshot[], scanStartedAt: number): ProcessSnapshot[] {
    const fresh: ProcessSnapshot[] = [];
    for (const p of scan) {
      const mark = this.#exited.get(p.pid);
      if (mark !== undefined && mark.at >= scanStartedAt && (mark.startTicks ?? p.startTicks) === p.startTicks)
        continue;
      const k = this.#procs.get(p.pid);
      if (k === undefined || k.seenAt < scanStartedAt) this.#procs.set(p.pid, { ...p, seenAt: scanStartedAt });
      fresh.push(p);
    }
    this.#bound();
    return fresh;
  }

  /**
   * Diffs a full scan that began at monotonic time `scanStartedAt` against the table, and applies it:
   * unknown pids (or a known pid with another start time) started, known pids missing from the scan
   * exited, and a changed executable path is a missed exec. Entries set after the scan began and
   * exits recorded after it began are left alone.
   */
  reconcile(scan: readonly ProcessSnapshot[], scanStartedAt: number): TableDiff {
    this.#pruneExits(false);
    const diff: TableDiff = { started: [], exited: [], execed: [] };
    const inScan = new Set<number>();
    for (const p of scan) {
      inScan.add(p.pid);
      const k = this.#procs.get(p.pid);
      if (k === undefined) {
        const mark = this.#exited.get(p.pid);
        if (mark !== undefined && mark.at >= scanStartedAt && mark.startTicks === p.startTicks) continue;
        if (mark !== undefined && mark.at >= scanStartedAt && mark.startTicks === undefined) continue;
        diff.started.push(p);
        this.set(p);
      } else if (k.seenAt >= scanStartedAt) {
        // Newer than the scan: the kernel told us after the scan read it.
      } else if (k.startTicks !== undefined && k.startTicks !== p.startTicks) {
        diff.exited.push(k);
        diff.started.push(p);
        this.set(p);
      } else {
        const execed =
          k.executablePath !== undefined && p.executablePath !== undefined && k.executablePath !== p.executablePath;
        if (execed) diff.execed.push(p);
        const keepHash = !execed && k.executableHash !== undefined ? { executableHash: k.executableHash } : {};
        this.#procs.set(p.pid, { ...p, ...keepHash, seenAt: k.seenAt });
      }
    }
    for (const k of [...this.#procs.values()]) {
      if (inScan.has(k.pid) || k.seenAt >= scanStartedAt) continue;
      diff.exited.push(k);
      this.exit(k.pid);
    }
    return diff;
  }

  #retain(k: KnownProcess, now: number): void {
    this.#retained.delete(k.pid);
    this.#retained.set(k.pid, { process: k, until: now + this.#retentionMs });
    const max = Math.max(1, Math.floor(this.#maxEntries / 4));
    for (const [pid, r] of this.#retained) {
      if (this.#retained.size <= max && r.until >= now) break;
      this.#retained.delete(pid);
      if (r.until >= now) this.stats.exitedEvictions++;
    }
  }

  /** Evicts the least recently set live entries past `maxEntries`. */
  #bound(): void {
    if (this.#procs.size <= this.#maxEntries) return;
    for (const pid of this.#procs.keys()) {
      if (this.#procs.size <= this.#maxEntries) break;
      this.#procs.delete(pid);
      this.stats.evictions++;
    }
  }

  #pruneExits(force: boolean): void {
    const cutoff = this.#now() - EXIT_MEMORY_MS;
    for (const [pid, mark] of this.#exited) {
      if (mark.at < cutoff || (force && this.#exited.size > EXIT_MEMORY_MAX / 2)) this.#exited.delete(pid);
    }
  }
}

function ancestorOf(k: KnownProcess): Ancestor {
  return k.executablePath === undefined
    ? { pid: k.pid, name: k.name }
    : { pid: k.pid, name: k.name, executablePath: k.executablePath };
}

function sameEntries(a: readonly KnownProcess[], b: readonly KnownProcess[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
