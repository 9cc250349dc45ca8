/**
 * Rules files: trigger conditions (`[[triggers]]`) and sequences (`[[sequences]]`) in TOML, or the
 * same as JSON (`{ "triggers": [...], "sequences": [...] }`), keys in snake_case. `loadRulesFile`
 * reads and checks one file and `registerRules` registers its rules with a trigger manager; every
 * error is `ERR_RULES_FILE` naming the file, the rule (its index and id) and, for SQL, the line and
 * column in the condition. This module reads one file; it does not watch it.
 */
import { readFileSync } from 'node:fs';
import { describeError, isCollectorError, parseDuration } from '@daemoneye/core';
import { parse as parseToml } from 'smol-toml';
import type { TriggerCondition, TriggerInput, TriggerResourceLimits, TriggerSequence } from './condition.ts';
import { parsePriority } from './condition.ts';
import { triggerErrors } from './errors.ts';
import type { TriggerManager } from './trigger-manager.ts';

/** The rules of one file. */
export interface RulesFile {
  readonly file: string;
  readonly triggers: readonly TriggerInput<TriggerCondition>[];
  readonly sequences: readonly TriggerInput<TriggerSequence>[];
}

const COMMON = ['id', 'description', 'analysis_type', 'priority', 'target_collector', 'resource_limits'];
const KEYS = {
  triggers: new Set([...COMMON, 'sql_condition']),
  sequences: new Set([...COMMON, 'steps', 'join', 'within']),
};

function fail(file: string, where: string, problem: string): never {
  throw triggerErrors.error('ERR_RULES_FILE', `${file}: ${where}${where === '' ? '' : ': '}${problem}`, {
    details: { file, where, problem },
  });
}

function ruleName(group: string, i: number, rule: Record<string, unknown>): string {
  return `${group}[${i}]${typeof rule.id === 'string' ? ` (id "${rule.id}")` : ''}`;
}

function limits(file: string, where: string, raw: unknown): Partial<TriggerResourceLimits> | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    fail(file, where, 'resource_limits must be a table');
  const out: { maxExecutionMs?: number; maxInputBytes?: number } = {};
  for (const [k, v] of Object.entries(raw)) {
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (k === 'max_execution_ms' && typeof n === 'number') out.maxExecutionMs = n;
    else if (k === 'max_input_bytes' && typeof n === 'number') out.maxInputBytes = n;
    else
      fail(
        file,
        where,
        `resource_limits.${k} is not a known limit or not a number (max_execution_ms, max_input_bytes)`,
      );
  }
  return out;
}

function common(file: string, where: string, r: Record<string, unknown>): Record<string, unknown> {
  const priority = r.priority === undefined ? undefined : parsePriority(r.priority);
  if (r.priority !== undefined && priority === undefined) {
    fail(file, where, `priority ${JSON.stringify(r.priority)} must be low, normal, high or critical`);
  }
  const out: Record<string, unknown> = { id: r.id };
  if (r.description !== undefined) out.description = r.description;
  if (r.analysis_type !== undefined) out.analysisType = r.analysis_type;
  if (priority !== undefined) out.priority = priority;
  if (r.target_collector !== undefined) out.targetCollector = r.target_collector;
  const l = limits(file, where, r.resource_limits);
  if (l !== undefined) out.resourceLimits = l;
  return out;
}

