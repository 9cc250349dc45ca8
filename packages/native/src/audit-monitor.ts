/**
 * The audit exec monitor: makes the kernel audit every execve/execveat (one tagged rule per
 * architecture, audit enabled if it was off), reads the records in a worker thread (as the audit
 * daemon when none runs, else beside it through the READLOG multicast group) and emits one
 * `AuditExecRecord` per exec. Configuration requests run in a second worker, never on the calling
 * thread. Every change is recorded in a state file first and undone on close, or by
 * `recoverAuditState` after a crash. It never touches rules it did not add.
 */

import type { AuditStatusInfo } from './audit-control.ts';
import type { AuditExecRecord } from './audit-record.ts';
import { abortedError, checkOpenOptions, closeOnAbort } from './internal/abort.ts';
import { type AuditControl, openAuditControl, withAuditControl } from './internal/audit-config.ts';
import { type AuditGuardian, startAuditGuardian } from './internal/audit-guardian-host.ts';
import { decodeAuditRule, encodeExecRule, execRuleTargets, formatAuditRule } from './internal/audit-rule.ts';
import {
  type AuditState,
  processStartTime,
  readAuditState,
  removeAuditState,
  stateOwnerAlive,
  writeAuditState,
} from './internal/audit-state.ts';
import { ALL_DONE, type Done, describeRule, recoverWith, undo } from './internal/audit-undo.ts';
import type { AuditWorkerItem } from './internal/audit-worker.ts';
import { effectiveCapabilities } from './internal/capabilities.ts';
import { Errno } from './internal/constants.ts';
import { createListeners } from './internal/listeners.ts';
import { type ReaderHost, startReader } from './internal/reader-host.ts';
import { invalidArgument, isNativeError, NativeError } from './native-error.ts';
import type { NativeLogger } from './native-logger.ts';
import { silentNativeLogger } from './native-logger.ts';
import type { LossInfo, NativeOpenOptions } from './reader-options.ts';

/** How often the kernel's audit `lost` counter is read to detect loss (a netlink round trip each, in the control worker). */
const AUDIT_LOST_POLL_MS = 5000;

/** A loss report of the audit exec monitor. */
export interface AuditLossInfo extends LossInfo {
  /** `enobufs` on our socket, `audit_lost` (the kernel's counter rose), `overflow` (batches waiting for a first `onExec`). */
  readonly reason: 'enobufs' | 'audit_lost' | 'overflow';
}

/** Counters of an audit exec monitor. */
export interface AuditExecMonitorStats {
  /** Audit records received. */
  readonly records: number;
  /** Exec records emitted. */
  readonly execs: number;
  /** The sum of loss counts. */
  readonly lost: number;
  /** The reading socket, -1 once closed. */
  readonly fd: number;
  /** Its receive buffer in effect, in bytes. */
  readonly receiveBufferBytes: number;
}

/** A running audit exec monitor. */
export interface AuditExecMonitor {
  /** `unicast`: registered as the audit daemon (none was running); `multicast`: READLOG group beside a running daemon. */
  readonly mode: 'unicast' | 'multicast';
  /**
   * Registers a callback for exec records, one per exec event, in serial order; returns a function
   * that unregisters it. Batches that arrived before the first callback are delivered to it.
   */
  onExec(cb: (records: readonly AuditExecRecord[]) => void): () => void;
  /** Registers a callback for loss (the kernel's `lost` counter is checked every 5 s); returns an unsubscribe function. */
  onLoss(cb: (info: AuditLossInfo) => void): () => void;
  /**
   * Registers a callback for failures after open (the reader failed or ended, a callback threw);
   * returns an unsubscribe function. A failed read of the kernel's loss counter is logged, not
   * reported here: the records keep flowing and the next read reports the loss in between.
   */
  onError(cb: (err: Error) => void): () => void;
  /** Counters and the reading socket. */
  stats(): AuditExecMonitorStats;
  /**
   * Removes only the rules this monitor added, restores the enabled flag as found, unregisters as the
   * audit daemon and ends the workers; then deletes the state file. Idempotent; aborting the open
   * call's `signal` does the same. When an undo step fails the state file is kept (for
   * `recoverAuditState`) and the promise rejects with the first error.
   */
  close(): Promise<void>;
}

