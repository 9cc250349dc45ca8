/**
 * `ExecCorrelator`: pairs proc connector exec events with audit exec records by pid, so each exec
 * yields exactly one event. A connector exec waits up to `waitMs` for its audit record (which carries
 * exe, argv and cwd even when the process is already gone); an audit record that comes first waits up
 * to `orphanMs` for its connector exec, and if none comes (the connector lost it) the record alone is
 * emitted and the late connector exec, if any, is skipped. Per pid, pairing is first-in first-out.
 * Both waiting maps are bounded. It only pairs; reading /proc and sending are the caller's.
 */
import type { AuditExecRecord } from './kernel-port.ts';

/** What the caller does with a connector exec. */
export type ConnectorExecPlan =
  /** The exec was already emitted from its audit record alone: emit nothing. */
  | { readonly skip: true }
  /** Emit once this resolves: with the audit record, or `undefined` after the wait. */
  | { readonly skip: false; readonly audit: Promise<AuditExecRecord | undefined> };

/** Correlator settings. */
export interface ExecCorrelatorOptions {
  /** How long a connector exec waits for its audit record (ms). */
  readonly waitMs: number;
  /** How long an audit record waits for its connector exec before it is emitted alone (ms, default 1,000). */
  readonly orphanMs?: number;
  /** Entries waiting at most, per map (default 65,536). */
  readonly maxWaiting?: number;
  /** Called with an audit record whose connector exec never came. */
  readonly onOrphan: (record: AuditExecRecord) => void;
}

interface WaitingExec {
  readonly resolve: (r: AuditExecRecord | undefined) => void;
  readonly timer: NodeJS.Timeout;
}

interface WaitingRecord {
  readonly record: AuditExecRecord;
  readonly timer: NodeJS.Timeout;
}

const SKIP_MEMORY_MS = 10_000;

function push<T>(map: Map<number, T[]>, pid: number, item: T): void {
  const list = map.get(pid);
  if (list === undefined) map.set(pid, [item]);
  else list.push(item);
}

function shift<T>(map: Map<number, T[]>, pid: number): T | undefined {
  const list = map.get(pid);
  const item = list?.shift();
  if (list !== undefined && list.length === 0) map.delete(pid);
  return item;
}

/** Pairs connector execs with audit records. */
export class ExecCorrelator {
  readonly #options: ExecCorrelatorOptions;
  readonly #execs = new Map<number, WaitingExec[]>();
  readonly #records = new Map<number, WaitingRecord[]>();
  readonly #emittedAlone = new Map<number, number[]>();
  #waitingExecs = 0;
  #waitingRecords = 0;

  constructor(options: ExecCorrelatorOptions) {
    this.#options = options;
  }

  /** A connector exec for `pid` arrived. */
  connectorExec(pid: number): ConnectorExecPlan {
    const early = shift(this.#records, pid);
    if (early !== undefined) {
      this.#waitingRecords--;
      clearTimeout(early.timer);
      return { skip: false, audit: Promise.resolve(early.record) };
    }
    const alone = shift(this.#emittedAlone, pid);
    if (alone !== undefined && alone > performance.now() - SKIP_MEMORY_MS) return { skip: true };
    if (this.#waitingExecs >= (this.#options.maxWaiting ?? 65_536)) {
      return { skip: false, audit: Promise.resolve(undefined) };
    }
    this.#waitingExecs++;
    const audit = new Promise<AuditExecRecord | undefined>((resolve) => {
      const timer = setTimeout(() => {
        const list = this.#execs.get(pid);
        const i = list?.findIndex((w) => w.timer === timer) ?? -1;
        if (list !== undefined && i >= 0) {
          list.splice(i, 1);
          if (list.length === 0) this.#execs.delete(pid);
          this.#waitingExecs--;
        }
        resolve(undefined);
      }, this.#options.waitMs);
      push(this.#execs, pid, { resolve, timer });
    });
    return { skip: false, audit };
  }

  /** An audit exec record arrived. Failed execs (no connector exec follows) are ignored. */
  auditExec(record: AuditExecRecord): void {
    if (!record.success) return;
    const waiting = shift(this.#execs, record.pid);
    if (waiting !== undefined) {
      this.#waitingExecs--;
      clearTimeout(waiting.timer);
      waiting.resolve(record);
      return;
    }
    if (this.#waitingRecords >= (this.#options.maxWaiting ?? 65_536)) {
      this.#emitAlone(record);
      return;
    }
    this.#waitingRecords++;
    const timer = setTimeout(() => {
      const list = this.#records.get(record.pid);
      const i = list?.findIndex((w) => w.timer === timer) ?? -1;
      if (list === undefined || i < 0) return;
      list.splice(i, 1);
      if (list.length === 0) this.#records.delete(record.pid);
      this.#waitingRecords--;
      this.#emitAlone(record);
    }, this.#options.orphanMs ?? 1_000);
    push(this.#records, record.pid, { record, timer });
  }

  /** Execs and records waiting right now. */
  waiting(): { execs: number; records: number } {
    return { execs: this.#waitingExecs, records: this.#waitingRecords };
  }

  /** Resolves every waiting exec without a record, drops waiting records, clears timers. */
  close(): void {
    for (const list of this.#execs.values()) {
      for (const w of list) {
        clearTimeout(w.timer);
        w.resolve(undefined);
      }
    }
    this.#execs.clear();
    this.#waitingExecs = 0;
    for (const list of this.#records.values()) for (const w of list) clearTimeout(w.timer);
    this.#records.clear();
    this.#waitingRecords = 0;
  }

  #emitAlone(record: AuditExecRecord): void {
    push(this.#emittedAlone, record.pid, performance.now());
    if (this.#emittedAlone.size > (this.#options.maxWaiting ?? 65_536)) {
      const first = this.#emittedAlone.keys().next().value;
      if (first !== undefined) this.#emittedAlone.delete(first);
    }
    this.#options.onOrphan(record);
  }
}
