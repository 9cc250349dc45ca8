/**
 * What a trigger is: a `TriggerCondition` (one SQL condition) or a `TriggerSequence` (two or three
 * conditions joined on a key within a time window), with what to ask for when it fires — the analysis
 * type, the collector that should do it, a priority and resource limits. `checkTrigger` validates a
 * definition and fills its defaults; it throws `ERR_TRIGGER_INVALID` naming the field. Compiling the
 * SQL is `sql-condition.ts`'s job; this module only shapes definitions.
 */
import { type AnalysisType, TriggerPriority } from '@daemoneye/core';
import { triggerErrors } from './errors.ts';

/** Limits passed to the analysis collector with each request. */
export interface TriggerResourceLimits {
  /** Longest the analysis may run (default 30,000 ms). */
  readonly maxExecutionMs: number;
  /** Largest input the analysis should read, bytes (default 256 MiB). */
  readonly maxInputBytes: number;
}

/** The default resource limits. */
export const DEFAULT_RESOURCE_LIMITS: TriggerResourceLimits = Object.freeze({
  maxExecutionMs: 30_000,
  maxInputBytes: 256 * 1024 * 1024,
});

/** Fields every trigger has. */
interface TriggerBase {
  /** Unique id: letters, digits, `_`, `-`, `.`, `:`. It becomes the requests' `triggerId`. */
  readonly id: string;
  readonly description: string;
  readonly analysisType: AnalysisType;
  readonly priority: TriggerPriority;
  /** The `targetCollector` of the requests (default `binary-hasher`). */
  readonly targetCollector: string;
  readonly resourceLimits: TriggerResourceLimits;
}

/** One SQL condition over single events. */
export interface TriggerCondition extends TriggerBase {
  readonly sqlCondition: string;
}

/** How the steps of a sequence are joined. */
export type SequenceJoin = 'same_pid' | 'parent_child' | 'same_path';

/** Two or three conditions that must match in order, joined on a key, within `withinMs` of the first. */
export interface TriggerSequence extends TriggerBase {
  readonly steps: readonly string[];
  /** `same_pid`: one process; `parent_child`: each step's ppid is the previous step's pid; `same_path`. */
  readonly join: SequenceJoin;
  readonly withinMs: number;
}

/** A definition as written: everything but `id` and the SQL may be left to its default. */
export type TriggerInput<T extends TriggerCondition | TriggerSequence> = Pick<T, 'id'> &
  Partial<Omit<T, 'id' | 'resourceLimits'>> & { readonly resourceLimits?: Partial<TriggerResourceLimits> };

export const ANALYSIS_TYPES: readonly AnalysisType[] = [
  'BinaryHash',
  'MemoryAnalysis',
  'YaraScan',
  'NetworkAnalysis',
  'BehavioralAnalysis',
  'Custom',
];

const PRIORITY_NAMES: Readonly<Record<string, TriggerPriority>> = {
  low: TriggerPriority.Low,
  normal: TriggerPriority.Normal,
  high: TriggerPriority.High,
  critical: TriggerPriority.Critical,
};

/** A priority from its name (`low`, `normal`, `high`, `critical`, any case) or its number 0–3. */
export function parsePriority(value: unknown): TriggerPriority | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 3) return value as TriggerPriority;
  if (typeof value === 'string') return PRIORITY_NAMES[value.toLowerCase()];
  return undefined;
}

function bad(id: unknown, problem: string): never {
  throw triggerErrors.error('ERR_TRIGGER_INVALID', `trigger ${JSON.stringify(id)}: ${problem}`, {
    details: { id, problem },
  });
}

function base(input: TriggerInput<TriggerCondition> | TriggerInput<TriggerSequence>): TriggerBase {
  const id = input.id;
  if (typeof id !== 'string' || !/^[A-Za-z0-9_.:-]+$/.test(id)) {
    bad(id, 'id must be letters, digits, "_", "-", "." or ":"');
  }
  const analysisType = input.analysisType ?? 'BinaryHash';
  if (!ANALYSIS_TYPES.includes(analysisType)) bad(id, `analysisType must be one of ${ANALYSIS_TYPES.join(', ')}`);
  const priority = parsePriority(input.priority ?? TriggerPriority.Normal);
  if (priority === undefined) bad(id, 'priority must be low, normal, high or critical (0–3)');
  const targetCollector = input.targetCollector ?? 'binary-hasher';
  if (typeof targetCollector !== 'string' || targetCollector === '')
    bad(id, 'targetCollector must be a non-empty string');
  const limits = { ...DEFAULT_RESOURCE_LIMITS, ...input.resourceLimits };
  for (const [k, v] of Object.entries(limits)) {
    if (!Number.isInteger(v) || v < 1) bad(id, `resourceLimits.${k} must be a positive integer`);
  }
  const description = input.description ?? '';
  if (typeof description !== 'string') bad(id, 'description must be a string');
  return { id, description, analysisType, priority, targetCollector, resourceLimits: limits };
}

/** Validates a condition and fills its defaults. */
export function checkCondition(input: TriggerInput<TriggerCondition>): TriggerCondition {
  const b = base(input);
  if (typeof input.sqlCondition !== 'string' || input.sqlCondition.trim() === '') bad(b.id, 'sqlCondition is missing');
  return { ...b, sqlCondition: input.sqlCondition };
}

/** Validates a sequence and fills its defaults. */
export function checkSequence(input: TriggerInput<TriggerSequence>): TriggerSequence {
  const b = base(input);
  const steps = input.steps;
  if (!Array.isArray(steps) || steps.length < 2 || steps.length > 3 || !steps.every((s) => typeof s === 'string')) {
    bad(b.id, 'steps must be a list of two or three SQL conditions');
  }
  const join = input.join ?? 'same_pid';
  if (!['same_pid', 'parent_child', 'same_path'].includes(join)) {
    bad(b.id, 'join must be same_pid, parent_child or same_path');
  }
  const withinMs = input.withinMs ?? 30_000;
  if (!Number.isInteger(withinMs) || withinMs < 1) bad(b.id, 'withinMs must be a positive integer');
  return { ...b, steps: [...steps], join, withinMs };
}
