/**
 * The audit guardian: a small process the audit exec monitor starts beside itself once it has
 * recorded what it will change. Its standard input is a pipe whose write end only the monitor's
 * process holds, so the pipe ends the moment that process dies, by any cause (SIGKILL, the OOM
 * killer, a crash) or closes the monitor. Then, unless the monitor already restored everything and
 * removed its state file, the guardian waits for the owner to be gone (a zombie counts as gone) and
 * restores the audit state the file records — rules, enabled flag, backlog settings, daemon pid —
 * with an audit control it opened at start, so the restore takes milliseconds. It logs JSON lines to
 * standard error. Run as a program (`node audit-guardian.js <state-file> <owner-pid>`), never imported.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { NativeLogger } from '../native-logger.ts';
import { openAuditControl } from './audit-config.ts';
import { readAuditState, stateOwnerAlive } from './audit-state.ts';
import { recoverWith } from './audit-undo.ts';

/** How long the guardian waits for an owner that closed the pipe to exit or remove its state. */
const OWNER_EXIT_WAIT_MS = 10_000;

const [stateFile, ownerText] = process.argv.slice(2);
const owner = Number(ownerText);

function line(level: string, obj: object, msg: string): void {
  process.stderr.write(
    `${JSON.stringify({ level, time: Date.now(), name: 'daemoneye-audit-guardian', pid: process.pid, ...obj, msg })}\n`,
  );
}

const log: NativeLogger = {
  debug: () => {},
  info: (o, m) => line('info', o, m),
  warn: (o, m) => line('warn', o, m),
  error: (o, m) => line('error', o, m),
};

async function watch(): Promise<void> {
  if (stateFile === undefined || !Number.isInteger(owner) || owner <= 0) {
    log.error({ argv: process.argv.slice(2) }, 'usage: audit-guardian <state-file> <owner-pid>');
    process.exitCode = 2;
    return;
  }
  const control = await openAuditControl();
  process.stdout.write('ready\n');
  const ended = new Promise<void>((resolve) => {
    process.stdin.on('data', () => {});
    process.stdin.once('end', () => resolve());
    process.stdin.once('error', () => resolve());
    process.stdin.once('close', () => resolve());
  });
  process.stdin.resume();
  await ended;
  try {
    const deadline = Date.now() + OWNER_EXIT_WAIT_MS;
    for (;;) {
      const state = readAuditState(stateFile);
      // Removed by a clean close, or now another run's: nothing of our owner's is left.
      if (state === undefined || state.pid !== owner) return;
      if (!stateOwnerAlive(state)) {
        log.warn({ ownerPid: owner, stateFile }, `audit exec monitor (pid ${owner}) died; restoring the audit state`);
        await recoverWith(control, stateFile, log, () => false);
        log.info({ ownerPid: owner, stateFile }, 'audit state restored');
        return;
      }
      if (Date.now() > deadline) {
        log.warn({ ownerPid: owner, stateFile }, 'owner closed the guardian pipe but still runs; leaving its state');
        return;
      }
      await sleep(5);
    }
  } finally {
    await control.close();
  }
}

watch().then(
  () => process.exit(),
  (e: unknown) => {
    log.error({ err: e instanceof Error ? e.message : String(e) }, 'audit guardian failed');
    process.exit(1);
  },
);
