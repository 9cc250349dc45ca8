/**
 * Workflows files: analysis workflows as `[[workflows]]` tables in TOML (or `{ "workflows": [...] }`
 * in JSON, when the name ends in `.json`), keys in snake_case, each with `[[workflows.stages]]` and a
 * `dependencies` table. `loadWorkflowsFile` reads and checks one file completely — shape, keys and
 * every workflow through `checkWorkflow` (so a cycle or an unknown stage is found here, not at the
 * first run) — and `registerWorkflows` registers them with a coordinator. Every error is
 * `ERR_WORKFLOW_INVALID` naming the file, the workflow (its index and id) and the problem. This
 * module reads one file; it does not watch it.
 */
import { readFileSync } from 'node:fs';
import { describeError, isCollectorError, parseDuration } from '@daemoneye/core';
import { parse as parseToml } from 'smol-toml';
import type { AnalysisChainCoordinator } from './analysis-chain.ts';
import { parsePriority } from './condition.ts';
import { triggerErrors } from './errors.ts';
import { type AnalysisStage, type AnalysisWorkflowDefinition, checkWorkflow, type StageTarget } from './workflow.ts';

/** The workflows of one file. */
export interface WorkflowsFile {
  readonly file: string;
  readonly workflows: readonly AnalysisWorkflowDefinition[];
}

const WORKFLOW_KEYS = new Set(['id', 'description', 'timeout', 'triggers', 'stages', 'dependencies']);
const STAGE_KEYS = new Set(['id', 'analysis_type', 'target_collector', 'optional', 'timeout', 'priority', 'target']);

function fail(file: string, where: string, problem: string, cause?: unknown): never {
  throw triggerErrors.error('ERR_WORKFLOW_INVALID', `${file}: ${where}${where === '' ? '' : ': '}${problem}`, {
    ...(cause !== undefined ? { cause } : {}),
    details: { file, where, problem },
  });
}

const isTable = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function workflowName(i: number, w: Record<string, unknown>): string {
  return `workflows[${i}]${typeof w.id === 'string' ? ` (id "${w.id}")` : ''}`;
}

function duration(file: string, where: string, key: string, raw: unknown): number {
  const n = typeof raw === 'bigint' ? Number(raw) : raw;
  const ms = typeof n === 'string' ? parseDuration(n) : typeof n === 'number' ? n : undefined;
  if (ms === undefined || !Number.isInteger(ms) || ms < 1) {
    fail(
      file,
      where,
      `${key} ${JSON.stringify(typeof raw === 'bigint' ? Number(raw) : raw)} must be a duration such as "30s" (or milliseconds)`,
    );
  }
  return ms;
}

function stage(file: string, where: string, j: number, raw: unknown): AnalysisStage {
  if (!isTable(raw)) fail(file, where, `stages[${j}] must be a table ([[workflows.stages]])`);
  const at = `stages[${j}]${typeof raw.id === 'string' ? ` (id "${raw.id}")` : ''}`;
  for (const k of Object.keys(raw)) {
    if (!STAGE_KEYS.has(k)) fail(file, where, `${at}: unknown key "${k}" (known: ${[...STAGE_KEYS].join(', ')})`);
  }
  if (raw.optional !== undefined && typeof raw.optional !== 'boolean') {
    fail(file, where, `${at}: optional must be true or false`);
  }
  const priority = raw.priority === undefined ? undefined : parsePriority(raw.priority);
  if (raw.priority !== undefined && priority === undefined) {
    fail(file, where, `${at}: priority ${JSON.stringify(raw.priority)} must be low, normal, high or critical`);
  }
  return {
    id: raw.id as string,
    analysisType: raw.analysis_type as AnalysisStage['analysisType'],
    targetCollector: raw.target_collector as string,
    ...(raw.optional !== undefined ? { optional: raw.optional } : {}),
    ...(raw.timeout !== undefined ? { timeoutMs: duration(file, where, `${at}: timeout`, raw.timeout) } : {}),
    ...(priority !== undefined ? { priority } : {}),
    ...(raw.target !== undefined ? { target: raw.target as StageTarget } : {}),
  };
}

