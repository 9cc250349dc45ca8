/**
 * Analysis workflow definitions: stages (an analysis type for a collector, optional or not, with its
 * own time limit) and dependencies between them, checked at registration — stage ids unique, every
 * dependency a known stage, no cycle (the error names the cycle). `checkWorkflow` throws
 * `ERR_WORKFLOW_INVALID` naming the workflow and the problem. A workflow may also name the trigger
 * conditions that start it (`triggers`). Running workflows is the coordinator's.
 */
import { type AnalysisType, TriggerPriority } from '@daemoneye/core';
import { ANALYSIS_TYPES } from './condition.ts';
import { triggerErrors } from './errors.ts';

/** One stage of a workflow. */
export interface AnalysisStage {
  readonly id: string;
  readonly analysisType: AnalysisType;
  readonly targetCollector: string;
  /** A failed optional stage is skipped: the stages after it still run. */
  readonly optional?: boolean;
  /** Longest one attempt may wait for its result (default: the coordinator's stage timeout). */
  readonly timeoutMs?: number;
  readonly priority?: TriggerPriority;
  /**
   * What the stage's requests name of the run's target: its pid and path (`both`, the default), only
   * the pid (`pid`: the running process, for instance its image through `/proc/<pid>/exe` when the file
   * on disk was deleted or replaced), or only the path (`path`).
   */
  readonly target?: StageTarget;
}

/** What a stage's requests name of the run's target. */
export type StageTarget = 'both' | 'pid' | 'path';

/** The stage targets. */
export const STAGE_TARGETS: readonly StageTarget[] = ['both', 'pid', 'path'];

/** A workflow: stages, `dependencies[stage]` = the stages it waits for, and a whole-workflow timeout. */
export interface AnalysisWorkflowDefinition {
  readonly id: string;
  readonly description?: string;
  readonly stages: readonly AnalysisStage[];
  readonly dependencies: Readonly<Record<string, readonly string[]>>;
  /** Longest the whole workflow may take, ms (default: the coordinator's workflow timeout). */
  readonly timeout?: number;
  /**
   * Trigger condition ids whose requests, addressed to the coordinator without a
   * `metadata.workflow`, start this workflow (a rule names its workflow this way, since a
   * condition's requests carry its id as `triggerId`).
   */
  readonly triggers?: readonly string[];
}

function bad(id: unknown, problem: string): never {
  throw triggerErrors.error('ERR_WORKFLOW_INVALID', `workflow ${JSON.stringify(id)}: ${problem}`, {
    details: { workflow: id, problem },
  });
}

/** Validates a workflow; returns the stage ids in an order where dependencies come first. */
export function checkWorkflow(w: AnalysisWorkflowDefinition): string[] {
  if (typeof w.id !== 'string' || !/^[A-Za-z0-9_.:-]+$/.test(w.id))
    bad(w.id, 'id must be letters, digits, "_", "-", "." or ":"');
  if (!Array.isArray(w.stages) || w.stages.length === 0) bad(w.id, 'has no stages');
  const ids = new Set<string>();
  for (const s of w.stages) {
    if (typeof s.id !== 'string' || s.id === '') bad(w.id, 'a stage has no id');
    if (ids.has(s.id)) bad(w.id, `stage "${s.id}" is defined twice`);
    ids.add(s.id);
    if (!ANALYSIS_TYPES.includes(s.analysisType)) bad(w.id, `stage "${s.id}" has an unknown analysisType`);
    if (typeof s.targetCollector !== 'string' || s.targetCollector === '')
      bad(w.id, `stage "${s.id}" has no targetCollector`);
    if (s.timeoutMs !== undefined && (!Number.isInteger(s.timeoutMs) || s.timeoutMs < 1)) {
      bad(w.id, `stage "${s.id}" timeoutMs must be a positive integer`);
    }
    if (s.priority !== undefined && ![0, 1, 2, 3].includes(s.priority))
      bad(w.id, `stage "${s.id}" has an unknown priority`);
    if (s.target !== undefined && !STAGE_TARGETS.includes(s.target))
      bad(w.id, `stage "${s.id}" target must be ${STAGE_TARGETS.join(', ')}`);
  }
  if (w.timeout !== undefined && (!Number.isInteger(w.timeout) || w.timeout < 1))
    bad(w.id, 'timeout must be a positive integer');
  if (
    w.triggers !== undefined &&
    (!Array.isArray(w.triggers) || !w.triggers.every((t) => typeof t === 'string' && /^[A-Za-z0-9_.:-]+$/.test(t)))
  ) {
    bad(w.id, 'triggers must be a list of trigger ids (letters, digits, "_", "-", "." or ":")');
  }
  const deps = w.dependencies ?? {};
  for (const [stage, on] of Object.entries(deps)) {
    if (!ids.has(stage)) bad(w.id, `dependencies name an unknown stage "${stage}"`);
    for (const d of on) if (!ids.has(d)) bad(w.id, `stage "${stage}" depends on an unknown stage "${d}"`);
  }
  // Depth-first search; the path on the stack names a cycle when one closes.
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (s: string): void => {
    if (state.get(s) === 'done') return;
    if (state.get(s) === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(s)), s];
      bad(w.id, `has a dependency cycle: ${cycle.join(' → ')}`);
    }
    state.set(s, 'visiting');
    stack.push(s);
    for (const d of deps[s] ?? []) visit(d);
    stack.pop();
    state.set(s, 'done');
    order.push(s);
  };
  for (const s of w.stages) visit(s.id);
  return order;
}

/** The default priority of workflow stages. */
export const DEFAULT_STAGE_PRIORITY = TriggerPriority.Normal;
