/**
 * @daemoneye/core — the public entry: the EventSource, EventSink and EventProcessor contracts,
 * plug-in definitions, SourceCaps flags, the CollectionEvent model and event records, the Collector
 * runtime, configuration, health, telemetry and errors.
 */

export type {
  CollectorOptions,
  CollectorReadiness,
  CollectorStats,
  RunOptions,
  ShutdownReport,
} from './collector.ts';
export { Collector } from './collector.ts';
export type { CollectorSettings, ResolvedSettings } from './config.ts';
export { CollectorConfig, DEFAULT_COLLECTOR_SETTINGS, SETTING_KEYS } from './config.ts';
export type { ConfigLayer, LoadConfigOptions, LoadedConfig, ValueOrigin } from './config-loader.ts';
export { defaultConfigPaths, ENV_PREFIX, loadConfig } from './config-loader.ts';
export type {
  Coerced,
  ConfigField,
  ConfigSchema,
  ConfigTable,
  ConfigValue,
  FieldLimits,
  FieldOption,
  FieldType,
  FieldValue,
  OptionsOf,
} from './config-schema.ts';
export {
  camelCaseKey,
  coerceValue,
  collectorConfigSchema,
  field,
  formatValue,
  isField,
  schemaDefaults,
  schemaFields,
} from './config-schema.ts';
export type { LatencySummary } from './counters.ts';
export type { DerivedLaneStats } from './derived-lane.ts';
export { formatDuration, parseByteSize, parseDuration } from './duration.ts';
export type { CollectorErrorOptions, ErrorCatalog, ErrorCode, ErrorDetails } from './errors.ts';
export {
  CollectorError,
  declaredErrorCodes,
  defineErrorCatalog,
  describeError,
  ErrorCodes,
  isCollectorError,
} from './errors.ts';
export type {
  AnalysisResultEvent,
  AnalysisType,
  EventKind,
  FilesystemEvent,
  FilesystemOperation,
  NetworkEvent,
  NetworkEventSubtype,
  PerformanceEvent,
  PerformanceEventSubtype,
  PerformanceThreshold,
  PidUnknownReason,
  PlatformMetadata,
  ProcessEvent,
  ProcessEventSubtype,
  TriggerRequestEvent,
} from './event.ts';
export { CollectionEvent, EVENT_KINDS, MAX_TRIGGER_METADATA, TriggerPriority } from './event.ts';
export type { FlagSpec, Flags, FlagsType } from './flags.ts';
export { defineFlags } from './flags.ts';
export type { CollectorHealth, ProcessorHealth, SinkHealth, SourceHealth, SourceState } from './health.ts';
export { HealthStatus, worstHealth } from './health.ts';
export type { HostIdentity } from './host.ts';
export { readHostIdentity } from './host.ts';
export type { LogFn, Logger } from './logger.ts';
export { silentLogger } from './logger.ts';
export type { FlushCause } from './pipeline.ts';
export type {
  ComposedPart,
  ComposeOptions,
  Composition,
  DefinitionInput,
  PluginContext,
  PluginDefinition,
  PluginOptions,
  ProcessorDefinition,
  SinkDefinition,
  SinkSection,
  SourceDefinition,
  SourceSection,
} from './plugin.ts';
export {
  composeCollector,
  compositionOf,
  defineProcessor,
  defineSink,
  defineSource,
  pluginSchema,
  sectionOptions,
} from './plugin.ts';
export type { ProcessorStats } from './processor-runner.ts';
export type { BatchRecords, EventBatch, EventRecord } from './record.ts';
export { batchOf, recordsOf } from './record.ts';
export type { ReloadReport } from './reload.ts';
export { reloadCollector } from './reload.ts';
export { SEQUENCE_BLOCK, SEQUENCE_FILE } from './sequence.ts';
export type { SheddingChange, SheddingSignal } from './shedding.ts';
export { SHEDDING_LEVEL_NAMES, SheddingController, SheddingLevel } from './shedding.ts';
export type { SinkStats } from './sink-queue.ts';
export type {
  CollectorView,
  DerivedEventSender,
  EventProcessor,
  EventSender,
  EventSink,
  EventSource,
  HealthReport,
  LinuxCapabilityName,
  OverflowPolicy,
  PluginRuntime,
  SinkOptions,
} from './source.ts';
export type { SourceCapsBits } from './source-caps.ts';
export {
  capabilityLabels,
  hasCapabilities,
  parseCapabilities,
  SourceCaps,
  SourceCapsFlags,
  SourceCapsLabels,
} from './source-caps.ts';
export type { SourceCounters } from './source-runner.ts';
export type { TelemetrySample } from './telemetry.ts';
export { EVENT_LOOP_RESOLUTION_MS, SelfTelemetry, TELEMETRY_HISTORY } from './telemetry.ts';
export type { ResourceSample, WatchdogOptions, WatchdogStats } from './watchdog.ts';
export { Watchdog } from './watchdog.ts';
