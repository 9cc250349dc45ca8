/**
 * @daemoneye/native: Linux kernel interfaces for the DaemonEye collector through koffi — proc
 * connector and audit exec events, sock_diag socket dumps, SO_PEERCRED, inotify and fanotify —
 * with worker-thread readers and availability probes, plus a low-overhead /proc file reader and the
 * worker host every worker thread of the collector runs on. Nothing loads at import time, so
 * importing on another OS is safe: probes say `not_linux` and open calls reject. This is the only
 * public entry.
 */

export type { AuditStatusInfo } from './audit-control.ts';
export { listAuditRules, readAuditStatus } from './audit-control.ts';
export type {
  AuditExecMonitor,
  AuditExecMonitorOptions,
  AuditExecMonitorStats,
  AuditLossInfo,
  AuditRecovery,
} from './audit-monitor.ts';
export {
  DEFAULT_AUDIT_BACKLOG_LIMIT,
  DEFAULT_AUDIT_KEY,
  DEFAULT_AUDIT_STATE_FILE,
  openAuditExecMonitor,
  recoverAuditState,
} from './audit-monitor.ts';
export type { AuditExecRecord } from './audit-record.ts';
export type { EbpfLossInfo, EbpfProcessOptions, EbpfProcessReader, EbpfProcessStats } from './ebpf.ts';
export {
  DEFAULT_EBPF_OPTIONS,
  EBPF_MIN_KERNEL,
  EBPF_OBJECT_PATH,
  openEbpfProcessMonitor,
  probeEbpf,
} from './ebpf.ts';
export type { EbpfProcessEvent } from './ebpf-event.ts';
export { decodeEbpfRecord, EBPF_ARGV_MAX, EBPF_CONFIG_LAYOUT, EBPF_EVENT_LAYOUT } from './ebpf-event.ts';
export type {
  FanotifyOptions,
  FanotifyReader,
  FsNotifyLossInfo,
  FsNotifyReader,
  FsNotifyStats,
  InotifyOptions,
  InotifyReader,
} from './fs-notify.ts';
export { openFanotify, openInotify } from './fs-notify.ts';
export type { FsNotifyEvent } from './fs-notify-event.ts';
export { FanotifyMask, InotifyMask } from './fs-notify-event.ts';
export { TcpStateNames as TCP_STATE_NAMES } from './internal/constants.ts';
export { errnoName } from './internal/libc.ts';
export type { NativeErrorCode, NativeErrorOptions } from './native-error.ts';
export { isNativeError, NativeError, NativeErrorCodes } from './native-error.ts';
export type { NativeLogger } from './native-logger.ts';
export type { NodeFlagsOutcome } from './node-flags.ts';
export { execWithNodeFlags, missingNodeFlags } from './node-flags.ts';
export { getPeerCredentials } from './peer-credentials.ts';
export type {
  CapabilityName,
  PrivilegeDropOptions,
  PrivilegeDropReport,
  ProcessPrivileges,
  ThreadCredentials,
} from './privileges.ts';
export {
  CAPABILITY_NAMES,
  dropPrivileges,
  isCapabilityName,
  processPrivileges,
  resolveUser,
  servePrivilegeDrop,
} from './privileges.ts';
export type { Availability } from './probes.ts';
export { probeAudit, probeFanotify, probeInotify, probeProcConnector, probeSockDiag } from './probes.ts';
export type {
  ProcConnectorLossInfo,
  ProcConnectorOptions,
  ProcConnectorReader,
  ProcConnectorStats,
} from './proc-connector.ts';
export { DEFAULT_PROC_CONNECTOR_BUFFER, MAX_EXEC_CAPTURES_PER_READ, openProcConnector } from './proc-connector.ts';
export type { ProcConnectorEvent } from './proc-event.ts';
export type { ProcfsReader } from './procfs.ts';
export { createProcfsReader } from './procfs.ts';
export type { LossInfo, LossReason, NativeOpenOptions } from './reader-options.ts';
export type {
  InetDiagSocket,
  SockDiagColumnsOptions,
  SockDiagDumpOptions,
  SockDiagOptions,
  SockDiagReader,
  SockDiagStats,
  UnixDiagDumpOptions,
  UnixDiagSocket,
} from './sock-diag.ts';
export { openSockDiag, sockDiagDump } from './sock-diag.ts';
export type { InetDiagColumns } from './sock-diag-columns.ts';
export {
  columnAddress,
  columnProtocol,
  columnStateName,
  inetDiagSocketAt,
  inetDiagSockets,
} from './sock-diag-columns.ts';
export type { WorkerHost, WorkerHostOptions } from './worker-host.ts';
export { allWorkersEnded, DEFAULT_STOP_GRACE_MS, startWorkerHost } from './worker-host.ts';