/** Options for {@link openAuditExecMonitor}. */
export interface AuditExecMonitorOptions extends NativeOpenOptions {
  /** The rule key (`-k`) tagging our rules: 1–256 bytes. Default `daemoneye-exec`. */
  readonly key?: string;
  /** Receive buffer of the reading socket. Default 32 MiB (SO_RCVBUFFORCE, else SO_RCVBUF). */
  readonly receiveBufferBytes?: number;
  /** `auto` (default): unicast when no audit daemon is registered, else multicast. */
  readonly mode?: 'auto' | 'unicast' | 'multicast';
  /** Where to record changes for crash recovery. Default `/run/daemoneye/audit-state.json`. */
  readonly stateFile?: string;
  /**
   * As the audit daemon, the kernel's `backlog_limit` is raised to at least this (default 16,384) and
   * `backlog_wait_time` set to 0, so a stalled reader never makes a process wait: the kernel drops
   * records instead, counted as `audit_lost` loss. Both are restored at close. Beside a running audit
   * daemon they are left alone.
   */
  readonly backlogLimit?: number;
  /**
   * Start the audit guardian, a small process that restores the recorded audit state within about a
   * second of this process's death by any cause (default true).
   */
  readonly guardian?: boolean;
}

/** The `backlog_limit` the monitor sets at least while it is the audit daemon. */
export const DEFAULT_AUDIT_BACKLOG_LIMIT = 16_384;

/** The default state file of the audit exec monitor. */
export const DEFAULT_AUDIT_STATE_FILE = '/run/daemoneye/audit-state.json';
/** The default rule key of the audit exec monitor. */
export const DEFAULT_AUDIT_KEY = 'daemoneye-exec';

const openStateFiles = new Set<string>();

/** What {@link recoverAuditState} did. */
export interface AuditRecovery {
  /** True when a state was found and undone (the file is then removed). */
  readonly recovered: boolean;
  /** The pid of the process that wrote the state, when there was one. */
  readonly previousPid?: number;
  /** True when that process still runs (nothing was touched). */
  readonly ownerRunning?: boolean;
}

/**
 * Undoes the changes a previous run recorded in `stateFile` (default `/run/daemoneye/audit-state.json`):
 * deletes the rules it added, restores the enabled flag and backlog settings it found and
 * unregisters its daemon pid, then removes the file. Resolves `{ recovered: false }` when there is no
 * state file, or (with `ownerRunning: true`) when the process that wrote it is still running. Rejects
 * with NativeError when an undo step fails (the file is kept). The requests run in a worker thread.
 */
export async function recoverAuditState(
  stateFile: string = DEFAULT_AUDIT_STATE_FILE,
  logger: NativeLogger = silentNativeLogger,
): Promise<AuditRecovery> {
  const state = readAuditState(stateFile);
  if (!state) return { recovered: false };
  if (openStateFiles.has(stateFile) || stateOwnerAlive(state))
    return { recovered: false, previousPid: state.pid, ownerRunning: true };
  const r = await withAuditControl((c) => recoverWith(c, stateFile, logger, (f) => openStateFiles.has(f)));
  return { ...r, previousPid: state.pid };
}

