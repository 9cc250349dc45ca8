/**
 * `ProcessEventSource`: the process event source. `start` sends a snapshot of every process, then
 * follows process starts, execs and exits — in real time through the proc connector (plus audit exec
 * records when available) with periodic reconciling rescans, or, where the connector cannot open, by
 * diffing snapshots every `pollIntervalMs`. Losses are reported to the collector and followed by a
 * rescan, so a gap is never silent. It owns its worker, kernel readers and hasher; `stop` releases them.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CollectorError,
  describeError,
  type EventSender,
  type EventSource,
  type HealthReport,
  type LinuxCapabilityName,
  type Logger,
  type PlatformMetadata,
  type ProcessEvent,
  SourceCaps,
  type SourceCapsBits,
  silentLogger,
} from '@daemoneye/core';
import { AdaptiveSnapshot, type SnapshotPlace } from './internal/adaptive-snapshot.ts';
import { EventPublisher } from './internal/event-publisher.ts';
import { ExecutableHasher } from './internal/exe-hasher.ts';
import { ExecCorrelator } from './internal/exec-correlator.ts';
import type { AuditExecPort, EbpfPort, KernelPorts, ProcConnectorPort } from './internal/kernel-port.ts';
import { loadNativeKernelPorts } from './internal/native-kernel.ts';
import { nodeProcReader } from './internal/proc-reader.ts';
import { ProcScanner } from './internal/proc-scan.ts';
import { ProcessTable } from './internal/process-table.ts';
import { EXEC_CAPTURE, RealtimeBackend } from './internal/realtime-backend.ts';
import { Reconciler } from './internal/reconciler.ts';
import { SystemInformationSnapshot } from './internal/si-snapshot.ts';
import type { SnapshotPort } from './internal/snapshot-port.ts';
import {
  type ProcessSourceOptions,
  type ResolvedProcessSourceOptions,
  resolveProcessSourceOptions,
} from './options.ts';

/** The audit rule key the source installs for exec records. */
const AUDIT_KEY = 'daemoneye-exec';

/** Which backend produces the source's events. */
export type ProcessBackend = 'idle' | 'ebpf' | 'proc-connector' | 'proc-connector+audit' | 'poll';

/** What the source has done so far in the current run. */
export interface ProcessSourceStats {
  readonly backend: ProcessBackend;
  readonly knownProcesses: number;
  readonly scans: number;
  readonly lastScanMs: number;
  readonly eventsSent: number;
  readonly eventsDropped: number;
  readonly lossReports: number;
  readonly recoveredStarts: number;
  readonly recoveredExits: number;
  readonly recoveredExecs: number;
  /** Live processes evicted from the full process table. */
  readonly tableEvictions: number;
  /** Exited processes dropped from the table before their retention ended. */
  readonly exitedEvictions: number;
  /**
   * Where full scans of /proc run: `current` (the main thread: a small host), `worker` (snapshot
   * workers: scans there took over 25 ms), `undefined` before the first scan or with another port.
   */
  readonly snapshotThread: SnapshotPlace | undefined;
}

interface Run {
  readonly abort: AbortController;
  readonly snapshot: SnapshotPort;
  readonly hasher: ExecutableHasher | undefined;
  readonly table: ProcessTable;
  readonly publisher: EventPublisher;
  readonly reconciler: Reconciler;
  connector?: ProcConnectorPort;
  audit?: AuditExecPort;
  ebpf?: EbpfPort;
  correlator?: ExecCorrelator;
  lossReports: number;
}

/** The process event source. Construct with {@link createProcessSource} or `new`. */
export class ProcessEventSource implements EventSource {
  readonly #o: ResolvedProcessSourceOptions;
  readonly #log: Logger;
  #run: Run | undefined;
  #backend: ProcessBackend = 'idle';
  #connectorError: string | undefined;
  /** Why the source polls although real-time was asked for (`realtime: 'auto'`). */
  #fallbackReason: string | undefined;
  /** Why the eBPF backend is not the one running, when it was wanted. */
  #ebpfReason: string | undefined;
  #releasing: Promise<void> | undefined;

  /** Throws `ERR_CONFIG_INVALID` naming the bad option. */
  constructor(options: ProcessSourceOptions = {}) {
    this.#o = resolveProcessSourceOptions(options);
    this.#log = (this.#o.logger ?? silentLogger).child({ source: this.#o.name });
  }

  name(): string {
    return this.#o.name;
  }

