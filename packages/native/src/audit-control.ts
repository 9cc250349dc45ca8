/**
 * Reading the audit configuration over NETLINK_AUDIT: the status (AUDIT_GET) and the rule list
 * (AUDIT_LIST_RULES). Each call runs in a short-lived request worker (the request may wait up to
 * 2 s for the kernel, never on the calling thread) and needs CAP_AUDIT_CONTROL; failures reject with
 * NativeError. Changing the configuration is `internal/audit-config.ts`; reading audit records is
 * the monitor's worker.
 */

import { withAuditControl } from './internal/audit-config.ts';
import { formatAuditRule } from './internal/audit-rule.ts';
import { NativeError } from './native-error.ts';

/** The audit subsystem status (a subset of struct audit_status). */
export interface AuditStatusInfo {
  /** 0 off, 1 on, 2 on and locked (immutable until reboot). */
  readonly enabled: number;
  /** Failure mode: 0 silent, 1 printk, 2 panic. */
  readonly failure: number;
  /** The registered audit daemon's pid, 0 when none. */
  readonly pid: number;
  /** Records the kernel queues for the daemon at most (`backlog_limit`). */
  readonly backlogLimit: number;
  /** How long (jiffies) an exec waits when the backlog is full (`backlog_wait_time`); absent on old kernels. */
  readonly backlogWaitTime?: number;
  /**
   * Jiffies processes have spent waiting on a full backlog, in all (`backlog_wait_time_actual`, kernel
   * 5.9 and later; absent before): what a stalled audit daemon cost the host.
   */
  readonly backlogWaitTimeActual?: number;
  /** Records lost since boot (backlog overflow, rate limit, no daemon). */
  readonly lost: number;
  /** Records waiting in the kernel queue. */
  readonly backlog: number;
}

function requireLinux(): void {
  if (process.platform !== 'linux')
    throw new NativeError('ERR_NATIVE_UNAVAILABLE', `audit needs Linux (platform is ${process.platform})`);
}

/**
 * Reads the audit status (AUDIT_GET) in a worker thread. Rejects with NativeError:
 * `ERR_NATIVE_UNAVAILABLE` off Linux, `ERR_NATIVE_CALL` with errno EPERM without CAP_AUDIT_CONTROL,
 * `ERR_NETLINK_PROTOCOL` on a bad or missing reply.
 */
export async function readAuditStatus(): Promise<AuditStatusInfo> {
  requireLinux();
  return withAuditControl((c) => c.status());
}

/**
 * The current audit rules as auditctl-like lines (`-a always,exit -F arch=b64 -S 59,322 -F key=k`),
 * in kernel order, read in a worker thread. Equal arrays mean equal rule sets. Rejects like
 * {@link readAuditStatus}.
 */
export async function listAuditRules(): Promise<string[]> {
  requireLinux();
  return withAuditControl(async (c) => (await c.rules()).map(formatAuditRule));
}
