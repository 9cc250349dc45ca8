/**
 * Talking to the kernel's audit configuration over NETLINK_AUDIT through a request worker, so no
 * request waits on the main thread: reading the status and the rules, setting the enabled flag,
 * unregistering the audit daemon, setting the backlog limit and wait time, adding and deleting rules. Each call waits for the kernel's
 * answer and rejects with NativeError (with errno) on refusal. It never decides what to change; the
 * monitor does, after recording it in the state file.
 */
import type { AuditStatusInfo } from '../audit-control.ts';
import { NativeError } from '../native-error.ts';
import { type AuditRule, decodeAuditRule } from './audit-rule.ts';
import { Audit, Netlink } from './constants.ts';
import type { NlMessage } from './netlink.ts';
import { type ReaderHost, startReader } from './reader-host.ts';
import { AuditStatus } from './structs.ts';
import type { WorkerRequest } from './worker-protocol.ts';

/** The audit configuration, read and changed through one request worker. */
export interface AuditControl {
  /** The status (AUDIT_GET). */
  status(): Promise<AuditStatusInfo>;
  /** The rules, decoded (AUDIT_LIST_RULES). */
  rules(): Promise<AuditRule[]>;
  /** Sets the enabled flag (0 or 1); EPERM when locked. */
  setEnabled(enabled: 0 | 1): Promise<void>;
  /** Sets `backlog_limit` (records queued for the daemon at most). */
  setBacklogLimit(limit: number): Promise<void>;
  /** Sets `backlog_wait_time` (jiffies a process waits when the backlog is full; 0: never, the record is dropped and counted lost). */
  setBacklogWaitTime(jiffies: number): Promise<void>;
  /** Unregisters the audit daemon (pid 0). Only the registered process (or anyone, when it is gone) may. */
  clearDaemon(): Promise<void>;
  /** Adds a rule (struct audit_rule_data); errno EEXIST when an identical rule exists. */
  addRule(rule: Buffer): Promise<void>;
  /** Deletes the rule identical to `rule`; errno ENOENT when no such rule exists. */
  deleteRule(rule: Buffer): Promise<void>;
  /** Ends the worker; requests still pending reject with `ERR_NATIVE_ABORTED`. Idempotent. */
  close(): Promise<void>;
}

/** Decodes an AUDIT_GET reply payload. */
export function decodeAuditStatus(p: Buffer): AuditStatusInfo | undefined {
  if (p.length < AuditStatus.BACKLOG + 4) return undefined;
  const info = {
    enabled: p.readUInt32LE(AuditStatus.ENABLED),
    failure: p.readUInt32LE(AuditStatus.FAILURE),
    pid: p.readUInt32LE(AuditStatus.PID),
    backlogLimit: p.readUInt32LE(AuditStatus.BACKLOG_LIMIT),
    lost: p.readUInt32LE(AuditStatus.LOST),
    backlog: p.readUInt32LE(AuditStatus.BACKLOG),
  };
  if (p.length < AuditStatus.BACKLOG_WAIT_TIME + 4) return info;
  const backlogWaitTime = p.readUInt32LE(AuditStatus.BACKLOG_WAIT_TIME);
  return p.length >= AuditStatus.BACKLOG_WAIT_TIME_ACTUAL + 4
    ? { ...info, backlogWaitTime, backlogWaitTimeActual: p.readUInt32LE(AuditStatus.BACKLOG_WAIT_TIME_ACTUAL) }
    : { ...info, backlogWaitTime };
}

function statusPayload(
  mask: number,
  fields: { enabled?: number; pid?: number; backlogLimit?: number; backlogWaitTime?: number },
): Buffer {
  const s = Buffer.alloc(AuditStatus.SIZE);
  s.writeUInt32LE(mask, AuditStatus.MASK);
  s.writeUInt32LE(fields.enabled ?? 0, AuditStatus.ENABLED);
  s.writeUInt32LE(fields.pid ?? 0, AuditStatus.PID);
  s.writeUInt32LE(fields.backlogLimit ?? 0, AuditStatus.BACKLOG_LIMIT);
  s.writeUInt32LE(fields.backlogWaitTime ?? 0, AuditStatus.BACKLOG_WAIT_TIME);
  return s;
}

