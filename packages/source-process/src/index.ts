/**
 * @daemoneye/source-process — the process event source: /proc snapshots in a worker thread,
 * real-time fork/exec/exit through the proc connector and audit, executable hashing, and a polling
 * fallback (systeminformation off Linux).
 */
export { DEFAULT_PROCESS_SOURCE_OPTIONS, resolveProcessSourceOptions } from './options.ts';
export type { HashingOptions, ProcessSourceOptions, ResolvedProcessSourceOptions } from './options.ts';
export { ProcessEventSource, createProcessSource } from './process-event-source.ts';
export type { ProcessBackend, ProcessSourceStats } from './process-event-source.ts';
export type { ProcessSnapshot } from './process-snapshot.ts';
export { openProcessScanner, scanProcesses } from './scan-processes.ts';
export type { ProcessScanner, ScanProcessesOptions } from './scan-processes.ts';
export type { FileIdentity, ProcReader } from './internal/proc-reader.ts';
export type { SnapshotPort, SnapshotResult } from './internal/snapshot-port.ts';
export type {
  AuditExecPort,
  AuditExecRecord,
  ConnectorEvent,
  KernelPorts,
  ProcConnectorPort,
} from './internal/kernel-port.ts';
