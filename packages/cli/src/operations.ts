/**
 * What `daemoneye-collector run` does for the operator beside collecting: the pid file in the data
 * directory (so `reload` finds the running collector), the outcome of every configuration reload in
 * `reload.json` beside it (so `reload` can say what happened), the watchdog built from `[watchdog]`,
 * and the reload itself — load the files again, apply what changed to the running collector, apply
 * the command's own sections (`[log]`, `[metrics]`, `[watchdog]`), or refuse with the reason and keep
 * the running configuration. It holds no collector logic; core's `reloadCollector` does.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Collector,
  describeError,
  type LoadedConfig,
  type Logger,
  type PluginDefinition,
  type ReloadReport,
  reloadCollector,
  type SheddingController,
  sectionOptions,
  Watchdog,
} from '@daemoneye/core';
import { commandSchema } from './schema.ts';

/** The pid file's name in the data directory. */
export const PID_FILE = 'collector.pid';
/** The reload outcome file's name in the data directory. */
export const RELOAD_FILE = 'reload.json';

/** What `reload.json` holds: one entry per reload attempt, the newest. */
export interface ReloadOutcome {
  /** Counts reload attempts of this run, from 1. */
  readonly generation: number;
  readonly pid: number;
  readonly at: string;
  readonly ok: boolean;
  /** Why the reload was refused. */
  readonly reason?: string;
  readonly report?: ReloadReport & { readonly command: readonly string[] };
}

/** Writes `content` to `path` atomically (a temporary file renamed over it). */
function writeAtomic(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o644 });
  renameSync(tmp, path);
}

/** Writes this process's pid to the data directory; returns the function that removes it again. */
export function writePidFile(dataDir: string): () => void {
  const path = join(dataDir, PID_FILE);
  writeAtomic(path, `${process.pid}\n`);
  return () => {
    if (readPid(dataDir) === process.pid) rmSync(path, { force: true });
  };
}

/** The pid in the data directory's pid file, or undefined when there is none (or it is not a number). */
export function readPid(dataDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(join(dataDir, PID_FILE), 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pid of another collector running with `dataDir`: its pid file names a live process that is a
 * `daemoneye-collector run` (its command line says so, so a pid reused by another program after a
 * crash does not count). Undefined when there is none.
 */
export function runningCollector(dataDir: string): number | undefined {
  const pid = readPid(dataDir);
  if (pid === undefined || pid === process.pid) return undefined;
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
  const script = argv.findIndex((a) => /daemoneye-collector$|[\\/]cli[\\/]dist[\\/]bin\.js$/.test(a));
  return script >= 0 && argv.slice(script + 1).includes('run') ? pid : undefined;
}

/** The newest reload outcome in the data directory, if any. */
export function readReloadOutcome(dataDir: string): ReloadOutcome | undefined {
  try {
    return JSON.parse(readFileSync(join(dataDir, RELOAD_FILE), 'utf8')) as ReloadOutcome;
  } catch {
    return undefined;
  }
}

/** Samples this process's CPU (percent of one core since the previous sample) and RSS. */
export function processSampler(): () => { cpuPercent: number; rssBytes: number } {
  let cpu = process.cpuUsage();
  let wall = performance.now();
  return () => {
    const d = process.cpuUsage(cpu);
    const now = performance.now();
    const elapsed = Math.max(1e-3, now - wall);
    cpu = process.cpuUsage();
    wall = now;
    return { cpuPercent: ((d.user + d.system) / 1000 / elapsed) * 100, rssBytes: process.memoryUsage.rss() };
  };
}

/** Builds the watchdog `[watchdog]` asks for, or undefined when it sets no budget. */
export function createWatchdog(
  loaded: LoadedConfig,
  shedding: SheddingController,
  options: { logger: Logger; onExhausted: (reason: string) => void },
): Watchdog | undefined {
  const w = sectionOptions(loaded, 'watchdog', commandSchema.watchdog);
  if (w.cpuPercent <= 0 && w.rss <= 0) return undefined;
  return new Watchdog({
    shedding,
    sample: processSampler(),
    cpuPercentBudget: w.cpuPercent,
    rssBytesBudget: w.rss,
    intervalMs: w.interval,
    overChecks: w.shedAfter,
    underChecks: w.restoreAfter,
    exitChecks: w.exitAfter,
    onExhausted: options.onExhausted,
    logger: options.logger,
  });
}

/** What the command's reload needs: how to load the files again and how to apply its own sections. */
export interface ReloaderOptions {
  readonly collector: Collector;
  readonly plugins: readonly PluginDefinition[];
  readonly load: () => LoadedConfig;
  readonly initial: LoadedConfig;
  readonly dataDir: string;
  readonly logger: Logger;
  /** Checks the command's own sections of a new configuration; throws to refuse it. */
  readonly checkCommand: (next: LoadedConfig) => void;
  /**
   * Applies the command's own sections that changed (`log`, `metrics`, `watchdog`), after the
   * collector took the new configuration. Never rejects (a failure is logged and the old stays).
   */
  readonly applyCommand: (next: LoadedConfig, changed: readonly string[]) => Promise<void>;
}

const COMMAND_SECTIONS = ['log', 'metrics', 'watchdog'] as const;

/**
 * Reloads on request, one reload at a time (a SIGHUP during a reload runs after it). Every attempt's
 * outcome is logged and written to `reload.json`.
 */
export class Reloader {
  readonly #o: ReloaderOptions;
  #current: LoadedConfig;
  #generation = 0;
  #queue: Promise<void> = Promise.resolve();

  constructor(options: ReloaderOptions) {
    this.#o = options;
    this.#current = options.initial;
  }

  /** Queues a reload; resolves with its outcome. */
  request(): Promise<ReloadOutcome> {
    const run = this.#queue.then(() => this.#reload());
    this.#queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async #reload(): Promise<ReloadOutcome> {
    const log = this.#o.logger;
    const generation = ++this.#generation;
    const base = { generation, pid: process.pid, at: new Date().toISOString() };
    let outcome: ReloadOutcome;
    try {
      const next = this.#o.load();
      const changedCommand = COMMAND_SECTIONS.filter(
        (s) =>
          JSON.stringify(sectionOptions(this.#current, s, commandSchema[s])) !==
          JSON.stringify(sectionOptions(next, s, commandSchema[s])),
      );
      this.#o.checkCommand(next);
      const report = await reloadCollector(this.#o.collector, next, this.#o.plugins);
      await this.#o.applyCommand(next, changedCommand);
      this.#current = next;
      outcome = { ...base, ok: true, report: { ...report, command: changedCommand } };
      log.info({ reload: outcome.report }, 'configuration reloaded');
      if (report.needsRestart.length > 0) {
        log.warn({ keys: report.needsRestart }, 'these settings take effect only after a restart');
      }
    } catch (e) {
      outcome = { ...base, ok: false, reason: describeError(e) };
      log.error({ reason: outcome.reason }, 'configuration reload refused; the running configuration stays');
    }
    try {
      writeAtomic(join(this.#o.dataDir, RELOAD_FILE), `${JSON.stringify(outcome)}\n`);
    } catch (e) {
      log.warn({ err: describeError(e) }, 'could not write the reload outcome');
    }
    return outcome;
  }
}
