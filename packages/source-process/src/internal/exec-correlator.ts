/**
 * `ExecCorrelator`: pairs proc connector exec events with audit exec records by pid, so each exec
 * yields exactly one event. A connector exec whose process could not be read from /proc waits `waitMs` for its audit record (which carries exe,
 * argv and cwd even when the process is already gone), and keeps waiting, up to `maxWaitMs`, while
 * the audit stream lags behind the exec's time (its newest record is older); then it goes ahead
 * without, and a record that turns up later is dropped. An audit record that comes first waits up to
 * `orphanMs` for its connector exec; if none comes (the connector lost it) the record alone is emitted
 * and a late connector exec is skipped. Per pid, pairing is first-in first-out. Every waiting map is
 * bounded. It only pairs; reading /proc and sending are the caller's.
 */
import type { AuditExecRecord } from '@daemoneye/native';

/** What the caller does with a connector exec. */
export type ConnectorExecPlan =
  /** The exec was already emitted from its audit record alone: emit nothing. */
  | { readonly skip: true }
  /** Emit once this resolves: with the audit record, or `undefined` after the wait. */
  | { readonly skip: false; readonly audit: Promise<AuditExecRecord | undefined> };

/** Correlator settings. */
export interface ExecCorrelatorOptions {
  /** How long a connector exec waits for its audit record when audit is not lagging (ms). */
  readonly waitMs: number;
  /** The longest a connector exec waits while audit lags behind it (ms, default 500). */
  readonly maxWaitMs?: number;
  /** How long an audit record waits for its connector exec before it is emitted alone (ms, default 1,000). */
  readonly orphanMs?: number;
  /** Entries waiting at most, per map (default 65,536). */
  readonly maxWaiting?: number;
  /** Called with an audit record whose connector exec never came. */
  readonly onOrphan: (record: AuditExecRecord) => void;
}

interface WaitingExec {
  readonly resolve: (r: AuditExecRecord | undefined) => void;
  timer: NodeJS.Timeout;
}

interface WaitingRecord {
  readonly record: AuditExecRecord;
  readonly timer: NodeJS.Timeout;
}

const SKIP_MEMORY_MS = 10_000;
/** Audit stamps an exec at syscall entry, before the connector's exec event; allow for clock skew. */
const CLOCK_SLACK_MS = 5;

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
  readonly #wentWithout = new Map<number, number[]>();
  #watermarkMs = 0;
  #closed = false;
  #waitingExecs = 0;
  #waitingRecords = 0;

  constructor(options: ExecCorrelatorOptions) {
    this.#options = options;
  }

  /**
   * A connector exec for `pid` arrived; `atMs` is its kernel time in epoch ms. With `wait: false`
   * (the caller already read everything from /proc) a record that is already here is still used,
   * but none is waited for, and the one that comes later is dropped.
   */
  connectorExec(pid: number, atMs: number = Date.now(), wait = true): ConnectorExecPlan {
    if (this.#closed) return { skip: false, audit: Promise.resolve(undefined) };
    const early = shift(this.#records, pid);
    if (early !== undefined) {
      this.#waitingRecords--;
      clearTimeout(early.timer);
      return { skip: false, audit: Promise.resolve(early.record) };
    }
    const alone = shift(this.#emittedAlone, pid);
    if (alone !== undefined && alone > performance.now() - SKIP_MEMORY_MS) return { skip: true };
    if (!wait) {
      this.#remember(this.#wentWithout, pid);
      return { skip: false, audit: Promise.resolve(undefined) };
    }
    if (this.#waitingExecs >= (this.#options.maxWaiting ?? 65_536)) {
      return { skip: false, audit: Promise.resolve(undefined) };
    }
    this.#waitingExecs++;
    const waitMs = this.#options.waitMs;
    let deadline = performance.now() + (this.#options.maxWaitMs ?? 500);
    const audit = new Promise<AuditExecRecord | undefined>((resolve) => {
      let due = performance.now() + waitMs;
      const entry: { resolve: (r: AuditExecRecord | undefined) => void; timer: NodeJS.Timeout } = {
        resolve,
        timer: setTimeout(() => expire(), waitMs),
      };
      const arm = (): void => {
        due = performance.now() + waitMs;
        entry.timer = setTimeout(() => expire(), waitMs);
      };
      const expire = (): void => {
        // A timer that fires late means this thread was stalled (a long task, a pause of the whole
        // process): the audit reader's batches could not be handled meanwhile, so the stall does not
        // count as waiting.
        const late = performance.now() - due;
        if (late > waitMs) deadline += late;
        const lagging = this.#watermarkMs < atMs + CLOCK_SLACK_MS;
        if (lagging && performance.now() < deadline) {
          arm();
          return;
        }
        // Timers run before the messages that arrived with them: let those be handled first (the
        // record may be among them, and pairs with this exec through auditExec) before going without.
        setImmediate(giveUp);
      };
      const giveUp = (): void => {
        const list = this.#execs.get(pid);
        const i = list?.indexOf(entry) ?? -1;
        if (list === undefined || i < 0) return; // paired, or resolved by close()
        list.splice(i, 1);
        if (list.length === 0) this.#execs.delete(pid);
        this.#waitingExecs--;
        this.#remember(this.#wentWithout, pid);
        resolve(undefined);
      };
      push(this.#execs, pid, entry);
    });
    return { skip: false, audit };
  }

  /**
   * An audit exec record arrived. Failed execs (no connector exec follows) are ignored, and so is
   * every record once closed: its connector exec went, or goes, without it.
   */
  auditExec(record: AuditExecRecord): void {
    if (this.#closed) return;
    if (record.timestampMs > this.#watermarkMs) this.#watermarkMs = record.timestampMs;
    if (!record.success) return;
    const waiting = shift(this.#execs, record.pid);
    if (waiting !== undefined) {
      this.#waitingExecs--;
      clearTimeout(waiting.timer);
      waiting.resolve(record);
      return;
    }
    const without = shift(this.#wentWithout, record.pid);
    if (without !== undefined && without > performance.now() - SKIP_MEMORY_MS) return;
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

  /** Resolves every waiting exec without a record, drops waiting records, clears timers; pairs nothing after. */
  close(): void {
    this.#closed = true;
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
    this.#remember(this.#emittedAlone, record.pid);
    this.#options.onOrphan(record);
  }

  #remember(map: Map<number, number[]>, pid: number): void {
    push(map, pid, performance.now());
    if (map.size > (this.#options.maxWaiting ?? 65_536)) {
      const first = map.keys().next().value;
      if (first !== undefined) map.delete(first);
    }
  }
}
