/**
 * Options of the performance source, their documented defaults (declared once in
 * `perfSourceSchema`), and their validation: bad values throw `ERR_CONFIG_INVALID` (or
 * `ERR_PERF_THRESHOLD_INVALID` for a rule) at construction. The `procFiles` port lets tests feed
 * recorded /proc files. This module reads nothing from the OS.
 */
import { CollectorError, type ConfigSchema, field, type Logger, type SheddingSignal } from '@daemoneye/core';
import type { ProcFiles } from './internal/proc-sampler.ts';
import { checkThresholdRule, parseThresholdRule, type ThresholdRule } from './internal/thresholds.ts';

/** Options of {@link createPerfSource}; every field is optional. */
export interface PerfSourceOptions {
  /** The source's name (default `'performance'`). */
  readonly name?: string;
  /** Milliseconds between samples (default 10,000). */
  readonly intervalMs?: number;
  /** Processes listed by CPU and by memory each sample (default 5; 0 turns the lists off). */
  readonly topN?: number;
  /** Block devices to leave out: a name prefix followed by digits, such as `loop` (default loop, ram, zram). */
  readonly excludeDevices?: readonly string[];
  /** Threshold rules: objects, or text such as `cpu.usage > 90 for 30s`. */
  readonly thresholds?: readonly (ThresholdRule | string)[];
  /** `auto` (/proc on Linux, systeminformation elsewhere) or one backend. */
  readonly backend?: 'auto' | 'procfs' | 'systeminformation';
  readonly logger?: Logger;
  /**
   * The collector's load-shedding level: while above `none` the top-N lists are off and samples are
   * taken 2× (`shed`) or 4× (`severe`) less often.
   */
  readonly shedding?: SheddingSignal;
  /** Port: /proc access (default: the real file system). */
  readonly procFiles?: ProcFiles;
  /** Root of the proc file system (default `/proc`). */
  readonly procRoot?: string;
}

/** The `[sources.performance]` section. */
export const perfSourceSchema = {
  interval: field('duration', 10_000, 'Time between samples', { min: 100 }),
  top_n: field('integer', 5, 'Processes listed by CPU and by memory each sample (0: none)', { min: 0, max: 100 }),
  exclude_devices: field(
    'string[]',
    ['loop', 'ram', 'zram'],
    'Block devices left out: name prefixes followed by digits',
  ),
  thresholds: field(
    'string[]',
    [],
    'Threshold rules such as "cpu.usage > 90 for 30s" or "memory.available < 536870912"',
  ),
  backend: field('enum', 'auto', 'Sampling: auto, procfs (/proc), systeminformation', {
    values: ['auto', 'procfs', 'systeminformation'],
  }),
} as const satisfies ConfigSchema;

const F = perfSourceSchema;

/** Options with defaults applied. */
export interface ResolvedPerfSourceOptions {
  readonly name: string;
  readonly intervalMs: number;
  readonly topN: number;
  readonly excludeDevices: RegExp;
  readonly thresholds: readonly ThresholdRule[];
  readonly backend: 'auto' | 'procfs' | 'systeminformation';
  readonly logger: Logger | undefined;
  readonly shedding: SheddingSignal | undefined;
  readonly procFiles: ProcFiles | undefined;
  readonly procRoot: string;
}

const LAYER = 'PerfSourceOptions';

function invalid(name: string, value: unknown, expected: string): never {
  throw new CollectorError('ERR_CONFIG_INVALID', `${LAYER}.${name} must be ${expected}, got ${JSON.stringify(value)}`, {
    details: { field: name, value, layer: LAYER },
  });
}

/** Applies defaults and validates. */
export function resolvePerfSourceOptions(o: PerfSourceOptions = {}): ResolvedPerfSourceOptions {
  const name = o.name ?? 'performance';
  if (typeof name !== 'string' || name.trim() === '') invalid('name', name, 'a non-empty string');
  const intervalMs = o.intervalMs ?? F.interval.default;
  if (!Number.isInteger(intervalMs) || intervalMs < 100) invalid('intervalMs', intervalMs, 'an integer >= 100');
  const topN = o.topN ?? F.top_n.default;
  if (!Number.isInteger(topN) || topN < 0 || topN > 100) invalid('topN', topN, 'an integer from 0 to 100');
  const prefixes = o.excludeDevices ?? F.exclude_devices.default;
  if (!Array.isArray(prefixes) || prefixes.some((p) => typeof p !== 'string' || !/^[A-Za-z0-9_-]+$/.test(p))) {
    invalid('excludeDevices', prefixes, 'a list of device name prefixes (letters, digits, _ or -)');
  }
  const excludeDevices = prefixes.length === 0 ? /^$/ : new RegExp(`^(?:${prefixes.join('|')})\\d+$`);
  const backend = o.backend ?? F.backend.default;
  if (!['auto', 'procfs', 'systeminformation'].includes(backend))
    invalid('backend', backend, 'auto, procfs or systeminformation');
  const thresholds = (o.thresholds ?? []).map((t) =>
    typeof t === 'string' ? parseThresholdRule(t) : checkThresholdRule(t),
  );
  return {
    name,
    intervalMs,
    topN,
    excludeDevices,
    thresholds,
    backend,
    logger: o.logger,
    shedding: o.shedding,
    procFiles: o.procFiles,
    procRoot: o.procRoot ?? '/proc',
  };
}
