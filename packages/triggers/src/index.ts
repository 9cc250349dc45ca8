/**
 * @daemoneye/triggers — SQL trigger conditions and sequences (`TriggerManager`), analysis collectors
 * (`TriggerableCollector`, `BinaryHasherCollector`) and multi-stage analysis chains
 * (`AnalysisChainCoordinator`), each usable as a collector processor.
 */

export type {
  AnalysisChainOptions,
  AnalysisChainStats,
  StageStatus,
  WorkflowRunStatus,
} from './analysis-chain.ts';
export { AnalysisChainCoordinator } from './analysis-chain.ts';
export type { AnalysisProcessorOptions, AnalysisProcessorStats, TriggerableCollector } from './analysis-collector.ts';
export { AnalysisCollectorProcessor } from './analysis-collector.ts';
export { BinaryHasherCollector } from './binary-hasher.ts';
export type { Column, EvalContext, SqlType, SqlValue } from './columns.ts';
export { COLUMNS } from './columns.ts';
export type {
  SequenceJoin,
  TriggerCondition,
  TriggerInput,
  TriggerResourceLimits,
  TriggerSequence,
} from './condition.ts';
export { ANALYSIS_TYPES, checkCondition, checkSequence, DEFAULT_RESOURCE_LIMITS, parsePriority } from './condition.ts';
export { DEFAULT_RULES } from './default-rules.ts';
export { DEFAULT_WORKFLOWS } from './default-workflows.ts';
export { analysisChainsDefinition, binaryHasherDefinition, triggerManagerDefinition } from './definition.ts';
export type { TriggerErrorCode } from './errors.ts';
export { triggerErrors } from './errors.ts';
export type { LineageStats } from './lineage.ts';
export { LineageTable } from './lineage.ts';
export type { RulesFile } from './rules-file.ts';
export { loadRulesFile, parseRules, parseSequenceTables, parseTriggerTables, registerRules } from './rules-file.ts';
export type { SequenceStats } from './sequence-matcher.ts';
export { SequenceMatcher } from './sequence-matcher.ts';
export type { CompiledCondition } from './sql-condition.ts';
export { compileCondition, SQL_FUNCTIONS } from './sql-condition.ts';
export type { TriggerManagerOptions, TriggerManagerStats } from './trigger-manager.ts';
export { TriggerManager } from './trigger-manager.ts';
export type { AnalysisStage, AnalysisWorkflowDefinition, StageTarget } from './workflow.ts';
export { checkWorkflow, STAGE_TARGETS } from './workflow.ts';
export type { WorkflowsFile } from './workflows-file.ts';
export { loadWorkflowsFile, parseWorkflows, registerWorkflows } from './workflows-file.ts';
