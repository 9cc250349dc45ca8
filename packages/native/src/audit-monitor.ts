/**
 * The audit exec monitor: makes the kernel audit every execve/execveat (one tagged rule per
 * architecture, audit enabled if it was off), reads the records in a worker thread (as the audit
 * daemon when none runs, else beside it through the READLOG multicast group) and emits one
 * `AuditExecRecord` per exec. Every change is recorded in a state file first and undone on close, or
 * by `recoverAuditState` after a crash. It never touches rules it did not add.
 */

import { readAuditRules, readAuditStatus } from './audit-control.ts';
import type { AuditExecRecord } from './audit-record.ts';
import { addAuditRule, clearAuditDaemon, deleteAuditRule, setAuditEnabled } from './internal/audit-config.ts';
import { decodeAuditRule, encodeExecRule, execRuleTargets, formatAuditRule } from './internal/audit-rule.ts';
import {
  type AuditState,
  processStartTime,
  readAuditState,
  removeAuditState,
  stateOwnerAlive,
  writeAuditState,
} from './internal/audit-state.ts';
import type { AuditWorkerItem } from './internal/audit-worker.ts';
import { Errno } from './internal/constants.ts';
import { type ReaderHost, startReader } from './internal/worker-host.ts';
import { isNativeError, NativeError } from './native-error.ts';

/** A running audit exec monitor. */

/** How often the kernel's audit `lost` counter is read to detect loss (a netlink round trip each). */
const AUDIT_LOST_POLL_MS = 5000;
export interface AuditExecMonitor {
  /** `unicast`: registered as the audit daemon (none was running); `multicast`: READLOG group beside a running daemon. */
  readonly mode: 'unicast' | 'multicast';
  /** Registers a callback for exec records, one per exec event, in serial order. */
  onExec(cb: (records: readonly AuditExecRecord[]) => void): void;
  /** Registers a callback for loss: ENOBUFS on our socket, or an increase of the kernel's `lost` counter (checked every second). */
  onLoss(cb: (info: { reason: 'enobufs' | 'audit_lost'; count: number }) => void): void;
  /** Registers a callback for failures after open (read errors, status polling errors, throwing callbacks). */
  onError(cb: (err: Error) => void): void;
  /** Audit records received, exec records emitted, and the sum of loss counts. */
  stats(): { records: number; execs: number; lost: number };
  /**
   * Removes only the rules this monitor added, restores the enabled flag as found, unregisters as the
   * audit daemon and ends the worker; then deletes the state file. Idempotent. When an undo step
   * fails the state file is kept (for `recoverAuditState`) and the promise rejects with the first error.
   */
  close(): Promise<void>;
}

/** Options for {@link openAuditExecMonitor}. */
export interface AuditExecMonitorOptions {
  /** The rule key (`-k`) tagging our rules. Default `daemoneye-exec`. */
  readonly key?: string;
  /** Receive buffer of the reading socket. Default 32 MiB (SO_RCVBUFFORCE, else SO_RCVBUF). */
  readonly receiveBufferBytes?: number;
  /** `auto` (default): unicast when no audit daemon is registered, else multicast. */
  readonly mode?: 'auto' | 'unicast' | 'multicast';
  /** Where to record changes for crash recovery. Default `/run/daemoneye/audit-state.json`. */
  readonly stateFile?: string;
}

/** The default state file of the audit exec monitor. */
export const DEFAULT_AUDIT_STATE_FILE = '/run/daemoneye/audit-state.json';
/** The default rule key of the audit exec monitor. */
export const DEFAULT_AUDIT_KEY = 'daemoneye-exec';

const openStateFiles = new Set<string>();

function ignoring(errno: number, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!(isNativeError(e) && e.errno === errno)) throw e;
  }
}

/** Undoes what `state` records; runs every step and rethrows the first failure. */
function undo(state: AuditState, upTo: { rules: number; enabled: boolean; registered: boolean }): void {
  const errors: unknown[] = [];
  const step = (fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      errors.push(e);
    }
  };
  for (const hex of state.rulesAdded.slice(0, upTo.rules))
    step(() => ignoring(Errno.ENOENT, () => deleteAuditRule(Buffer.from(hex, 'hex'))));
  if (upTo.enabled && state.enabledChanged) step(() => setAuditEnabled(state.enabledBefore === 1 ? 1 : 0));
  if (upTo.registered && state.registered) {
    step(() => {
      if (readAuditStatus().pid === state.pid) clearAuditDaemon();
    });
  }
  if (errors.length > 0) throw errors[0];
}