function validate(opts: AuditExecMonitorOptions): { key: string; receiveBufferBytes: number; stateFile: string } {
  const key = opts.key ?? DEFAULT_AUDIT_KEY;
  if (typeof key !== 'string' || Buffer.byteLength(key) === 0 || Buffer.byteLength(key) > 256)
    throw invalidArgument('key', key, 'a string of 1..256 bytes');
  const receiveBufferBytes = opts.receiveBufferBytes ?? 32 * 1024 * 1024;
  if (!Number.isInteger(receiveBufferBytes) || receiveBufferBytes <= 0)
    throw invalidArgument('receiveBufferBytes', receiveBufferBytes, 'a positive integer');
  const mode = opts.mode;
  if (mode !== undefined && mode !== 'auto' && mode !== 'unicast' && mode !== 'multicast')
    throw invalidArgument('mode', mode, "'auto', 'unicast' or 'multicast'");
  const backlogLimit = opts.backlogLimit;
  if (backlogLimit !== undefined && (!Number.isInteger(backlogLimit) || backlogLimit <= 0))
    throw invalidArgument('backlogLimit', backlogLimit, 'a positive integer');
  const guardian = opts.guardian;
  if (guardian !== undefined && typeof guardian !== 'boolean') throw invalidArgument('guardian', guardian, 'a boolean');
  return { key, receiveBufferBytes, stateFile: opts.stateFile ?? DEFAULT_AUDIT_STATE_FILE };
}

