/**
 * The audit state file: what the exec monitor changed in the kernel's audit configuration (rules
 * added, enable flag, daemon registration), written before the first change so a later run can undo
 * it after a crash. Also answers whether the process that wrote it is still alive. It does not talk
 * to the kernel's audit subsystem.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** The contents of the state file (version 1). */
export interface AuditState {
  readonly version: 1;
  /** The pid and its start time (clock ticks since boot) of the process that made the changes. */
  readonly pid: number;
  readonly startTime: string;
  readonly key: string;
  readonly mode: 'unicast' | 'multicast';
  /** The enabled flag found before the change, and whether the monitor changed it. */
  readonly enabledBefore: number;
  readonly enabledChanged: boolean;
  /** True when the monitor registered itself as the audit daemon. */
  readonly registered: boolean;
  /** The struct audit_rule_data of each rule the monitor added, hex-encoded. */
  readonly rulesAdded: readonly string[];
  /** The `backlog_limit` and `backlog_wait_time` found, when the monitor changed them (as the audit daemon only). */
  readonly backlogBefore?: { readonly limit: number; readonly waitTime?: number };
  readonly createdAt: string;
}

/** The start time of `pid` (field 22 of /proc/PID/stat), or undefined when the process is gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * True when the process that wrote `state` is still running: same pid and start time, and not a
 * zombie (a process killed with SIGKILL is a zombie until its parent reaps it, and has already let
 * go of its sockets).
 */
export function stateOwnerAlive(state: AuditState): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${state.pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return false;
  return fields[19] === state.startTime;
}

/** Reads the state file; undefined when it does not exist or is not a version-1 state. */
export function readAuditState(file: string): AuditState | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const v = JSON.parse(text) as Partial<AuditState>;
    if (v.version !== 1 || typeof v.pid !== 'number' || typeof v.key !== 'string' || !Array.isArray(v.rulesAdded))
      return undefined;
    return v as AuditState;
  } catch {
    return undefined;
  }
}

/** Writes the state file atomically (temp file + rename), creating its directory (mode 0700). */
export function writeAuditState(file: string, state: AuditState): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/** Removes the state file; a missing file is fine. */
export function removeAuditState(file: string): void {
  rmSync(file, { force: true });
}
