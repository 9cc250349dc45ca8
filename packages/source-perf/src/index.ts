/**
 * @daemoneye/source-perf — the performance event source: CPU, memory, load, disk, network
 * interfaces, pressure stall information, file handles and top-N processes sampled from /proc
 * (systeminformation off Linux), with threshold-crossed and recovered events.
 */

export { perfSourceDefinition } from './definition.ts';
export type { PerfErrorCode } from './errors.ts';
export { perfErrors } from './errors.ts';
export { counterDelta, counterRate } from './internal/counter-delta.ts';
export type { CpuTimes, DiskCounters, InterfaceCounters, PidStat, PressureTotals } from './internal/proc-parse.ts';
export {
  parseDiskstats,
  parseFileNr,
  parseLoadavg,
  parseMeminfo,
  parseNetDev,
  parsePidStat,
  parsePressure,
  parseProcStat,
} from './internal/proc-parse.ts';
export type { PerfSample, ProcFiles, ProcSamplerOptions } from './internal/proc-sampler.ts';
export { ProcSampler } from './internal/proc-sampler.ts';
export type { ThresholdRule, ThresholdTransition } from './internal/thresholds.ts';
export { parseThresholdRule, ThresholdEvaluator } from './internal/thresholds.ts';
export type { PerfSourceOptions, ResolvedPerfSourceOptions } from './options.ts';
export { perfSourceSchema, resolvePerfSourceOptions } from './options.ts';
export type { PerfBackend, PerfSourceStats } from './perf-event-source.ts';
export { createPerfSource, nodeProcFiles, openProcFiles, PerformanceEventSource } from './perf-event-source.ts';
