/**
 * `run --user NAME` (`privileges.user`): once start-up has settled (every source has opened its
 * kernel handles, every sink its files and sockets), hands the data directory to the user and drops
 * the process from root to that user, keeping only the capabilities the running sources say they
 * still need (their `privileges()`), in the main thread and in every worker thread; Node's and libuv's
 * own threads keep none. The checks that need no start-up (root, a known user) run before anything
 * starts, so a mistake stops the command at once.
 */
import { lchownSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Collector, LinuxCapabilityName, Logger } from '@daemoneye/core';
import {
  type CapabilityName,
  dropPrivileges,
  isCapabilityName,
  type PrivilegeDropReport,
  resolveUser,
} from '@daemoneye/native';
import { cliErrors } from './errors.ts';

/** Checks that `user` can be dropped to: the process runs as root on Linux and the user exists. */
export function checkPrivilegeDrop(user: string): { name: string; uid: number; gid: number } {
  if (process.platform !== 'linux')
    throw cliErrors.error('ERR_CLI_PRIVILEGES', `--user needs Linux (this is ${process.platform})`);
  if (process.geteuid?.() !== 0)
    throw cliErrors.error(
      'ERR_CLI_PRIVILEGES',
      `--user ${user} needs the collector to start as root (it runs as uid ${process.geteuid?.()}); start it as root, or leave --user out`,
    );
  try {
    return resolveUser(user);
  } catch (e) {
    throw cliErrors.error('ERR_CLI_PRIVILEGES', `--user ${user}: ${(e as Error).message}`, { cause: e });
  }
}

/** The union of what the collector's sources still need, by name, sorted. */
export function neededCapabilities(collector: Collector): CapabilityName[] {
  const out = new Set<CapabilityName>();
  for (const s of collector.sources()) {
    const caps: readonly LinuxCapabilityName[] = s.privileges?.() ?? [];
    for (const c of caps) if (isCapabilityName(c)) out.add(c);
  }
  return [...out].sort();
}

/** Gives `dir` and everything under it (not following links) to `uid`:`gid`. */
function chownTree(dir: string, uid: number, gid: number): void {
  const st = lstatSync(dir, { throwIfNoEntry: false });
  if (st === undefined) return;
  lchownSync(dir, uid, gid);
  if (!st.isDirectory()) return;
  for (const name of readdirSync(dir)) chownTree(join(dir, name), uid, gid);
}

async function settled(collector: Collector, boundMs: number, signal: AbortSignal): Promise<boolean> {
  const until = Date.now() + boundMs;
  while (!collector.startupSettled()) {
    if (signal.aborted || collector.stats().state !== 'running') return false;
    if (Date.now() >= until) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

/**
 * Waits for start-up to settle (at most `boundMs`), gives `dataDir` to the user and drops. Resolves
 * with the report, or `undefined` when the collector stopped first; throws `ERR_CLI_PRIVILEGES` when
 * the drop fails.
 */
export async function dropAfterStartup(
  collector: Collector,
  user: string,
  options: {
    readonly dataDir: string | undefined;
    readonly logger: Logger;
    readonly boundMs: number;
    readonly signal: AbortSignal;
  },
): Promise<PrivilegeDropReport | undefined> {
  if (!(await settled(collector, options.boundMs, options.signal))) return undefined;
  const target = resolveUser(user);
  const keep = neededCapabilities(collector);
  try {
    if (options.dataDir !== undefined) chownTree(options.dataDir, target.uid, target.gid);
    const report = await dropPrivileges({ user, keep });
    options.logger.info(
      { privileges: report },
      `running as ${report.user} (uid ${report.uid}, gid ${report.gid}) with ${report.kept.join(', ') || 'no capabilities'}`,
    );
    for (const w of report.failedWorkers)
      options.logger.warn({ worker: w }, 'a worker thread did not keep its capabilities; it runs with none');
    return report;
  } catch (e) {
    throw cliErrors.error('ERR_CLI_PRIVILEGES', `could not drop to ${user}: ${(e as Error).message}`, { cause: e });
  }
}