  /** PROCESS | SYSTEM_WIDE, plus REALTIME | KERNEL_LEVEL while a kernel backend (eBPF or the proc connector) delivers events; {@link backend} says which. */
  capabilities(): SourceCapsBits {
    const base = SourceCaps.PROCESS | SourceCaps.SYSTEM_WIDE;
    return this.#backend === 'ebpf' || this.#backend.startsWith('proc-connector')
      ? base | SourceCaps.REALTIME | SourceCaps.KERNEL_LEVEL
      : base;
  }

  /** Why the eBPF backend is not running although it was wanted (`backend: 'auto' | 'ebpf'`); `undefined` when it runs or was not asked for. */
  ebpfFallbackReason(): string | undefined {
    return this.#ebpfReason;
  }

  /**
   * What the running backend still needs after start-up: reading other users' /proc/PID/exe and
   * hashing their executables (CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH) under every backend; with the proc
   * connector, CAP_NET_ADMIN to unsubscribe at stop; with audit, CAP_AUDIT_CONTROL to restore the
   * kernel's audit state at stop and CAP_AUDIT_READ for the multicast socket. eBPF needs nothing more
   * once its programs are loaded.
   */
  privileges(): LinuxCapabilityName[] {
    const b = this.#backend;
    if (b === 'idle') return [];
    const caps: LinuxCapabilityName[] = ['CAP_DAC_READ_SEARCH', 'CAP_SYS_PTRACE'];
    if (b.startsWith('proc-connector')) caps.push('CAP_NET_ADMIN');
    if (b === 'proc-connector+audit') caps.push('CAP_AUDIT_CONTROL', 'CAP_AUDIT_READ');
    return caps;
  }

  /** The backend in use (`idle` before start and after stop). */
  backend(): ProcessBackend {
    return this.#backend;
  }

  /** Counters of the current run. */
  stats(): ProcessSourceStats {
    const r = this.#run;
    const s = r?.reconciler.stats;
    return {
      backend: this.#backend,
      knownProcesses: r?.table.size ?? 0,
      scans: s?.scans ?? 0,
      lastScanMs: s?.lastScanMs ?? 0,
      eventsSent: r?.publisher.stats.sent ?? 0,
      eventsDropped: r?.publisher.stats.dropped ?? 0,
      lossReports: r?.lossReports ?? 0,
      recoveredStarts: s?.recoveredStarts ?? 0,
      recoveredExits: s?.recoveredExits ?? 0,
      recoveredExecs: s?.recoveredExecs ?? 0,
      tableEvictions: r?.table.stats.evictions ?? 0,
      exitedEvictions: r?.table.stats.exitedEvictions ?? 0,
      snapshotThread: r?.snapshot instanceof AdaptiveSnapshot ? r.snapshot.where() : undefined,
    };
  }

