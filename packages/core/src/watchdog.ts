/**
 * The collector's self-protection (the idea of osquery's watchdog, without killing the daemon over and
 * over): on an interval it samples the process's own CPU and resident memory against configured
 * budgets. Over budget for `overChecks` samples in a row it raises the shedding level one step (plug-ins
 * then give up optional work); back under the budget's recovery mark for `underChecks` samples in a row
 * it lowers it one step. Only when the level is at its top and the process stays over budget for
 * `exitChecks` more samples does it call `onExhausted` — the last resort, which the command turns into
 * a graceful shutdown and a non-zero exit. It decides; the shedding signal carries the decision.
 */
import type { Logger } from './logger.ts';
import { SHEDDING_LEVEL_NAMES, type SheddingController, SheddingLevel } from './shedding.ts';

/** One measurement of the process. CPU is percent of one core, RSS in bytes. */
export interface ResourceSample {
  readonly cpuPercent: number;
  readonly rssBytes: number;
}

/** Options of {@link Watchdog}. Budgets of 0 (or absent) are not enforced. */
export interface WatchdogOptions {
  readonly shedding: SheddingController;
  /** Takes one measurement (CPU since the previous call). */
  readonly sample: () => ResourceSample;
  readonly cpuPercentBudget?: number;
  readonly rssBytesBudget?: number;
  /** Time between samples, ms. */
  readonly intervalMs: number;
  /** Samples over budget in a row before the level rises one step (default 3). */
  readonly overChecks?: number;
  /** Samples under the recovery mark in a row before the level falls one step (default 6). */
  readonly underChecks?: number;
  /** Fraction of the budget below which a sample counts as recovered (default 0.8). */
  readonly recoverRatio?: number;
  /** Samples over budget at the top level before `onExhausted` (0: never; default 0). */
  readonly exitChecks?: number;
  /** Called once when shedding did not bring the process back under budget. */
  readonly onExhausted?: (reason: string) => void;
  readonly logger?: Logger;
}

/** What the watchdog has seen: the last sample, the budgets, and how the level moved. */
export interface WatchdogStats {
  readonly checks: number;
  readonly overBudgetChecks: number;
  readonly last: ResourceSample | undefined;
  readonly cpuPercentBudget: number;
  readonly rssBytesBudget: number;
  readonly level: SheddingLevel;
  readonly exhausted: boolean;
}

/** Samples the process and moves the shedding level. */
export class Watchdog {
  readonly #o: WatchdogOptions;
  #timer: ReturnType<typeof setInterval> | undefined;
  #over = 0;
  #under = 0;
  #atTop = 0;
  #checks = 0;
  #overChecks = 0;
  #last: ResourceSample | undefined;
  #exhausted = false;

  constructor(options: WatchdogOptions) {
    this.#o = options;
  }

  /** Starts sampling on the interval (the timer does not keep the process alive). Idempotent. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.check(), this.#o.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Why `s` is over budget, or undefined when it is within every budget. */
  #overReason(s: ResourceSample): string | undefined {
    const cpu = this.#o.cpuPercentBudget ?? 0;
    const rss = this.#o.rssBytesBudget ?? 0;
    const parts: string[] = [];
    if (cpu > 0 && s.cpuPercent > cpu) parts.push(`CPU ${s.cpuPercent.toFixed(1)}% over budget ${cpu}%`);
    if (rss > 0 && s.rssBytes > rss) {
      parts.push(`RSS ${(s.rssBytes / 2 ** 20).toFixed(1)} MiB over budget ${(rss / 2 ** 20).toFixed(1)} MiB`);
    }
    return parts.length === 0 ? undefined : parts.join('; ');
  }

  #recovered(s: ResourceSample): boolean {
    const ratio = this.#o.recoverRatio ?? 0.8;
    const cpu = this.#o.cpuPercentBudget ?? 0;
    const rss = this.#o.rssBytesBudget ?? 0;
    return (cpu <= 0 || s.cpuPercent <= cpu * ratio) && (rss <= 0 || s.rssBytes <= rss * ratio);
  }

  /** Takes one sample and moves the level; called by the timer, or directly. */
  check(): void {
    const s = this.#o.sample();
    this.#checks++;
    this.#last = s;
    const shedding = this.#o.shedding;
    const over = this.#overReason(s);
    if (over !== undefined) {
      this.#overChecks++;
      this.#under = 0;
      this.#over++;
      if (shedding.level === SheddingLevel.Severe) {
        shedding.set(SheddingLevel.Severe, over);
        this.#atTop++;
        const exitChecks = this.#o.exitChecks ?? 0;
        if (exitChecks > 0 && this.#atTop >= exitChecks && !this.#exhausted) {
          this.#exhausted = true;
          const reason = `still over budget after shedding: ${over}`;
          this.#o.logger?.fatal({ ...s }, `watchdog: ${reason}; stopping`);
          this.#o.onExhausted?.(reason);
        }
        return;
      }
      if (this.#over >= (this.#o.overChecks ?? 3)) {
        this.#over = 0;
        const level = (shedding.level + 1) as SheddingLevel;
        shedding.set(level, over);
        this.#o.logger?.warn({ ...s, level: SHEDDING_LEVEL_NAMES[level] }, `watchdog: ${over}; shedding load`);
      } else if (shedding.level > SheddingLevel.None) {
        shedding.set(shedding.level, over);
      }
      return;
    }
    this.#over = 0;
    this.#atTop = 0;
    if (shedding.level === SheddingLevel.None || !this.#recovered(s)) return;
    this.#under++;
    if (this.#under >= (this.#o.underChecks ?? 6)) {
      this.#under = 0;
      const level = (shedding.level - 1) as SheddingLevel;
      shedding.set(level, level === SheddingLevel.None ? undefined : 'recovering: back under budget');
      this.#o.logger?.info({ ...s, level: SHEDDING_LEVEL_NAMES[level] }, 'watchdog: back under budget; restoring');
    }
  }

  stats(): WatchdogStats {
    return {
      checks: this.#checks,
      overBudgetChecks: this.#overChecks,
      last: this.#last,
      cpuPercentBudget: this.#o.cpuPercentBudget ?? 0,
      rssBytesBudget: this.#o.rssBytesBudget ?? 0,
      level: this.#o.shedding.level,
      exhausted: this.#exhausted,
    };
  }
}
