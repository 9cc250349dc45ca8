/**
 * Reading the audit configuration over NETLINK_AUDIT: the status (AUDIT_GET) and the rule list
 * (AUDIT_LIST_RULES). Each call opens its own short-lived socket and needs CAP_AUDIT_CONTROL;
 * failures throw NativeError. Changing the configuration is `internal/audit-config.ts`; reading
 * audit records is the monitor's worker.
 */

import { type AuditRule, decodeAuditRule, formatAuditRule } from './internal/audit-rule.ts';
import { Audit, Netlink } from './internal/constants.ts';
import { netlinkRequest } from './internal/netlink.ts';
import { AuditStatus } from './internal/structs.ts';
import { NativeError } from './native-error.ts';

/** The audit subsystem status (a subset of struct audit_status). */
export interface AuditStatusInfo {
  /** 0 off, 1 on, 2 on and locked (immutable until reboot). */
  readonly enabled: number;
  /** Failure mode: 0 silent, 1 printk, 2 panic. */
  readonly failure: number;
  /** The registered audit daemon's pid, 0 when none. */
  readonly pid: number;
  /** Records lost since boot (backlog overflow, rate limit, no daemon). */
  readonly lost: number;
  /** Records waiting in the kernel queue. */
  readonly backlog: number;
}

/**
 * Reads the audit status (AUDIT_GET). Throws NativeError: `ERR_NATIVE_UNAVAILABLE` off Linux,
 * `ERR_NATIVE_CALL` with errno EPERM without CAP_AUDIT_CONTROL, `ERR_NETLINK_PROTOCOL` on a bad reply.
 */
export function readAuditStatus(): AuditStatusInfo {
  const replies = netlinkRequest({
    protocol: Netlink.NETLINK_AUDIT,
    type: Audit.AUDIT_GET,
    payload: Buffer.alloc(0),
    until: 'reply',
  });
  const m = replies.find((r) => r.type === Audit.AUDIT_GET);
  if (!m || m.payload.length < AuditStatus.BACKLOG + 4)
    throw new NativeError('ERR_NETLINK_PROTOCOL', 'AUDIT_GET: no or short status reply');
  const p = m.payload;
  return {
    enabled: p.readUInt32LE(AuditStatus.ENABLED),
    failure: p.readUInt32LE(AuditStatus.FAILURE),
    pid: p.readUInt32LE(AuditStatus.PID),
    lost: p.readUInt32LE(AuditStatus.LOST),
    backlog: p.readUInt32LE(AuditStatus.BACKLOG),
  };
}

/** The current audit rules, decoded (AUDIT_LIST_RULES). Throws like {@link readAuditStatus}. */
export function readAuditRules(): AuditRule[] {
  const replies = netlinkRequest({
    protocol: Netlink.NETLINK_AUDIT,
    type: Audit.AUDIT_LIST_RULES,
    payload: Buffer.alloc(0),
    until: 'done',
  });
  const rules: AuditRule[] = [];
  for (const m of replies) {
    if (m.type !== Audit.AUDIT_LIST_RULES) continue;
    const r = decodeAuditRule(m.payload);
    if (!r)
      throw new NativeError('ERR_NETLINK_PROTOCOL', `AUDIT_LIST_RULES: truncated rule (${m.payload.length} bytes)`);
    rules.push(r);
  }
  return rules;
}

/**
 * The current audit rules as auditctl-like lines (`-a always,exit -F arch=b64 -S 59,322 -F key=k`),
 * in kernel order. Equal arrays mean equal rule sets. Throws like {@link readAuditStatus}.
 */
export function listAuditRules(): string[] {
  return readAuditRules().map(formatAuditRule);
}