function workflow(file: string, i: number, raw: Record<string, unknown>): AnalysisWorkflowDefinition {
  const where = workflowName(i, raw);
  for (const k of Object.keys(raw)) {
    if (!WORKFLOW_KEYS.has(k)) fail(file, where, `unknown key "${k}" (known: ${[...WORKFLOW_KEYS].join(', ')})`);
  }
  if (raw.description !== undefined && typeof raw.description !== 'string') {
    fail(file, where, 'description must be a string');
  }
  const stages = raw.stages ?? [];
  if (!Array.isArray(stages)) fail(file, where, 'stages must be an array of tables ([[workflows.stages]])');
  const deps = raw.dependencies ?? {};
  if (!isTable(deps)) fail(file, where, 'dependencies must be a table of stage = ["stage", ...]');
  for (const [k, v] of Object.entries(deps)) {
    if (!Array.isArray(v) || !v.every((d) => typeof d === 'string')) {
      fail(file, where, `dependencies.${k} must be a list of stage ids`);
    }
  }
  const out: AnalysisWorkflowDefinition = {
    id: raw.id as string,
    ...(raw.description !== undefined ? { description: raw.description as string } : {}),
    stages: stages.map((s, j) => stage(file, where, j, s)),
    dependencies: deps as Record<string, string[]>,
    ...(raw.timeout !== undefined ? { timeout: duration(file, where, 'timeout', raw.timeout) } : {}),
    ...(raw.triggers !== undefined ? { triggers: raw.triggers as string[] } : {}),
  };
  try {
    checkWorkflow(out);
  } catch (e) {
    const problem = isCollectorError(e) && typeof e.details.problem === 'string' ? e.details.problem : describeError(e);
    fail(file, where, problem, e);
  }
  return out;
}

/** Parses and checks the text of a workflows file (TOML, or JSON when the name ends in `.json`). */
export function parseWorkflows(file: string, text: string): WorkflowsFile {
  const json = file.endsWith('.json');
  let doc: unknown;
  try {
    doc = json ? JSON.parse(text) : parseToml(text);
  } catch (e) {
    const t = e as { line?: number; column?: number };
    const at = t.line !== undefined ? ` at line ${t.line}, column ${t.column}` : '';
    fail(file, '', `not valid ${json ? 'JSON' : 'TOML'}${at}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!isTable(doc)) fail(file, '', 'must hold a table');
  for (const k of Object.keys(doc)) {
    if (k !== 'workflows') fail(file, '', `unknown key "${k}" (expected [[workflows]])`);
  }
  const raw = doc.workflows ?? [];
  if (!Array.isArray(raw) || !raw.every(isTable)) fail(file, 'workflows', 'must be an array of tables ([[workflows]])');
  const workflows = raw.map((w, i) => workflow(file, i, w));
  const seen = new Map<string, number>();
  workflows.forEach((w, i) => {
    const first = seen.get(w.id);
    if (first !== undefined) fail(file, workflowName(i, { id: w.id }), `the id is already used by workflows[${first}]`);
    seen.set(w.id, i);
  });
  return { file, workflows };
}

/** Reads and parses a workflows file; `ERR_WORKFLOW_INVALID` when it cannot be read or is malformed. */
export function loadWorkflowsFile(file: string): WorkflowsFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    fail(file, '', `cannot be read: ${describeError(e)}`, e);
  }
  return parseWorkflows(file, text);
}

/**
 * Registers every workflow of `workflows` with `coordinator`, in file order. A refusal (an id or a
 * trigger already registered, for instance by the default workflows) becomes `ERR_WORKFLOW_INVALID`
 * naming the file and the workflow, with the original error as `cause`; workflows registered before
 * it stay registered.
 */
export function registerWorkflows(coordinator: AnalysisChainCoordinator, workflows: WorkflowsFile): void {
  workflows.workflows.forEach((w, i) => {
    try {
      coordinator.register(w);
    } catch (e) {
      fail(workflows.file, workflowName(i, { id: w.id }), isCollectorError(e) ? e.message : describeError(e), e);
    }
  });
}
