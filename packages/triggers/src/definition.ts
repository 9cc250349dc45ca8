/**
 * The package's plug-in definitions: `[processors.triggers]` builds a `TriggerManager` with the
 * default rule set (unless `default_rules = false`) and the rules of `rules_file`; and
 * `[processors.binary_hasher]` runs the `BinaryHasherCollector` that answers its BinaryHash requests.
 * A bad rules file stops the command at start-up with `ERR_RULES_FILE`. No behaviour of its own.
 */
import { defineProcessor, field } from '@daemoneye/core';
import { AnalysisCollectorProcessor } from './analysis-collector.ts';
import { BinaryHasherCollector } from './binary-hasher.ts';
import { DEFAULT_RULES } from './default-rules.ts';
import { loadRulesFile, registerRules } from './rules-file.ts';
import { TriggerManager } from './trigger-manager.ts';

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
  create: (o, { logger }) => {
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
    });
    if (o.defaultRules) for (const r of DEFAULT_RULES) manager.registerCondition(r);
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