  /**
   * Sends a `snapshot` event per process (awaiting `tx.send`), then follows process activity until
   * `shutdownSignal` aborts or `stop()` is called, and resolves. Rejects (after releasing everything)
   * when the first snapshot cannot be taken, or when called while already running.
   */
  async start(tx: EventSender, shutdownSignal: AbortSignal): Promise<void> {
    if (this.#run !== undefined)
      throw new CollectorError('ERR_COLLECTOR_STATE', `source ${this.#o.name} is already running`);
    const run = this.#createRun(tx);
    this.#run = run;
    this.#connectorError = undefined;
    this.#fallbackReason = undefined;
    this.#ebpfReason = undefined;
    this.#log.debug(privileges(), 'process source starting');
    const signal = AbortSignal.any([shutdownSignal, run.abort.signal]);
    try {
      await this.#openRealtime(run, tx);
      this.#warnMissingCapabilities();
      const count = await run.reconciler.initial(() => tx.ready());
      this.#log.info({ processes: count, backend: this.#backend }, 'process snapshot sent');
      while (!signal.aborted) {
        const interval = this.#backend === 'poll' ? this.#o.pollIntervalMs : this.#o.scanIntervalMs;
        await sleep(interval, undefined, { signal }).catch(() => {});
        if (!signal.aborted) await run.reconciler.requestRescan();
      }
    } catch (e) {
      // Stopped while starting: the readers were closed under us; that is a normal end.
      if (!signal.aborted) throw e;
    } finally {
      await this.#release(run);
    }
  }

  /** Releases the worker, kernel readers and hasher, and makes `start` return. Idempotent. */
  async stop(): Promise<void> {
    const run = this.#run;
    if (run !== undefined) await this.#release(run);
    else await this.#releasing;
  }

  /**
   * Rejects with the reason when the snapshot worker died. Resolves Degraded, with the reason, while
   * the source polls /proc because the real-time backend could not open or failed (it still reports
   * every process, but starts and exits between two polls are missed). Otherwise Healthy, naming the
   * backend (and why eBPF is not it, when it was wanted); `undefined` before start.
   */
  async healthCheck(): Promise<HealthReport | undefined> {
    const failure = this.#run?.snapshot.failure();
    if (failure !== undefined) throw new CollectorError('ERR_SOURCE_FAILED', `process snapshots failing: ${failure}`);
    if (this.#connectorError !== undefined) {
      return {
        status: 'degraded',
        reason: `${this.#connectorError.startsWith('eBPF: ') ? 'eBPF backend' : 'proc connector'} failed (${this.#connectorError}); polling every ${this.#o.pollIntervalMs} ms instead`,
      };
    }
    if (this.#fallbackReason !== undefined && this.#backend === 'poll') {
      return {
        status: 'degraded',
        reason: `polling every ${this.#o.pollIntervalMs} ms: ${this.#fallbackReason}`,
      };
    }
    if (this.#backend === 'idle') return undefined;
    if (this.#backend === 'ebpf') return { status: 'healthy', reason: 'backend ebpf' };
    if (this.#ebpfReason !== undefined)
      return { status: 'healthy', reason: `backend ${this.#backend} (${this.#ebpfReason})` };
    return undefined;
  }

  /**
   * Without root, says at warn level (once per start) which capabilities are missing, what each one
   * would give, and how to grant them.
   */
  #warnMissingCapabilities(): void {
    const caps = effectiveCapabilities();
    if (caps === undefined) return;
    const wanted: Array<[string, number, string]> = [
      ['CAP_BPF', 39, 'exact exec events from eBPF (with CAP_PERFMON)'],
      ['CAP_PERFMON', 38, 'exact exec events from eBPF (with CAP_BPF)'],
      ['CAP_NET_ADMIN', 12, 'real-time fork/exec/exit events through the proc connector (else /proc is polled)'],
      ['CAP_AUDIT_CONTROL', 30, 'exact exec path, arguments and user from audit records'],
      ['CAP_AUDIT_READ', 37, 'reading audit records beside a running auditd'],
      ['CAP_SYS_PTRACE', 19, "the executable, working directory and hash of other users' processes"],
      ['CAP_DAC_READ_SEARCH', 2, 'hashing executables this user cannot read'],
    ];
    const missing = wanted.filter(([, bit]) => (caps & (1n << BigInt(bit))) === 0n);
    if (missing.length === 0) return;
    const names = missing.map(([name]) => name.toLowerCase());
    this.#log.warn(
      {
        missing: Object.fromEntries(missing.map(([name, , what]) => [name, what])),
        grant: `run as root, or grant ${names.join(',')} (systemd: AmbientCapabilities=${missing.map(([n]) => n).join(' ')}; or setcap ${names.join(',')}+ep on the node binary)`,
        backend: this.#backend,
      },
      `process source degraded: missing ${missing.map(([n]) => n).join(', ')}`,
    );
  }

  #createRun(tx: EventSender): Run {
    const o = this.#o;
    const snapshot =
      o.snapshot ?? (process.platform === 'linux' ? new AdaptiveSnapshot() : new SystemInformationSnapshot());
    const hasher = o.hashing.enabled
      ? new ExecutableHasher({ maxFileBytes: o.hashing.maxFileBytes, timeoutMs: o.hashing.timeoutMs })
      : undefined;
    const table = new ProcessTable({ maxEntries: o.processTableMax, exitedRetentionMs: o.exitedRetentionMs });
    const publisher = new EventPublisher({
      tx,
      hasher,
      logger: this.#log,
      lineage: lineageOf(table, o.ancestryDepth),
      shedding: o.shedding,
    });
    const reconciler = new Reconciler({
      snapshot,
      table,
      publisher,
      includeKernelThreads: o.includeKernelThreads,
      logger: this.#log,
      kernelFed: () => this.#backend !== 'poll',
    });
    return { abort: new AbortController(), snapshot, hasher, table, publisher, reconciler, lossReports: 0 };
  }

  async #openRealtime(run: Run, tx: EventSender): Promise<void> {
    this.#backend = 'poll';
    if (this.#o.realtime === 'off' || this.#o.backend === 'poll') return;
    const kernel: KernelPorts | undefined = this.#o.kernel ?? (await loadNativeKernelPorts(this.#log));
    if (kernel === undefined) {
      this.#fallbackReason =
        process.platform === 'linux'
          ? 'the kernel bindings (@daemoneye/native) could not load'
          : `no kernel-level backend on ${process.platform}`;
      this.#log.info({ reason: this.#fallbackReason }, 'process backend: polling');
      return;
    }
    if (run.abort.signal.aborted) return;
    // Single-pid reads on the main thread: the FFI reader pays off over thousands of files, not a few.
    const reader = this.#o.procReader ?? nodeProcReader;
    const backend = new RealtimeBackend({
      scanner: new ProcScanner(reader, { trackCpu: false }),
      table: run.table,
      publisher: run.publisher,
      includeKernelThreads: this.#o.includeKernelThreads,
      logger: this.#log,
      settleMs: this.#o.auditWaitMs,
      exists: (path) => {
        try {
          reader.stat(path);
          return true;
        } catch {
          return false;
        }
      },
    });
    const lost = (count: number, reason: string): void => {
      run.lossReports++;
      tx.reportLoss(count, reason);
      this.#log.warn({ count, reason }, 'process events lost; rescanning');
      void run.reconciler.requestRescan();
    };
    if (this.#o.backend === 'auto' || this.#o.backend === 'ebpf') {
      if (await this.#openEbpf(run, kernel, backend, lost, tx)) return;
      if (run.abort.signal.aborted) return;
      if (this.#o.backend === 'ebpf') {
        this.#fallbackReason = this.#ebpfReason;
        this.#log.warn({ reason: this.#ebpfReason }, 'process backend ebpf was forced but cannot run; polling');
        return;
      }
    }
    try {
      const connector = await kernel.openProcConnector({
        receiveBufferBytes: this.#o.receiveBufferBytes,
        captureOnExec: EXEC_CAPTURE,
      });
      // Stopped while opening: the run is already released, so close what just opened.
      if (run.abort.signal.aborted) return void (await connector.close());
      run.connector = connector;
    } catch (e) {
      const why = `proc connector unavailable (${describeError(e)})`;
      this.#fallbackReason = this.#ebpfReason === undefined ? why : `${this.#ebpfReason}; ${why}`;
      this.#log.info({ reason: describeError(e) }, 'proc connector unavailable; polling');
      return;
    }
    this.#log.debug({ receiveBufferBytes: this.#o.receiveBufferBytes }, 'proc connector opened');
    run.connector.onEvents((events) => backend.handleConnector(events));
    run.connector.onLoss((info) => lost(1, `proc_connector_${info.reason}`));
    run.connector.onError((err) => {
      this.#connectorError = describeError(err);
      this.#backend = 'poll';
      this.#log.error({ err }, 'proc connector failed; polling');
      void run.reconciler.requestRescan();
    });
    this.#backend = 'proc-connector';
    if (this.#o.audit === 'off' || kernel.openAuditExecMonitor === undefined) return;
    try {
      const audit = await kernel.openAuditExecMonitor({ key: AUDIT_KEY, stateFile: this.#o.auditStateFile });
      if (run.abort.signal.aborted) return void (await audit.close());
      run.audit = audit;
    } catch (e) {
      this.#log.info({ reason: describeError(e) }, 'audit exec monitor unavailable; exec details from /proc only');
      return;
    }
    const correlator = new ExecCorrelator({ waitMs: this.#o.auditWaitMs, onOrphan: (r) => backend.emitAuditOnly(r) });
    run.correlator = correlator;
    backend.useCorrelator(correlator);
    run.audit.onExec((records) => {
      for (const r of records) correlator.auditExec(r);
    });
    run.audit.onLoss((info) => lost(info.count, `audit_${info.reason}`));
    run.audit.onError?.((err) => {
      this.#log.warn({ err }, 'audit exec monitor failed; exec details from /proc only');
      backend.useCorrelator(undefined);
      correlator.close();
      this.#backend = this.#backend === 'proc-connector+audit' ? 'proc-connector' : this.#backend;
    });
    this.#backend = 'proc-connector+audit';
    this.#log.debug({ backend: this.#backend, key: AUDIT_KEY }, 'audit exec monitor opened');
  }

  /**
   * Opens the eBPF backend when the probe allows it; true when it runs. Otherwise records why in
   * {@link ebpfFallbackReason} (logged at info) and returns false. Audit is never touched here.
   */
  async #openEbpf(
    run: Run,
    kernel: KernelPorts,
    backend: RealtimeBackend,
    lost: (count: number, reason: string) => void,
    tx: EventSender,
  ): Promise<boolean> {
    // Kernel ports without an eBPF loader (another platform's, a test's) offer no eBPF to fall back from.
    if (kernel.openEbpf === undefined) return false;
    const probe = kernel.probeEbpf?.() ?? { available: true as const };
    if (!probe.available) {
      this.#ebpfReason = probe.reason;
      this.#log.info({ reason: probe.reason }, 'eBPF process backend unavailable; falling back');
      return false;
    }
    let ebpf: EbpfPort;
    try {
      ebpf = await kernel.openEbpf({ latencyMs: this.#o.ebpfLatencyMs, ringBufferBytes: this.#o.ebpfRingBufferBytes });
    } catch (e) {
      this.#ebpfReason = `eBPF: ${describeError(e)}`;
      this.#log.info({ reason: describeError(e) }, 'eBPF process backend refused; falling back');
      return false;
    }
    if (run.abort.signal.aborted) {
      await ebpf.close();
      return false;
    }
    run.ebpf = ebpf;
    ebpf.onEvents((events) => backend.handleEbpf(events));
    ebpf.onLoss((info) => {
      if (info.reason === 'argv_truncated' || info.reason === 'filename_truncated') {
        // Delivered, but cut: counted as loss of data with its reason; no rescan can restore it.
        tx.reportLoss(info.count, `ebpf_${info.reason}`);
        return;
      }
      lost(info.count, `ebpf_${info.reason}`);
    });
    ebpf.onError((err) => {
      this.#connectorError = `eBPF: ${describeError(err)}`;
      this.#backend = 'poll';
      this.#log.error({ err }, 'eBPF process backend failed; polling');
      void run.reconciler.requestRescan();
    });
    this.#backend = 'ebpf';
    this.#log.info({ backend: 'ebpf' }, 'process backend: eBPF');
    return true;
  }

  #release(run: Run): Promise<void> {
    if (this.#run !== run) return this.#releasing ?? Promise.resolve();
    this.#run = undefined;
    this.#releasing = this.#closeRun(run);
    return this.#releasing;
  }

  async #closeRun(run: Run): Promise<void> {
    this.#backend = 'idle';
    run.abort.abort();
    run.correlator?.close();
    const closing = [run.ebpf?.close(), run.connector?.close(), run.audit?.close(), run.snapshot.close()];
    const results = await Promise.allSettled(closing);
    for (const r of results)
      if (r.status === 'rejected') this.#log.warn({ err: r.reason }, 'closing a process reader failed');
    run.hasher?.close();
  }
}

/**
 * The lineage metadata of an event: the parent's name and executable, and the chain of up to `depth`
 * ancestors (nearest first) as JSON `[{ pid, name, executablePath }]`, from the process table.
 */
function lineageOf(table: ProcessTable, depth: number): (event: ProcessEvent) => PlatformMetadata | undefined {
  return (event) => {
    const ppid = event.ppid;
    if (ppid === undefined || ppid === 0) return undefined;
    const lineage = table.ancestryJson(ppid, Math.max(depth, 1));
    if (lineage === undefined) return { parentError: 'not in the process table' };
    const { parent, json } = lineage;
    const meta: Record<string, string | number | boolean> = { parentName: parent.name };
    if (parent.executablePath !== undefined) meta.parentExecutablePath = parent.executablePath;
    if (depth > 0) meta.ancestry = json;
    return meta;
  };
}

/** The effective capability set of this process (`CapEff` of /proc/self/status), or undefined off Linux. */
function effectiveCapabilities(): bigint | undefined {
  try {
    const cap = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return cap === undefined ? undefined : BigInt(`0x${cap}`);
  } catch {
    return undefined;
  }
}

/** Who the collector runs as, for the debug log: uid, euid and the effective capability mask. */
function privileges(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (typeof process.getuid === 'function') out.uid = process.getuid();
  if (typeof process.geteuid === 'function') out.euid = process.geteuid();
  try {
    const cap = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (cap !== undefined) out.capEff = cap;
  } catch {
    // Not Linux or no /proc: uid and euid say enough.
  }
  return out;
}

/** Creates a process event source; throws `ERR_CONFIG_INVALID` naming a bad option. */
export function createProcessSource(options: ProcessSourceOptions = {}): ProcessEventSource {
  return new ProcessEventSource(options);
}
