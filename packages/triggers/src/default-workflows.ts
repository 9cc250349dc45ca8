/**
 * The analysis workflows that ship on by default (`processors.analysis_chains.default_workflows`),
 * each started by a default rule that addresses the coordinator and named in the workflow's
 * `triggers`. Their stages run only on collectors the command has: today the binary hasher, which
 * answers BinaryHash. Definitions only; the coordinator runs them.
 */
import { TriggerPriority } from '@daemoneye/core';
import type { AnalysisWorkflowDefinition } from './workflow.ts';

/** The default workflows. */
export const DEFAULT_WORKFLOWS: readonly AnalysisWorkflowDefinition[] = Object.freeze([
  {
    id: 'deleted-executable-triage',
    description:
      'A running executable deleted or replaced on disk: hash the image the process still runs, through /proc/<pid>/exe',
    stages: [
      {
        id: 'hash',
        analysisType: 'BinaryHash',
        targetCollector: 'binary-hasher',
        priority: TriggerPriority.High,
        timeoutMs: 60_000,
        // The running image, not whatever now sits at the path (a replaced file would hash the new one).
        target: 'pid',
      },
    ],
    dependencies: {},
    timeout: 600_000,
    triggers: ['deleted-executable'],
  },
]);
