/**
 * Undoing what the audit exec monitor changed: deleting the rules it added, restoring the enabled
 * flag and unregistering its daemon pid, as recorded in its state file — at close, after a failed
 * open, or for a process that died. Each step is logged at debug. It decides nothing about what to
 * change; the monitor does.
 */

import { isNativeError } from '../native-error.ts';
import type { NativeLogger } from '../native-logger.ts';
import type { AuditControl } from './audit-config.ts';
import { decodeAuditRule, formatAuditRule } from './audit-rule.ts';
import { type AuditState, readAuditState, removeAuditState, stateOwnerAlive } from './audit-state.ts';
import { Errno } from './constants.ts';

async function ignoring(errno: number, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (!(isNativeError(e) && e.errno === errno)) throw e;
  }
}

/** What has been changed so far, for a partial undo. */
export interface Done {
  rules: number;
  enabled: boolean;
  registered: boolean;
  backlog: boolean;
}

/** Everything a state records was done: what a full undo takes back. */
export const ALL_DONE: Readonly<Done> = {
  rules: Number.MAX_SAFE_INTEGER,
  enabled: true,
  registered: true,
  backlog: true,
};

/** Undoes what `state` records, up to `upTo`; runs every step and rethrows the first failure. */
export async function undo(control: AuditControl, state: AuditState, upTo: Done, log: NativeLogger): Promise<void> {
  const errors: unknown[] = [];
  const step = async (fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (e) {
      errors.push(e);
    }
  };
  for (const hex of state.rulesAdded.slice(0, upTo.rules)) {
    const rule = Buffer.from(hex, 'hex');
    await step(async () => {
      await ignoring(Errno.ENOENT, () => control.deleteRule(rule));
      log.debug({ rule: describeRule(rule) }, 'audit rule removed');
    });
  }
  if (upTo.enabled && state.enabledChanged) {
    const enabled = state.enabledBefore === 1 ? 1 : 0;
    await step(async () => {
      await control.setEnabled(enabled);
      log.debug({ enabled }, 'audit enabled flag restored');
    });
  }
  const backlog = state.backlogBefore;
  if (upTo.backlog && backlog !== undefined) {
    await step(async () => {
      await control.setBacklogLimit(backlog.limit);
      if (backlog.waitTime !== undefined) await control.setBacklogWaitTime(backlog.waitTime);
      log.debug({ backlogLimit: backlog.limit, backlogWaitTime: backlog.waitTime }, 'audit backlog settings restored');
    });
  }
  if (upTo.registered && state.registered) {
    await step(async () => {
      if ((await control.status()).pid !== state.pid) return;
      await control.clearDaemon();
      log.debug({ pid: state.pid }, 'unregistered as the audit daemon');
    });
  }
  if (errors.length > 0) throw errors[0];
}

/** A rule as an auditctl-like line (hex when it does not decode), for logs. */
export function describeRule(rule: Buffer): string {
  const r = decodeAuditRule(rule);
  return r === undefined ? rule.toString('hex') : formatAuditRule(r);
}

/**
 * Undoes what a dead process recorded in `stateFile` and removes the file; `{ recovered: false }`
 * when there is no state, it is `inUse` here, or its owner still runs.
 */
export async function recoverWith(
  control: AuditControl,
  stateFile: string,
  log: NativeLogger,
  inUse: (stateFile: string) => boolean,
): Promise<{ recovered: boolean }> {
  const state = readAuditState(stateFile);
  if (!state || inUse(stateFile) || stateOwnerAlive(state)) return { recovered: false };
  log.warn(
    { stateFile, previousPid: state.pid, since: state.createdAt },
    `audit state left by a previous run (pid ${state.pid}); restoring it`,
  );
  await undo(control, state, ALL_DONE, log);
  removeAuditState(stateFile);
  return { recovered: true };
}