/** Parses the text of a rules file (TOML, or JSON when the name ends in `.json`). */
export function parseRules(file: string, text: string): RulesFile {
  let doc: Record<string, unknown>;
  try {
    doc = (file.endsWith('.json') ? JSON.parse(text) : parseToml(text)) as Record<string, unknown>;
  } catch (e) {
    const t = e as { line?: number; column?: number };
    const at = t.line !== undefined ? ` at line ${t.line}, column ${t.column}` : '';
    fail(
      file,
      '',
      `not valid ${file.endsWith('.json') ? 'JSON' : 'TOML'}${at}: ${(e as Error).message.split('\n')[0]}`,
    );
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail(file, '', 'must hold a table');
  for (const k of Object.keys(doc)) {
    if (k !== 'triggers' && k !== 'sequences')
      fail(file, '', `unknown key "${k}" (expected [[triggers]] or [[sequences]])`);
  }
  return {
    file,
    triggers: parseTriggerTables(file, doc.triggers ?? []),
    sequences: parseSequenceTables(file, doc.sequences ?? []),
  };
}

function checkTables(file: string, name: 'triggers' | 'sequences', raw: unknown): Record<string, unknown>[] {
  if (!Array.isArray(raw) || !raw.every((r) => typeof r === 'object' && r !== null && !Array.isArray(r))) {
    fail(file, name, `must be an array of tables ([[${name}]])`);
  }
  raw.forEach((r: Record<string, unknown>, i) => {
    for (const k of Object.keys(r)) {
      if (!KEYS[name].has(k))
        fail(file, ruleName(name, i, r), `unknown key "${k}" (known: ${[...KEYS[name]].join(', ')})`);
    }
  });
  return raw as Record<string, unknown>[];
}

/**
 * Checks `[[triggers]]` tables (from a rules file or the collector's own configuration, which `file`
 * names) and turns them into trigger inputs; `ERR_RULES_FILE` names the file, the rule and the problem.
 */
export function parseTriggerTables(file: string, raw: unknown): TriggerInput<TriggerCondition>[] {
  return checkTables(file, 'triggers', raw).map((r, i) => {
    const where = ruleName('triggers', i, r);
    return { ...common(file, where, r), sqlCondition: r.sql_condition } as TriggerInput<TriggerCondition>;
  });
}

/** Checks `[[sequences]]` tables and turns them into sequence inputs, as {@link parseTriggerTables}. */
export function parseSequenceTables(file: string, raw: unknown): TriggerInput<TriggerSequence>[] {
  return checkTables(file, 'sequences', raw).map((r, i) => {
    const where = ruleName('sequences', i, r);
    const out: Record<string, unknown> = { ...common(file, where, r), steps: r.steps };
    if (r.join !== undefined) out.join = r.join;
    if (r.within !== undefined) {
      const ms =
        typeof r.within === 'string' ? parseDuration(r.within) : typeof r.within === 'number' ? r.within : undefined;
      if (ms === undefined) fail(file, where, `within ${JSON.stringify(r.within)} must be a duration such as "30s"`);
      out.withinMs = ms;
    }
    return out as TriggerInput<TriggerSequence>;
  });
}

/** Reads and parses a rules file; `ERR_RULES_FILE` when it cannot be read or is malformed. */
export function loadRulesFile(file: string): RulesFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    fail(file, '', `cannot be read: ${describeError(e)}`);
  }
  return parseRules(file, text);
}

/**
 * Registers every rule of `rules` with `manager`, in file order. Any refusal (bad SQL with its
 * position, a bad field, a duplicate id) becomes `ERR_RULES_FILE` naming the file and the rule, with
 * the original error as `cause`; rules registered before it stay registered.
 */
export function registerRules(manager: TriggerManager, rules: RulesFile): void {
  const wrap = (where: string, f: () => void) => {
    try {
      f();
    } catch (e) {
      const message = isCollectorError(e) ? `${e.code}: ${e.message}` : describeError(e);
      throw triggerErrors.error('ERR_RULES_FILE', `${rules.file}: ${where}: ${message}`, {
        cause: e,
        details: { file: rules.file, where, problem: message },
      });
    }
  };
  rules.triggers.forEach((r, i) => {
    wrap(ruleName('triggers', i, r), () => manager.registerCondition(r));
  });
  rules.sequences.forEach((r, i) => {
    wrap(ruleName('sequences', i, r), () => manager.registerSequence(r));
  });
}
