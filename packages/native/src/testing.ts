/**
 * `@daemoneye/native/testing`: for tests that run a collector beside a real audit daemon, as on most
 * hardened servers. Starts Debian's `auditd` in the foreground with a configuration of its own (logs
 * in the given directory, nothing else of the host's changed), waits until the kernel names it the
 * audit daemon, and stops it by its pid (needs root and the `auditd` binary, Debian: auditd). Also
 * builds audit exec records for tests of code that consumes them. Not loaded by the package's main
 * entry.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readAuditStatus } from './audit-control.ts';
import type { AuditExecRecord } from './audit-record.ts';

/**
 * An audit exec record as the monitor emits one for a successful execve by root: serial = pid,
 * parent 1, uid/euid/gid 0, no login uid, argv `/bin/true`; `fields` overrides any of it.
 */
export function auditExecRecord(fields: Partial<AuditExecRecord> & { readonly pid: number }): AuditExecRecord {
  return {
    serial: fields.pid,
    timestampMs: 1,
    ppid: 1,
    uid: 0,
    euid: 0,
    gid: 0,
    auid: 4294967295,
    argv: ['/bin/true'],
    success: true,
    ...fields,
  };
}

/** The auditd binary of this host, or undefined when it is not installed. */
export const AUDITD_PATH: string | undefined = ['/sbin/auditd', '/usr/sbin/auditd'].find((p) => existsSync(p));

/** A running auditd started by {@link startTestAuditd}. */
export interface TestAuditd {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Its log file (every record it received). */
  readonly logFile: string;
  /** Sends SIGTERM and resolves once it has exited (it unregisters from the kernel on the way out). */
  stop(): Promise<void>;
}

/**
 * Starts auditd (`-n -s enable`) with the host's auditd.conf, its log file moved into `dir` (or, with
 * `writeLogs: false`, no log written at all: for timing tests, where the log's disk writes are noise);
 * resolves once the kernel's audit status names it as the daemon (10 s at most, else it is stopped and
 * this rejects).
 */
export async function startTestAuditd(
  dir: string,
  options: { readonly writeLogs?: boolean } = {},
): Promise<TestAuditd> {
  if (AUDITD_PATH === undefined) throw new Error('auditd is not installed (apt-get install auditd)');
  const logFile = join(dir, 'audit.log');
  const conf = readFileSync('/etc/audit/auditd.conf', 'utf8')
    .replace(/^log_file\s*=.*$/m, `log_file = ${logFile}`)
    .replace(/^write_logs\s*=.*$/m, `write_logs = ${options.writeLogs === false ? 'no' : 'yes'}`);
  writeFileSync(join(dir, 'auditd.conf'), conf, { mode: 0o640 });
  const child = spawn(AUDITD_PATH, ['-n', '-s', 'enable', '-c', dir], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const end = Date.now() + 10_000;
  while (Date.now() < end && child.exitCode === null) {
    if ((await readAuditStatus()).pid === child.pid) return { pid: child.pid, child, logFile, stop };
    await sleep(50);
  }
  await stop();
  throw new Error(`auditd did not register as the audit daemon (exit ${child.exitCode})`);
}