/**
 * Undoes the changes a previous run recorded in `stateFile` (default `/run/daemoneye/audit-state.json`):
 * deletes the rules it added, restores the enabled flag it found and unregisters its daemon pid, then
 * removes the file. Resolves `{ recovered: false }` when there is no state file, or when the process
 * that wrote it is still running. Rejects with NativeError when an undo step fails (the file is kept).
 */
export async function recoverAuditState(stateFile: string = DEFAULT_AUDIT_STATE_FILE): Promise<{ recovered: boolean }> {
  const state = readAuditState(stateFile);
  if (!state || openStateFiles.has(stateFile) || stateOwnerAlive(state)) return { recovered: false };
  undo(state, { rules: state.rulesAdded.length, enabled: true, registered: true });
  removeAuditState(stateFile);
  return { recovered: true };
}

function validate(opts: AuditExecMonitorOptions): { key: string; receiveBufferBytes: number; stateFile: string } {
  const key = opts.key ?? DEFAULT_AUDIT_KEY;
  if (Buffer.byteLength(key) === 0 || Buffer.byteLength(key) > 256)
    throw new RangeError(`key must be 1..256 bytes, got ${JSON.stringify(key)}`);
  const receiveBufferBytes = opts.receiveBufferBytes ?? 32 * 1024 * 1024;
  if (!Number.isInteger(receiveBufferBytes) || receiveBufferBytes <= 0)
    throw new RangeError(`receiveBufferBytes must be a positive integer, got ${String(receiveBufferBytes)}`);
  return { key, receiveBufferBytes, stateFile: opts.stateFile ?? DEFAULT_AUDIT_STATE_FILE };
}

function readStatusForOpen(): ReturnType<typeof readAuditStatus> {
  try {
    return readAuditStatus();
  } catch (e) {
    if (
      isNativeError(e) &&
      (e.errno === Errno.EPERM || e.errno === Errno.ECONNREFUSED || e.code === 'ERR_NATIVE_UNAVAILABLE')
    ) {
      throw new NativeError('ERR_NATIVE_UNAVAILABLE', `audit is not available: ${e.message}`, {
        cause: e,
        ...(e.errno === undefined ? {} : { errno: e.errno }),
      });
    }
    throw e;
  }
}

/**
 * Starts auditing execs. Rejects with NativeError: `ERR_NATIVE_UNAVAILABLE` off Linux, without
 * CAP_AUDIT_CONTROL/CAP_AUDIT_READ or on an unsupported CPU architecture; `ERR_AUDIT_LOCKED` when the
 * audit configuration is locked (enabled = 2); `ERR_AUDIT_BUSY` when `mode: 'unicast'` is asked while
 * another daemon is registered, or another live process holds the state file and changes are needed.
 */
