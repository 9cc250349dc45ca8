/**
 * Test doubles for the process source: a recording `EventSender`, a scripted `SnapshotPort`, and
 * kernel ports whose events the test pushes by hand. Test support only.
 */
import type { ProcessEvent } from '@daemoneye/core';
import { RecordingSender as CoreRecordingSender } from '@daemoneye/core/testing';
import type {
  AuditExecRecord,
  AuditLossInfo,
  EbpfLossInfo,
  EbpfProcessEvent,
  ProcConnectorEvent,
  ProcConnectorLossInfo,
} from '@daemoneye/native';
import type { AuditExecPort, EbpfPort, KernelPorts, ProcConnectorPort } from '../src/internal/kernel-port.ts';
import type { SnapshotPort, SnapshotResult } from '../src/internal/snapshot-port.ts';
import type { ProcessSnapshot } from '../src/process-snapshot.ts';

/** A sender that keeps every event and loss report (core's, with a shortcut for process events). */
export class RecordingSender extends CoreRecordingSender {
  process(subtype?: ProcessEvent['subtype']): ProcessEvent[] {
    return this.ofKind('process', subtype);
  }
  override waitFor(pred: (s: this) => boolean, ms = 3000): Promise<void> {
    return super.waitFor(
      pred,
      ms,
      () =>
        `events: ${JSON.stringify(this.events.map((e) => (e.kind === 'process' ? `${e.subtype}:${e.pid}` : e.kind)))}`,
    );
  }
}

/** A minimal snapshot record. */
export function snap(pid: number, over: Partial<ProcessSnapshot> = {}): ProcessSnapshot {
  return {
    pid,
    ppid: 1,
    name: `p${pid}`,
    executablePath: `/usr/bin/p${pid}`,
    executableDeleted: false,
    commandLine: [`p${pid}`],
    startTime: 1_700_000_000_000 + pid,
    startTicks: pid * 10,
    memoryUsage: 4096,
    userId: 0,
    userName: 'root',
    accessible: true,
    fileExists: true,
    threadCount: 1,
    state: 'S',
    kernelThread: false,
    ...over,
  };
}

/** A snapshot port that returns whatever `processes` holds at each scan. */
export class ScriptedSnapshot implements SnapshotPort {
  processes: ProcessSnapshot[] = [];
  scans = 0;
  failWith: string | undefined;
  closed = 0;
  async scan(): Promise<SnapshotResult> {
    this.scans++;
    if (this.failWith !== undefined) throw new Error(this.failWith);
    return { processes: [...this.processes], durationMs: 1 };
  }
  failure(): string | undefined {
    return this.failWith;
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

type Cb<T> = ((v: T) => void) | undefined;

/** Kernel ports driven by the test. */
export class FakeKernel implements KernelPorts {
  events: Cb<readonly ProcConnectorEvent[]>;
  loss: Cb<ProcConnectorLossInfo>;
  error: Cb<Error>;
  execs: Cb<readonly AuditExecRecord[]>;
  auditLoss: Cb<AuditLossInfo>;
  connectorClosed = 0;
  auditClosed = 0;
  withAudit = true;
  connectorFails: string | undefined;

  /** What the source asked the connector to capture at exec time. */
  captureOnExec: unknown;

  async openProcConnector(options: { readonly captureOnExec?: unknown }): Promise<ProcConnectorPort> {
    this.captureOnExec = options.captureOnExec;
    if (this.connectorFails !== undefined) throw new Error(this.connectorFails);
    return {
      onEvents: (cb) => {
        this.events = cb;
      },
      onLoss: (cb) => {
        this.loss = cb;
      },
      onError: (cb) => {
        this.error = cb;
      },
      close: async () => {
        this.connectorClosed++;
      },
    };
  }

  /** Delay before open calls resolve (ms). */
  openDelayMs = 0;

  async openAuditExecMonitor(): Promise<AuditExecPort> {
    if (this.openDelayMs > 0) await new Promise((r) => setTimeout(r, this.openDelayMs));
    if (!this.withAudit) throw new Error('audit unavailable');
    return {
      onExec: (cb) => {
        this.execs = cb;
      },
      onLoss: (cb) => {
        this.auditLoss = cb;
      },
      close: async () => {
        this.auditClosed++;
      },
    };
  }
}

/** Kernel ports with an eBPF loader too (the source prefers it), whose events the test pushes by hand. */
export class FakeEbpfKernel extends FakeKernel {
  ebpfEvents: Cb<readonly EbpfProcessEvent[]>;
  ebpfLoss: Cb<EbpfLossInfo>;
  ebpfClosed = 0;

  probeEbpf(): { available: true } {
    return { available: true };
  }

  async openEbpf(): Promise<EbpfPort> {
    return {
      onEvents: (cb) => {
        this.ebpfEvents = cb;
      },
      onLoss: (cb) => {
        this.ebpfLoss = cb;
      },
      onError: () => {},
      close: async () => {
        this.ebpfClosed++;
      },
    };
  }
}

/**
 * A proc connector exit event as the kernel reports a normal exit: `parentTgid` 0 (the default)
 * stands for a parent the kernel could not name.
 */
export function exitEvent(e: {
  readonly timestampNs: bigint;
  readonly pid: number;
  readonly tgid: number;
  readonly exitCode: number;
  readonly parentTgid?: number;
}): Extract<ProcConnectorEvent, { type: 'exit' }> {
  const parentTgid = e.parentTgid ?? 0;
  return {
    type: 'exit',
    timestampNs: e.timestampNs,
    pid: e.pid,
    tgid: e.tgid,
    exitCode: e.exitCode,
    exitSignal: 17,
    status: e.exitCode << 8,
    termSignal: 0,
    parentPid: parentTgid,
    parentTgid,
  };
}

/** CLOCK_MONOTONIC now, in ns (what the connector stamps). */
export const nowNs = (): bigint => process.hrtime.bigint();
