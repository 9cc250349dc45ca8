/**
 * The kernel event ports the real-time backend needs: a proc connector reader (fork/exec/exit/uid/comm
 * with pids only) and an audit exec monitor (one record per execve with exe, argv, cwd and ids). The
 * event and loss types are `@daemoneye/native`'s own, whose readers are the default implementation;
 * tests pass fakes. Types only.
 */
import type {
  AuditExecRecord,
  AuditLossInfo,
  Availability,
  EbpfLossInfo,
  EbpfProcessEvent,
  ProcConnectorEvent,
  ProcConnectorLossInfo,
} from '@daemoneye/native';

/** A running proc connector subscription (the part of `ProcConnectorReader` the backend uses). */
export interface ProcConnectorPort {
  onEvents(cb: (events: readonly ProcConnectorEvent[]) => void): void;
  onLoss(cb: (info: ProcConnectorLossInfo) => void): void;
  onError(cb: (err: Error) => void): void;
  close(): Promise<void>;
}

/** A running audit exec monitor (the part of `AuditExecMonitor` the backend uses). Closing it restores the audit rules and enabled flag it changed. */
export interface AuditExecPort {
  onExec(cb: (records: readonly AuditExecRecord[]) => void): void;
  onLoss(cb: (info: AuditLossInfo) => void): void;
  onError?(cb: (err: Error) => void): void;
  close(): Promise<void>;
}

/** A running eBPF process loader (the part of `EbpfProcessReader` the backend uses). */
export interface EbpfPort {
  onEvents(cb: (events: readonly EbpfProcessEvent[]) => void): void;
  onLoss(cb: (info: EbpfLossInfo) => void): void;
  onError(cb: (err: Error) => void): void;
  close(): Promise<void>;
}

/** Opens the kernel readers; each rejects with a reason when unavailable. */
export interface KernelPorts {
  openProcConnector(options: {
    readonly receiveBufferBytes: number;
    /** `/proc/<pid>/` files and links to capture in the reader thread when a process execs. */
    readonly captureOnExec?: { readonly files: readonly string[]; readonly links: readonly string[] };
  }): Promise<ProcConnectorPort>;
  openAuditExecMonitor?(options: { readonly key: string; readonly stateFile?: string }): Promise<AuditExecPort>;
  /** Why the eBPF loader cannot run here, without loading it (kernel, BTF, capabilities, lockdown, libbpf). */
  probeEbpf?(): Availability;
  openEbpf?(options: { readonly latencyMs: number; readonly ringBufferBytes: number }): Promise<EbpfPort>;
}
