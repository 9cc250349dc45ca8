/**
 * Starting the audit guardian (see `audit-guardian.ts`) from the monitor's process: a detached child
 * (its own session, so a signal to the collector's process group does not take it too) whose
 * standard input is a pipe only this process writes to. `release` closes that pipe after a clean
 * restore; the death of this process closes it too, which is what the guardian waits for.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NativeError } from '../native-error.ts';
import { workerScriptUrl } from './reader-host.ts';

/** A running guardian. */
export interface AuditGuardian {
  readonly pid: number;
  /** Closes the pipe: the guardian exits, restoring only what a state file still records. Idempotent. */
  release(): void;
}

/** How long the guardian may take to open its audit control and say `ready`. */
const READY_TIMEOUT_MS = 5000;

/** Starts a guardian for `stateFile`; rejects with `ERR_NATIVE_UNAVAILABLE` when it does not come up. */
export function startAuditGuardian(stateFile: string): Promise<AuditGuardian> {
  const script = fileURLToPath(workerScriptUrl('audit-guardian'));
  const child = spawn(process.execPath, [script, stateFile, String(process.pid)], {
    detached: true,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise<AuditGuardian>((resolve, reject) => {
    let out = '';
    const fail = (why: string): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new NativeError('ERR_NATIVE_UNAVAILABLE', `audit guardian did not start: ${why}`));
    };
    const timer = setTimeout(() => fail(`no ready within ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
    child.once('error', (e) => fail(e.message));
    child.once('exit', (code, signal) => fail(`exited (${signal ?? code})`));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.includes('ready\n')) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.removeAllListeners('error');
      child.on('error', () => {});
      child.stdout?.destroy();
      child.stdin?.on('error', () => {});
      // Neither the pipe nor the child keeps this process's event loop alive.
      (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
      child.unref();
      let released = false;
      resolve({
        pid: child.pid ?? -1,
        release: () => {
          if (released) return;
          released = true;
          child.stdin?.destroy();
        },
      });
    });
  });
}
