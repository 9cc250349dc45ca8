/**
 * `daemoneye-collector audit restore`: undoes by hand what a collector that died recorded in the
 * audit state file (the exec rules it added, the enabled flag, the backlog settings and the daemon
 * pid it found) — what the audit guardian does on its own within a second of such a death, for the
 * case where the guardian could not run either. It refuses while the collector that wrote the file
 * still runs, and says so. It reads nothing else and changes nothing else.
 */
import { describeError } from '@daemoneye/core';
import type { NativeLogger } from '@daemoneye/native';
import { cliErrors } from './errors.ts';

/** Where `audit restore` writes. */
export interface AuditCommandIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** Runs `audit <action>`; resolves with the exit code (0 restored or nothing to do, 1 refused or failed). */
export async function runAuditCommand(
  action: string | undefined,
  stateFile: string | undefined,
  io: AuditCommandIo,
): Promise<number> {
  if (action !== 'restore')
    throw cliErrors.error(
      'ERR_CLI_USAGE',
      `audit needs an action: "audit restore" (got ${JSON.stringify(action ?? '')})`,
    );
  const native = await import('@daemoneye/native');
  const file = stateFile ?? native.DEFAULT_AUDIT_STATE_FILE;
  const quiet = (): void => {};
  const log: NativeLogger = { debug: quiet, info: quiet, warn: quiet, error: quiet };
  try {
    const r = await native.recoverAuditState(file, log);
    if (r.recovered) {
      io.stdout.write(
        `restored the audit state left by pid ${r.previousPid}: its exec rules removed; enabled flag, backlog settings and daemon pid as it found them (${file})\n`,
      );
      return 0;
    }
    if (r.ownerRunning === true) {
      io.stderr.write(
        `daemoneye-collector: the audit state in ${file} belongs to a collector that is still running (pid ${r.previousPid}); it restores the state itself when it stops\n`,
      );
      return 1;
    }
    io.stdout.write(`no audit state to restore (${file} does not exist)\n`);
    return 0;
  } catch (e) {
    io.stderr.write(`daemoneye-collector: restoring the audit state from ${file} failed: ${describeError(e)}\n`);
    return 1;
  }
}
