/**
 * The kernel event ports the real-time backend needs: a proc connector reader (fork/exec/exit/uid/comm
 * with pids only) and an audit exec monitor (one record per execve with exe, argv, cwd and ids). The
 * shapes match `@daemoneye/native`, whose readers are the default implementation; tests pass fakes.
 * Types only.
 */

/** A proc connector event (pids are in the initial pid namespace; `timestampNs` is CLOCK_MONOTONIC). */
export type ConnectorEvent =
  | {
      readonly type: 'fork';
      readonly timestampNs: bigint;
      readonly parentPid: number;
      readonly parentTgid: number;
      readonly childPid: number;
      readonly childTgid: number;
    }
  | {
      readonly type: 'exec';
      readonly timestampNs: bigint;
      readonly pid: number;
      readonly tgid: number;
      /** `/proc/<pid>/` files read at once by the reader thread: text, or `-errno` when gone. */
      readonly captured?: Readonly<Record<string, string | number>>;
    }
  | {
      readonly type: 'exit';
      readonly timestampNs: bigint;
      readonly pid: number;
      readonly tgid: number;
      /** The exit code, 128 + signal when killed by a signal. */
      readonly exitCode: number;
      readonly termSignal?: number;
      readonly parentTgid?: number;
    }
  | {
      readonly type: 'uid';
      readonly timestampNs: bigint;
      readonly pid: number;
      readonly tgid: number;
      readonly ruid: number;
      readonly euid: number;
    }
  | {
      readonly type: 'comm';
      readonly timestampNs: bigint;
      readonly pid: number;
      readonly tgid: number;
      readonly comm: string;
    };

/** A running proc connector subscription. */
export interface ProcConnectorPort {
  onEvents(cb: (events: readonly ConnectorEvent[]) => void): void;
  onLoss(cb: (info: { readonly reason: string }) => void): void;
  onError(cb: (err: Error) => void): void;
  close(): Promise<void>;
}

/** One exec seen by audit (the records of one audit event, merged). */
export interface AuditExecRecord {
  readonly serial: number;
  readonly timestampMs: number;
  readonly pid: number;
  readonly ppid: number;
  readonly uid: number;
  readonly euid: number;
  readonly exe?: string;
  readonly comm?: string;
  readonly argv: readonly string[];
  readonly cwd?: string;
  readonly success: boolean;
}

/** A running audit exec monitor. Closing it restores the audit rules and enabled flag it changed. */
export interface AuditExecPort {
  onExec(cb: (records: readonly AuditExecRecord[]) => void): void;
  onLoss(cb: (info: { readonly reason: string; readonly count: number }) => void): void;
  onError?(cb: (err: Error) => void): void;
  close(): Promise<void>;
}

/** Opens the kernel readers; each rejects with a reason when unavailable. */
export interface KernelPorts {
  openProcConnector(options: {
    readonly receiveBufferBytes: number;
    /** `/proc/<pid>/` files and links to capture in the reader thread when a process execs. */
    readonly captureOnExec?: { readonly files: readonly string[]; readonly links: readonly string[] };
  }): Promise<ProcConnectorPort>;
  openAuditExecMonitor?(options: { readonly key: string }): Promise<AuditExecPort>;
}
