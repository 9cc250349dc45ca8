/**
 * Synchronous audit configuration over NETLINK_AUDIT: reading the status (AUDIT_GET), listing rules,
 * and the internal setters the exec monitor uses (enable flag, daemon pid, add/delete rule). Each
 * call opens its own short-lived socket and needs CAP_AUDIT_CONTROL; failures throw NativeError.
 * It does not read audit records: that is the monitor's worker.
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

/** The raw struct audit_rule_data of every current rule, in kernel order (used to delete rules exactly). */
export function readAuditRuleData(): Buffer[] {
  const replies = netlinkRequest({
    protocol: Netlink.NETLINK_AUDIT,
    type: Audit.AUDIT_LIST_RULES,
    payload: Buffer.alloc(0),
    until: 'done',
  });
  return replies.filter((m) => m.type === Audit.AUDIT_LIST_RULES).map((m) => m.payload);
}

/**
 * The current audit rules as auditctl-like lines (`-a always,exit -F arch=b64 -S 59,322 -F key=k`),
 * in kernel order. Equal arrays mean equal rule sets. Throws like {@link readAuditStatus}.
 */
export function listAuditRules(): string[] {
  return readAuditRules().map(formatAuditRule);
}

function setStatus(mask: number, fields: { enabled?: number; pid?: number }): void {
  const s = Buffer.alloc(AuditStatus.SIZE);
  s.writeUInt32LE(mask, AuditStatus.MASK);
  s.writeUInt32LE(fields.enabled ?? 0, AuditStatus.ENABLED);
  s.writeUInt32LE(fields.pid ?? 0, AuditStatus.PID);
  netlinkRequest({ protocol: Netlink.NETLINK_AUDIT, type: Audit.AUDIT_SET, payload: s, until: 'ack' });
}

/** Sets the audit enabled flag (0 or 1). Throws NativeError on failure (EPERM when locked). */
export function setAuditEnabled(enabled: 0 | 1): void {
  setStatus(Audit.AUDIT_STATUS_ENABLED, { enabled });
}

/** Unregisters the audit daemon (pid 0). Only the registered process (or anyone, when it is gone) may. */
export function clearAuditDaemon(): void {
  setStatus(Audit.AUDIT_STATUS_PID, { pid: 0 });
}

/** Encodes the AUDIT_SET payload that registers `pid` as the audit daemon (sent on the reading socket). */
export function encodeRegisterDaemon(pid: number): Buffer {
  const s = Buffer.alloc(AuditStatus.SIZE);
  s.writeUInt32LE(Audit.AUDIT_STATUS_PID, AuditStatus.MASK);
  s.writeUInt32LE(pid, AuditStatus.PID);
  return s;
}

/** Adds a rule (struct audit_rule_data). Throws NativeError; errno EEXIST when an identical rule exists. */
export function addAuditRule(rule: Buffer): void {
  netlinkRequest({ protocol: Netlink.NETLINK_AUDIT, type: Audit.AUDIT_ADD_RULE, payload: rule, until: 'ack' });
}

/** Deletes the rule identical to `rule`. Throws NativeError; errno ENOENT when no such rule exists. */
export function deleteAuditRule(rule: Buffer): void {
  netlinkRequest({ protocol: Netlink.NETLINK_AUDIT, type: Audit.AUDIT_DEL_RULE, payload: rule, until: 'ack' });
}
