/**
 * @daemoneye/source-process — the process event source: /proc snapshots in a worker thread,
 * real-time fork/exec/exit through the proc connector and audit, executable hashing, and a polling
 * fallback (systeminformation off Linux).
 */

export { processSourceDefinition } from './definition.ts';
export type { ProcessErrorCode } from './errors.ts';
export { processErrors } from './errors.ts';
export type { AuditExecPort, KernelPorts, ProcConnectorPort } from './internal/kernel-port.ts';
export type { FileIdentity, ProcReader } from './internal/proc-reader.ts';
export type { SnapshotPort, SnapshotResult } from './internal/snapshot-port.ts';
export type { HashingOptions, ProcessSourceOptions, ResolvedProcessSourceOptions } from './options.ts';
export { DEFAULT_PROCESS_SOURCE_OPTIONS, processSourceSchema, resolveProcessSourceOptions } from './options.ts';
export type { ProcessBackend, ProcessSourceStats } from './process-event-source.ts';
export { createProcessSource, ProcessEventSource } from './process-event-source.ts';
export type { ProcessSnapshot } from './process-snapshot.ts';
export type { ProcessScanner, ScanProcessesOptions } from './scan-processes.ts';
export { openProcessScanner, scanProcesses } from './scan-processes.ts';
