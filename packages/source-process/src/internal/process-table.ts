/**
 * `ProcessTable`: the processes the source believes are running, keyed by pid, and the diff of a full
 * scan against it. Kernel events update it as they arrive; a scan that started before an update must
 * not undo it, so every entry carries the monotonic time it was last set and recent exits are
 * remembered for a while. The diff yields processes that started, exited or exec'd a new executable
 * without the source hearing of it. It emits nothing itself.
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

/** The known process table. */
export class ProcessTable {
  readonly #now: () => number;
  readonly #procs = new Map<number, KnownProcess>();
  readonly #exited = new Map<number, ExitMark>();

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
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
    this.#procs.set(k.pid, k);
    this.#exited.delete(k.pid);
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
    this.#exited.set(pid, { startTicks: k?.startTicks, at: this.#now() });
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

  #pruneExits(force: boolean): void {
    const cutoff = this.#now() - EXIT_MEMORY_MS;
    for (const [pid, mark] of this.#exited) {
      if (mark.at < cutoff || (force && this.#exited.size > EXIT_MEMORY_MAX / 2)) this.#exited.delete(pid);
    }
  }
}
