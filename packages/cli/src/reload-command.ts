/**
 * `daemoneye-collector reload`: finds the running collector through the pid file in its data
 * directory, sends it SIGHUP, and waits for the outcome it writes to `reload.json` — then prints what
 * was restarted, started, stopped and kept, or the reason the new configuration was refused. Exit
 * codes: 0 when the reload was applied, 1 when it was refused or no collector answered.
 */
import type { LoadedConfig } from '@daemoneye/core';
import { cliErrors } from './errors.ts';
import type { CommandIo } from './main.ts';
import { type ReloadOutcome, readPid, readReloadOutcome } from './operations.ts';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

function describe(o: ReloadOutcome): string {
  if (!o.ok) return `reload refused: ${o.reason ?? 'unknown reason'}; the running configuration stays\n`;
  const r = o.report;
  if (r === undefined) return 'configuration reloaded\n';
  const list = (xs: readonly string[]): string => (xs.length === 0 ? 'none' : xs.join(', '));
  let text = `configuration reloaded: restarted ${list(r.restarted)}; started ${list(r.started)}; stopped ${list(r.stopped)}; unchanged ${list(r.unchanged)}`;
  if (r.command.length > 0) text += `; applied [${r.command.join('], [')}]`;
  text += '\n';
  if (r.needsRestart.length > 0)
    text += `these settings take effect only after a restart: ${r.needsRestart.join(', ')}\n`;
  return text;
}

/** Runs `reload` with the loaded configuration (for its data directory); resolves with the exit code. */
export async function runReloadCommand(loaded: LoadedConfig, io: CommandIo, timeoutMs = 30_000): Promise<number> {
  const dataDir = loaded.get('data_dir');
  if (typeof dataDir !== 'string')
    throw cliErrors.error('ERR_CLI_USAGE', 'reload needs data_dir to find the collector');
  const pid = readPid(dataDir);
  if (pid === undefined || !alive(pid)) {
    throw cliErrors.error(
      'ERR_CLI_NOT_RUNNING',
      `no running collector has its pid file in ${dataDir}${pid === undefined ? '' : ` (pid ${pid} is gone)`}`,
    );
  }
  const before = readReloadOutcome(dataDir);
  const isNew = (o: ReloadOutcome | undefined): o is ReloadOutcome =>
    o !== undefined && o.pid === pid && (before?.pid !== pid || o.generation > before.generation);
  process.kill(pid, 'SIGHUP');
  const end = Date.now() + timeoutMs;
  for (;;) {
    const o = readReloadOutcome(dataDir);
    if (isNew(o)) {
      (o.ok ? io.stdout : io.stderr).write(describe(o));
      return o.ok ? 0 : 1;
    }
    if (Date.now() > end || !alive(pid)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw cliErrors.error('ERR_CLI_NOT_RUNNING', `collector ${pid} did not report a reload within ${timeoutMs} ms`);
}