export async function openAuditExecMonitor(opts: AuditExecMonitorOptions = {}): Promise<AuditExecMonitor> {
  if (process.platform !== 'linux')
    throw new NativeError('ERR_NATIVE_UNAVAILABLE', `audit needs Linux (platform is ${process.platform})`);
  const { key, receiveBufferBytes, stateFile } = validate(opts);
  const targets = execRuleTargets();
  if (targets.length === 0)
    throw new NativeError(
      'ERR_NATIVE_UNAVAILABLE',
      `audit exec rules are not defined for CPU architecture ${process.arch}`,
    );
  if (openStateFiles.has(stateFile))
    throw new NativeError('ERR_AUDIT_BUSY', `an audit exec monitor using ${stateFile} is already open in this process`);
  readStatusForOpen();
  await recoverAuditState(stateFile);
  const heldByOther = readAuditState(stateFile) !== undefined;
  const status = readStatusForOpen();
  if (status.enabled === 2)
    throw new NativeError('ERR_AUDIT_LOCKED', 'audit configuration is locked (enabled=2) until reboot');
  const mode =
    opts.mode === undefined || opts.mode === 'auto' ? (status.pid === 0 ? 'unicast' : 'multicast') : opts.mode;
  if (mode === 'unicast' && status.pid !== 0)
    throw new NativeError('ERR_AUDIT_BUSY', `an audit daemon (pid ${status.pid}) is already registered`);

  const present = new Set(readAuditRules().map(formatAuditRule));
  const toAdd = targets
    .map((t) => encodeExecRule({ ...t, key }))
    .filter((b) => {
      const r = decodeAuditRule(b);
      return r !== undefined && !present.has(formatAuditRule(r));
    });
  const state: AuditState = {
    version: 1,
    pid: process.pid,
    startTime: processStartTime(process.pid) ?? '',
    key,
    mode,
    enabledBefore: status.enabled,
    enabledChanged: status.enabled === 0,
    registered: mode === 'unicast',
    rulesAdded: toAdd.map((b) => b.toString('hex')),
    createdAt: new Date().toISOString(),
  };
  const changes = state.enabledChanged || state.registered || toAdd.length > 0;
  if (changes && heldByOther)
    throw new NativeError('ERR_AUDIT_BUSY', `another running process holds the audit state file ${stateFile}`);
  if (changes) writeAuditState(stateFile, state);
  openStateFiles.add(stateFile);

  const done = { rules: 0, enabled: false, registered: false };
  let host: ReaderHost<AuditWorkerItem> | undefined;
  try {
    host = await startReader<AuditWorkerItem>('audit-worker', { mode, receiveBufferBytes, key });
    done.registered = true;
    for (const rule of toAdd) {
      addAuditRule(rule);
      done.rules++;
    }
    if (state.enabledChanged) {
      done.enabled = true;
      setAuditEnabled(1);
    }
  } catch (e) {
    try {
      undo(state, done);
      if (changes) removeAuditState(stateFile);
    } finally {
      openStateFiles.delete(stateFile);
      await host?.close();
    }
    throw e;
  }
  return createMonitor({ host, state, stateFile, changes, lostBaseline: status.lost });
}

function createMonitor(ctx: {
  host: ReaderHost<AuditWorkerItem>;
  state: AuditState;
  stateFile: string;
  changes: boolean;
  lostBaseline: number;
}): AuditExecMonitor {
  const { host, state, stateFile } = ctx;
  const execCbs: ((records: readonly AuditExecRecord[]) => void)[] = [];
  const lossCbs: ((info: { reason: 'enobufs' | 'audit_lost'; count: number }) => void)[] = [];
  const errorCbs: ((err: Error) => void)[] = [];
  const counts = { records: 0, execs: 0, lost: 0 };
  const emitLoss = (reason: 'enobufs' | 'audit_lost', count: number): void => {
    counts.lost += count;
    for (const cb of lossCbs) cb({ reason, count });
  };
  host.onItems((items) => {
    const execs: AuditExecRecord[] = [];
    for (const it of items) {
      if (it.kind === 'records') counts.records += it.count;
      else execs.push(it.record);
    }
    if (execs.length === 0) return;
    counts.execs += execs.length;
    for (const cb of execCbs) cb(execs);
  });
  host.onLoss((info) => emitLoss('enobufs', info.count));
  host.onError((err) => {
    for (const cb of errorCbs) cb(err);
  });
  let lastLost = ctx.lostBaseline;
  let pollFailed = false;
  const timer = setInterval(() => {
    try {
      const lost = readAuditStatus().lost;
      if (lost > lastLost) emitLoss('audit_lost', lost - lastLost);
      lastLost = lost;
    } catch (e) {
      if (pollFailed) return;
      pollFailed = true; // reported once, not on every poll
      for (const cb of errorCbs) cb(e instanceof Error ? e : new Error(String(e)));
    }
  }, AUDIT_LOST_POLL_MS);
  timer.unref();
  let closing: Promise<void> | undefined;
  return {
    mode: state.mode,
    onExec: (cb) => void execCbs.push(cb),
    onLoss: (cb) => void lossCbs.push(cb),
    onError: (cb) => void errorCbs.push(cb),
    stats: () => ({ ...counts }),
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        try {
          undo(state, { rules: state.rulesAdded.length, enabled: true, registered: true });
          if (ctx.changes) removeAuditState(stateFile);
        } finally {
          openStateFiles.delete(stateFile);
          await host.close();
        }
      })();
      return closing;
    },
  };
}
