/**
 * Groups audit records into events by serial and turns finished exec events into
 * `AuditExecRecord`s. An event is finished at its EOE record. Only the record types an exec event
 * contributes (SYSCALL, EXECVE, CWD, PATH, PROCTITLE) are kept, in a bounded map (oldest events are
 * evicted and counted). Pure: no system calls.
 */

import { type AuditExecRecord, type AuditRecord, decodeAuditString, decodeExecveArgs } from '../audit-record.ts';
import { Audit, ExecSyscalls } from './constants.ts';

const KEPT = new Set<number>([
  Audit.AUDIT_SYSCALL,
  Audit.AUDIT_EXECVE,
  Audit.AUDIT_CWD,
  Audit.AUDIT_PATH,
  Audit.AUDIT_PROCTITLE,
]);

/** Options for {@link createAuditAssembler}. */
export interface AuditAssemblerOptions {
  /** Events with this rule key are exec events even when the syscall number is not recognised. */
  readonly key?: string;
  /** Unfinished events held at most (default 4096). */
  readonly maxPending?: number;
}

/** Feeds records in, gets finished exec records out. */
export interface AuditAssembler {
  /** Adds a record; returns the exec record when it finished one. */
  push(record: AuditRecord): AuditExecRecord | undefined;
  /** Unfinished events evicted because the pending map was full. */
  evicted(): number;
  /** Unfinished events currently held. */
  pending(): number;
}

function num(r: AuditRecord, name: string): number {
  const v = Number(r.fields.get(name));
  return Number.isFinite(v) ? v : -1;
}

/** Builds the exec record of a finished event, or undefined when it is not an exec event. */
export function buildExecRecord(records: readonly AuditRecord[], key?: string): AuditExecRecord | undefined {
  const sc = records.find((r) => r.type === Audit.AUDIT_SYSCALL);
  if (!sc) return undefined;
  const arch = Number.parseInt(sc.fields.get('arch') ?? '', 16);
  const syscall = num(sc, 'syscall');
  const ruleKey = decodeAuditString(sc.fields.get('key'));
  const isExec = (ExecSyscalls[arch] ?? []).includes(syscall) || (key !== undefined && ruleKey === key);
  if (!isExec) return undefined;
  const exit = Number(sc.fields.get('exit'));
  const rec: AuditExecRecord = {
    serial: sc.serial,
    timestampMs: sc.timestampMs,
    pid: num(sc, 'pid'),
    ppid: num(sc, 'ppid'),
    uid: num(sc, 'uid'),
    euid: num(sc, 'euid'),
    gid: num(sc, 'gid'),
    auid: num(sc, 'auid'),
    argv: decodeExecveArgs(records.filter((r) => r.type === Audit.AUDIT_EXECVE)),
    success: sc.fields.get('success') === 'yes',
  };
  const exe = decodeAuditString(sc.fields.get('exe'));
  const comm = decodeAuditString(sc.fields.get('comm'));
  const cwdRec = records.find((r) => r.type === Audit.AUDIT_CWD);
  const cwd = cwdRec ? decodeAuditString(cwdRec.fields.get('cwd')) : undefined;
  if (exe !== undefined) rec.exe = exe;
  if (comm !== undefined) rec.comm = comm;
  if (cwd !== undefined) rec.cwd = cwd;
  if (Number.isFinite(exit)) rec.exitCode = exit;
  if (ruleKey !== undefined) rec.key = ruleKey;
  return rec;
}

/** Creates an assembler with an empty pending map. */
export function createAuditAssembler(opts: AuditAssemblerOptions = {}): AuditAssembler {
  const maxPending = opts.maxPending ?? 4096;
  const pending = new Map<number, AuditRecord[]>();
  let evicted = 0;
  return {
    push(record) {
      if (record.type === Audit.AUDIT_EOE) {
        const records = pending.get(record.serial);
        pending.delete(record.serial);
        return records ? buildExecRecord(records, opts.key) : undefined;
      }
      if (!KEPT.has(record.type)) return undefined;
      const list = pending.get(record.serial);
      if (list) list.push(record);
      else {
        if (pending.size >= maxPending) {
          const oldest = pending.keys().next().value;
          if (oldest !== undefined) pending.delete(oldest);
          evicted++;
        }
        pending.set(record.serial, [record]);
      }
      return undefined;
    },
    evicted: () => evicted,
    pending: () => pending.size,
  };
}