async function readStatusForOpen(control: AuditControl): Promise<AuditStatusInfo> {
  try {
    return await control.status();
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
 * another daemon is registered, or another live process holds the state file and changes are needed;
 * `ERR_NATIVE_INVALID_ARGUMENT` for a bad option; `ERR_NATIVE_ABORTED` when `signal` aborts first
 * (what was changed by then is undone).
 */
export async function openAuditExecMonitor(opts: AuditExecMonitorOptions = {}): Promise<AuditExecMonitor> {
  if (process.platform !== 'linux')
    throw new NativeError('ERR_NATIVE_UNAVAILABLE', `audit needs Linux (platform is ${process.platform})`);
  const { logger: log } = checkOpenOptions('openAuditExecMonitor', opts);
  const { key, receiveBufferBytes, stateFile } = validate(opts);
  const targets = execRuleTargets();
  if (targets.length === 0)
    throw new NativeError(
      'ERR_NATIVE_UNAVAILABLE',
      `audit exec rules are not defined for CPU architecture ${process.arch}`,
    );
  if (openStateFiles.has(stateFile))
    throw new NativeError('ERR_AUDIT_BUSY', `an audit exec monitor using ${stateFile} is already open in this process`);
  log.debug(effectiveCapabilities(['CAP_AUDIT_CONTROL', 'CAP_AUDIT_READ']) ?? {}, 'audit privileges found');
  const control = await openAuditControl(opts.signal);
  try {
    return await setUp({ control, log, key, receiveBufferBytes, stateFile, targets, opts });
  } catch (e) {
    await control.close();
    throw e;
  }
}

async function setUp(ctx: {
  control: AuditControl;
  log: NativeLogger;
  key: string;
  receiveBufferBytes: number;
  stateFile: string;
  targets: ReturnType<typeof execRuleTargets>;
  opts: AuditExecMonitorOptions;
}): Promise<AuditExecMonitor> {
  const { control, log, key, stateFile, opts } = ctx;
  const signal = opts.signal;
  const checkAbort = (): void => {
    if (signal?.aborted) throw abortedError('openAuditExecMonitor', signal);
  };
  await readStatusForOpen(control);
  await recoverWith(control, stateFile, log, (f) => openStateFiles.has(f));
  const heldByOther = readAuditState(stateFile) !== undefined;
  const status = await readStatusForOpen(control);
  log.debug(
    {
      enabled: status.enabled,
      daemonPid: status.pid,
      backlogLimit: status.backlogLimit,
      backlogWaitTime: status.backlogWaitTime,
      lost: status.lost,
    },
    'audit status found',
  );
  if (status.enabled === 2)
    throw new NativeError('ERR_AUDIT_LOCKED', 'audit configuration is locked (enabled=2) until reboot');
  const mode =
    opts.mode === undefined || opts.mode === 'auto' ? (status.pid === 0 ? 'unicast' : 'multicast') : opts.mode;
  if (mode === 'unicast' && status.pid !== 0)
    throw new NativeError('ERR_AUDIT_BUSY', `an audit daemon (pid ${status.pid}) is already registered`);
  // Beside a running audit daemon its settings are its own: the enabled flag is never changed then.
  if (mode === 'multicast' && status.pid !== 0 && status.enabled === 0)
    throw new NativeError(
      'ERR_NATIVE_UNAVAILABLE',
      `audit is disabled and owned by the audit daemon (pid ${status.pid}); not enabling it beside that daemon`,
    );
  const backlogLimit = opts.backlogLimit ?? DEFAULT_AUDIT_BACKLOG_LIMIT;
  // As the audit daemon: no process ever waits on a full backlog (records are dropped and counted instead).
  const backlogChange =
    mode === 'unicast' && (status.backlogLimit < backlogLimit || (status.backlogWaitTime ?? 0) !== 0);

  const present = new Set((await control.rules()).map(formatAuditRule));
  const toAdd = ctx.targets
    .map((t) => encodeExecRule({ ...t, key }))
    .filter((b) => {
      const r = decodeAuditRule(b);
      return r !== undefined && !present.has(formatAuditRule(r));
    });
  checkAbort();
  const state: AuditState = {
    version: 1,
    pid: process.pid,
    startTime: processStartTime(process.pid) ?? '',
    key,
    mode,
    enabledBefore: status.enabled,
    // Beside a running audit daemon the enabled flag is its own (and it is on: checked above).
    enabledChanged: status.enabled === 0 && status.pid === 0,
    registered: mode === 'unicast',
    rulesAdded: toAdd.map((b) => b.toString('hex')),
    ...(backlogChange
      ? {
          backlogBefore: {
            limit: status.backlogLimit,
            ...(status.backlogWaitTime === undefined ? {} : { waitTime: status.backlogWaitTime }),
          },
        }
      : {}),
    createdAt: new Date().toISOString(),
  };
  const changes = state.enabledChanged || state.registered || toAdd.length > 0 || backlogChange;
  if (changes && heldByOther)
    throw new NativeError('ERR_AUDIT_BUSY', `another running process holds the audit state file ${stateFile}`);
  if (changes) writeAuditState(stateFile, state);
  openStateFiles.add(stateFile);

  const done: Done = { rules: 0, enabled: false, registered: false, backlog: false };
  let host: ReaderHost<AuditWorkerItem> | undefined;
  let guardian: AuditGuardian | undefined;
  try {
    if (changes && opts.guardian !== false) {
      try {
        guardian = await startAuditGuardian(stateFile);
        log.debug({ guardianPid: guardian.pid, stateFile }, 'audit guardian started');
      } catch (e) {
        log.warn(
          { err: e, stateFile },
          'audit guardian unavailable; a crash leaves the audit state until the next start',
        );
      }
    }
    checkAbort();
    host = await startReader<AuditWorkerItem>(
      'audit-worker',
      { mode, receiveBufferBytes: ctx.receiveBufferBytes, key },
      { signal },
    );
    done.registered = true;
    if (mode === 'unicast') log.debug({ pid: process.pid }, 'registered as the audit daemon');
    for (const rule of toAdd) {
      checkAbort();
      await control.addRule(rule);
      done.rules++;
      log.debug({ rule: describeRule(rule) }, 'audit rule added');
    }
    if (backlogChange) {
      checkAbort();
      done.backlog = true;
      await control.setBacklogWaitTime(0);
      if (status.backlogLimit < backlogLimit) await control.setBacklogLimit(backlogLimit);
      log.debug(
        { backlogLimit: Math.max(status.backlogLimit, backlogLimit), backlogWaitTime: 0, before: state.backlogBefore },
        'audit backlog set for bursts, never waiting',
      );
    }
    if (state.enabledChanged) {
      checkAbort();
      done.enabled = true;
      await control.setEnabled(1);
      log.debug({ enabled: 1, before: status.enabled }, 'audit enabled');
    }
    checkAbort();
  } catch (e) {
    try {
      await undo(control, state, done, log);
      if (changes) removeAuditState(stateFile);
    } finally {
      openStateFiles.delete(stateFile);
      await host?.close();
      guardian?.release();
    }
    throw e;
  }
  log.debug(
    { mode, fd: host.ready.fd, receiveBufferBytes: host.ready.receiveBufferBytes },
    'audit exec monitor opened',
  );
  return createMonitor({
    host,
    control,
    state,
    stateFile,
    changes,
    lostBaseline: status.lost,
    log,
    signal,
    guardian,
  });
}

/** Wraps an opened reader and control worker as the monitor (exported for its unit test; not public API). */
export function createMonitor(ctx: {
  host: ReaderHost<AuditWorkerItem>;
  control: AuditControl;
  state: AuditState;
  stateFile: string;
  changes: boolean;
  lostBaseline: number;
  log: NativeLogger;
  signal: AbortSignal | undefined;
  guardian: AuditGuardian | undefined;
}): AuditExecMonitor {
  const { host, control, state, stateFile, log } = ctx;
  const counts = { records: 0, execs: 0, lost: 0 };
  const errors = createListeners<Error>();
  const loss = createListeners<AuditLossInfo>({ onThrow: (e) => errors.emit(e) });
  const emitLoss = (reason: AuditLossInfo['reason'], count: number): void => {
    counts.lost += count;
    loss.emit({ reason, count, at: Date.now() });
  };
  const execs = createListeners<readonly AuditExecRecord[]>({
    bufferUntilFirst: 64,
    onDrop: (dropped) => emitLoss('overflow', dropped.length),
    onThrow: (e) => errors.emit(e),
  });
  host.onItems((items) => {
    const batch: AuditExecRecord[] = [];
    for (const it of items) {
      if (it.kind === 'records') counts.records += it.count;
      else batch.push(it.record);
    }
    if (batch.length === 0) return;
    counts.execs += batch.length;
    execs.emit(batch);
  });
  host.onLoss((info) => emitLoss(info.reason === 'enobufs' ? 'enobufs' : 'overflow', info.count));
  host.onError((err) => errors.emit(err));
  let lastLost = ctx.lostBaseline;
  let pollFailed = false;
  let polling = false;
  const timer = setInterval(() => {
    if (polling) return;
    polling = true;
    control
      .status()
      .then(
        (s) => {
          if (pollFailed) log.info({ lost: s.lost - lastLost }, 'audit status readable again');
          pollFailed = false;
          if (s.lost > lastLost) emitLoss('audit_lost', s.lost - lastLost);
          lastLost = s.lost;
        },
        (e: unknown) => {
          // The records still flow: a status read that fails (a reply late on a starved host, say) is
          // no failure of the monitor. The kernel's counter is cumulative, so the next read that
          // succeeds reports all the loss in between.
          if (pollFailed || host.closed()) return;
          pollFailed = true; // logged once per streak of failures, not on every poll
          log.warn({ err: e }, 'audit status unreadable; loss is checked again at the next poll');
        },
      )
      .finally(() => {
        polling = false;
      });
  }, AUDIT_LOST_POLL_MS);
  timer.unref();
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(timer);
      stopListening();
      try {
        await undo(control, state, ALL_DONE, log);
        if (ctx.changes) removeAuditState(stateFile);
        ctx.guardian?.release();
      } finally {
        openStateFiles.delete(stateFile);
        await host.close();
        await control.close();
        log.debug({ fd: host.ready.fd, ...counts }, 'audit exec monitor closed');
      }
    })();
    return closing;
  };
  const stopListening = closeOnAbort(ctx.signal, close, (e) => errors.emit(e));
  return {
    mode: state.mode,
    onExec: (cb) => execs.add(cb),
    onLoss: (cb) => loss.add(cb),
    onError: (cb) => errors.add(cb),
    stats: () => ({
      ...counts,
      fd: host.closed() ? -1 : host.ready.fd,
      receiveBufferBytes: host.ready.receiveBufferBytes,
    }),
    close,
  };
}