/** Encodes the AUDIT_SET payload that registers `pid` as the audit daemon (sent on the reading socket). */
export function encodeRegisterDaemon(pid: number): Buffer {
  return statusPayload(Audit.AUDIT_STATUS_PID, { pid });
}

/** Wraps a request host as an {@link AuditControl}. */
function controlOver(host: ReaderHost<never>): AuditControl {
  const request = async (type: number, payload: Buffer, until: 'ack' | 'done' | 'reply'): Promise<NlMessage[]> => {
    const req: WorkerRequest = { kind: 'netlink', protocol: Netlink.NETLINK_AUDIT, type, payload, until };
    const replies =
      await host.request<{ type: number; flags: number; seq: number; pid: number; payload: Uint8Array }[]>(req);
    return replies.map((m) => ({
      ...m,
      payload: Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength),
    }));
  };
  const ack = async (type: number, payload: Buffer): Promise<void> => {
    await request(type, payload, 'ack');
  };
  return {
    async status() {
      const replies = await request(Audit.AUDIT_GET, Buffer.alloc(0), 'reply');
      const m = replies.find((r) => r.type === Audit.AUDIT_GET);
      const s = m === undefined ? undefined : decodeAuditStatus(m.payload);
      if (s === undefined) throw new NativeError('ERR_NETLINK_PROTOCOL', 'AUDIT_GET: no or short status reply');
      return s;
    },
    async rules() {
      const rules: AuditRule[] = [];
      for (const m of await request(Audit.AUDIT_LIST_RULES, Buffer.alloc(0), 'done')) {
        if (m.type !== Audit.AUDIT_LIST_RULES) continue;
        const r = decodeAuditRule(m.payload);
        if (!r)
          throw new NativeError('ERR_NETLINK_PROTOCOL', `AUDIT_LIST_RULES: truncated rule (${m.payload.length} bytes)`);
        rules.push(r);
      }
      return rules;
    },
    setEnabled: (enabled) => ack(Audit.AUDIT_SET, statusPayload(Audit.AUDIT_STATUS_ENABLED, { enabled })),
    setBacklogLimit: (backlogLimit) =>
      ack(Audit.AUDIT_SET, statusPayload(Audit.AUDIT_STATUS_BACKLOG_LIMIT, { backlogLimit })),
    setBacklogWaitTime: (backlogWaitTime) =>
      ack(Audit.AUDIT_SET, statusPayload(Audit.AUDIT_STATUS_BACKLOG_WAIT_TIME, { backlogWaitTime })),
    clearDaemon: () => ack(Audit.AUDIT_SET, statusPayload(Audit.AUDIT_STATUS_PID, { pid: 0 })),
    addRule: (rule) => ack(Audit.AUDIT_ADD_RULE, rule),
    deleteRule: (rule) => ack(Audit.AUDIT_DEL_RULE, rule),
    close: () => host.close(),
  };
}

/**
 * Starts a request worker for audit configuration calls. Rejects with NativeError
 * `ERR_NATIVE_UNAVAILABLE` when the worker cannot start (off Linux, no FFI), `ERR_NATIVE_ABORTED`
 * when `signal` aborts first.
 */
export async function openAuditControl(signal?: AbortSignal): Promise<AuditControl> {
  return controlOver(await startReader<never>('request-worker', {}, { signal }));
}

/** Runs `fn` with a short-lived {@link AuditControl}, closed afterwards whatever happens. */
export async function withAuditControl<R>(fn: (control: AuditControl) => Promise<R>): Promise<R> {
  const control = await openAuditControl();
  try {
    return await fn(control);
  } finally {
    await control.close();
  }
}
