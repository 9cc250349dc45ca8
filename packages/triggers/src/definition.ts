/**
 * The package's plug-in definitions: `[processors.triggers]` builds a `TriggerManager` with the
 * default rule set (unless `default_rules = false`), the `[[triggers]]` and `[[sequences]]` written at
 * the top level of the configuration file, and the rules of `rules_file`;
 * `[processors.binary_hasher]` runs the `BinaryHasherCollector` that answers its BinaryHash requests;
 * and `[processors.analysis_chains]` builds an `AnalysisChainCoordinator` with the default workflows
 * (unless `default_workflows = false`) and the workflows of `workflows_file`. A bad rule in the
 * configuration or a bad rules file stops the command at start-up with `ERR_RULES_FILE`, a bad workflows file with `ERR_WORKFLOW_INVALID`.
 * No behaviour of its own.
 */
import { defineProcessor, field } from '@daemoneye/core';
import { AnalysisChainCoordinator } from './analysis-chain.ts';
import { AnalysisCollectorProcessor } from './analysis-collector.ts';
import { BinaryHasherCollector } from './binary-hasher.ts';
import { DEFAULT_RULES } from './default-rules.ts';
import { DEFAULT_WORKFLOWS } from './default-workflows.ts';
import { loadRulesFile, parseSequenceTables, parseTriggerTables, registerRules } from './rules-file.ts';
import { TriggerManager } from './trigger-manager.ts';
import { loadWorkflowsFile, registerWorkflows } from './workflows-file.ts';

/** `[processors.triggers]`: SQL trigger conditions and sequences. */
export const triggerManagerDefinition = defineProcessor({
  key: 'triggers',
  description: 'SQL trigger conditions and sequences that request analysis',
  schema: {
    default_rules: field('boolean', true, 'Load the default rule set'),
    rules_file: field('string', undefined, 'A TOML or JSON file of [[triggers]] and [[sequences]]'),
    dedup_window: field('duration', 300_000, 'Repeat matches for the same target within this are dropped', { min: 1 }),
    rate_limit: field('integer', 100, 'Requests per target collector per rate_window', { min: 1 }),
    rate_window: field('duration', 60_000, 'Window of rate_limit', { min: 1 }),
    max_pending: field('integer', 1000, 'Requests waiting to be emitted at most (Low shed from 80 %)', { min: 1 }),
    request_timeout: field('duration', 30_000, 'A request unanswered for this long counts as timed out', { min: 1 }),
    sequence_max_entries: field('integer', 10_000, 'Partial sequence matches kept per sequence', { min: 1 }),
    lineage_capacity: field('integer', 65_536, 'Processes the lineage table remembers', { min: 1 }),
    lineage_retention: field('duration', 30_000, 'How long an exited process stays in the lineage table', { min: 1 }),
  },
  topLevel: {
    triggers: field('table[]', [], 'Trigger conditions written in the configuration file itself ([[triggers]])'),
    sequences: field('table[]', [], 'Sequences written in the configuration file itself ([[sequences]])'),
  },
  create: (o, { logger, originOf, shedding }) => {
    const manager = new TriggerManager({
      dedupWindowMs: o.dedupWindow,
      rateLimit: o.rateLimit,
      rateWindowMs: o.rateWindow,
      maxPending: o.maxPending,
      requestTimeoutMs: o.requestTimeout,
      sequenceMaxEntries: o.sequenceMaxEntries,
      lineageCapacity: o.lineageCapacity,
      lineageRetentionMs: o.lineageRetention,
      logger: logger.child({ processor: 'triggers' }),
      ...(shedding !== undefined ? { shedding } : {}),
    });
    if (o.defaultRules) for (const r of DEFAULT_RULES) manager.registerCondition(r);
    const configured = (key: 'triggers' | 'sequences') => originOf(key).source;
    registerRules(manager, {
      file: configured('triggers'),
      triggers: parseTriggerTables(configured('triggers'), o.triggers),
      sequences: [],
    });
    registerRules(manager, {
      file: configured('sequences'),
      triggers: [],
      sequences: parseSequenceTables(configured('sequences'), o.sequences),
    });
    if (o.rulesFile !== undefined && o.rulesFile !== '') registerRules(manager, loadRulesFile(o.rulesFile));
    return manager;
  },
});

/** `[processors.binary_hasher]`: SHA-256 of the files that BinaryHash requests name. */
export const binaryHasherDefinition = defineProcessor({
  key: 'binary_hasher',
  description: 'Answers BinaryHash trigger requests with the SHA-256 of the target file',
  schema: {
    concurrency: field('integer', 2, 'Files hashed at once', { min: 1 }),
    max_queued: field('integer', 1000, 'Requests waiting at most; more are dropped', { min: 1 }),
  },
  create: (o) =>
    new AnalysisCollectorProcessor(new BinaryHasherCollector(), {
      concurrency: o.concurrency,
      queueCapacity: o.maxQueued,
    }),
});

/** `[processors.analysis_chains]`: multi-stage analysis workflows started by trigger requests. */
export const analysisChainsDefinition = defineProcessor({
  key: 'analysis_chains',
  description: 'Runs analysis workflows for the trigger requests addressed to analysis-chains',
  schema: {
    default_workflows: field('boolean', true, 'Register the default workflows'),
    workflows_file: field('string', undefined, 'A TOML or JSON file of [[workflows]]'),
    max_concurrent_workflows: field('integer', 50, 'Workflow runs at once; more requests are refused', { min: 1 }),
    stage_timeout: field('duration', 300_000, 'Longest one stage attempt waits for its result', { min: 1 }),
    workflow_timeout: field('duration', 1_800_000, 'Longest a whole workflow run may take', { min: 1 }),
    max_attempts: field('integer', 3, 'Attempts per stage before it fails (or is skipped when optional)', {
      min: 1,
    }),
    backoff_base: field('duration', 2000, 'Delay before the first retry, doubling each time', { min: 1 }),
    backoff_max: field('duration', 60_000, 'Longest delay between two attempts', { min: 1 }),
    history_size: field('integer', 100, 'Finished runs remembered', { min: 1 }),
  },
  create: (o, { logger }) => {
    const coordinator = new AnalysisChainCoordinator({
      logger: logger.child({ processor: 'analysis_chains' }),
      maxConcurrentWorkflows: o.maxConcurrentWorkflows,
      stageTimeoutMs: o.stageTimeout,
      workflowTimeoutMs: o.workflowTimeout,
      maxAttempts: o.maxAttempts,
      backoffBaseMs: o.backoffBase,
      backoffMaxMs: o.backoffMax,
      historySize: o.historySize,
    });
    if (o.defaultWorkflows) for (const w of DEFAULT_WORKFLOWS) coordinator.register(w);
    if (o.workflowsFile !== undefined && o.workflowsFile !== '') {
      registerWorkflows(coordinator, loadWorkflowsFile(o.workflowsFile));
    }
    return coordinator;
  },
});
