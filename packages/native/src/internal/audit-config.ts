/**
 * Changing the audit configuration over NETLINK_AUDIT, for the exec monitor only: the enabled flag,
 * the audit daemon pid and adding/deleting rules. Each call opens its own short-lived socket, waits
 * for the kernel's acknowledgement and throws NativeError (with errno) on refusal. It never decides
 * what to change; the monitor does, after recording it in the state file.
 */
import { Audit, Netlink } from './constants.ts';
import { netlinkRequest } from './netlink.ts';
import { AuditStatus } from './structs.ts';

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
