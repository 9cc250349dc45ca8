/**
 * @daemoneye/native: Linux kernel interfaces for the DaemonEye collector through koffi — proc
 * connector and audit exec events, sock_diag socket dumps, SO_PEERCRED, inotify and fanotify —
 * with worker-thread readers and availability probes. Nothing loads at import time, so importing on
 * another OS is safe: probes say `not_linux` and open calls reject. This is the only public entry.
 */
export { NativeError, isNativeError } from './native-error.ts';
export type { NativeErrorCode, NativeErrorOptions } from './native-error.ts';

export { probeProcConnector, probeAudit, probeSockDiag, probeFanotify, probeInotify } from './probes.ts';
export type { Availability } from './probes.ts';

export { openProcConnector, DEFAULT_PROC_CONNECTOR_BUFFER } from './proc-connector.ts';
export type { ProcConnectorReader, ProcConnectorOptions } from './proc-connector.ts';
export type { ProcConnectorEvent } from './proc-event.ts';

export { openAuditExecMonitor, recoverAuditState, DEFAULT_AUDIT_KEY, DEFAULT_AUDIT_STATE_FILE } from './audit-monitor.ts';
export type { AuditExecMonitor, AuditExecMonitorOptions } from './audit-monitor.ts';
export type { AuditExecRecord } from './audit-record.ts';
export { readAuditStatus, listAuditRules } from './audit-control.ts';
export type { AuditStatusInfo } from './audit-control.ts';

export { sockDiagDump } from './sock-diag.ts';
export type { InetDiagSocket } from './sock-diag.ts';

export { getPeerCredentials } from './peer-credentials.ts';

export { openInotify, openFanotify } from './fs-notify.ts';
export type { InotifyReader, FanotifyReader } from './fs-notify.ts';
export { InotifyMask, FanotifyMask } from './fs-notify-event.ts';
export type { FsNotifyEvent } from './fs-notify-event.ts';
