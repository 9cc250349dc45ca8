/**
 * `RealtimeBackend`: turns proc connector events (and audit exec records, when there are) into process
 * events. Kernel events carry pids only, so each fork/exec is enriched from /proc at once on the main
 * thread (a few small reads); a process that is already gone still yields an event with what is known
 * (the connector's pids, the parent's or the audit record's details). Only thread-group leaders count.
 * The process table is updated the moment an event arrives, so a concurrent rescan cannot report it a
 * second time; emission goes through the publisher, in per-pid order, with `trySend`. Loss is passed
 * up for reporting and a rescan. It owns no readers; the source opens and closes them.
 */
import type { Logger } from '@daemoneye/core';
import type { AuditExecRecord, ProcConnectorEvent } from '@daemoneye/native';
import type { ProcessSnapshot } from '../process-snapshot.ts';
import { type ProcessFacts, processEvent } from './event-mapping.ts';
import type { EventPublisher } from './event-publisher.ts';
import type { ExecCorrelator } from './exec-correlator.ts';
import type { ProcScanner } from './proc-scan.ts';
import type { ProcessTable } from './process-table.ts';

/** Backend wiring. */
export interface RealtimeBackendOptions {
  readonly scanner: ProcScanner;
  readonly table: ProcessTable;
  readonly publisher: EventPublisher;
  readonly includeKernelThreads: boolean;
  readonly logger: Logger;
  /** `stat` of a path, for `fileExists` when the process is gone (true when it exists). */
  readonly exists: (path: string) => boolean;
}

/**
 * What the connector's reader thread reads of an exec'd process at once (the files a single-process
 * read uses), so a process that exits within a millisecond still has its executable and arguments.
 */
export const EXEC_CAPTURE = { files: ['cmdline', 'stat', 'status', 'cgroup'], links: ['exe', 'cwd'] } as const;

/** Epoch ms of a CLOCK_MONOTONIC timestamp in ns (the proc connector's clock). */
export function epochMsOfMonotonicNs(ns: bigint): number {
  const ageNs = process.hrtime.bigint() - ns;
  return Math.round(Date.now() - Number(ageNs) / 1e6);
}

function baseName(path: string | undefined): string | undefined {
  return path === undefined ? undefined : path.slice(path.lastIndexOf('/') + 1);
}

/** Handles kernel process events. */
export class RealtimeBackend {
  readonly #o: RealtimeBackendOptions;
  /** Details learnt by an exec task after the process had exited, for its exit event. */
  readonly #exited = new Map<number, ProcessFacts & { executableHash?: string }>();
  /** Kernel threads whose fork was skipped, so their exits are skipped too (the kernel reports parent 0 then). */
  readonly #skippedKernel = new Set<number>();
  #correlator: ExecCorrelator | undefined;

  constructor(options: RealtimeBackendOptions) {
    this.#o = options;
  }

  /** Pairs execs with audit records through `correlator` from now on (`undefined`: /proc only). */
  useCorrelator(correlator: ExecCorrelator | undefined): void {
    this.#correlator = correlator;
  }

  /** Handles one batch from the proc connector, in order. */
  handleConnector(events: readonly ProcConnectorEvent[]): void {
    for (const ev of events) {
      switch (ev.type) {
        case 'fork':
          if (ev.childPid === ev.childTgid) this.#fork(ev.childTgid, ev.parentTgid, ev.timestampNs);
          break;
        case 'exec':
          if (ev.pid === ev.tgid) this.#exec(ev.tgid, ev.timestampNs, ev.captured);
          break;
        case 'exit':
          if (ev.pid === ev.tgid) this.#exit(ev);
          break;
        case 'uid':
          if (ev.pid === ev.tgid) this.#change(ev.tgid, 'uid_change', { userId: ev.ruid }, ev.timestampNs, ev.euid);
          break;
        case 'comm':
          if (ev.pid === ev.tgid) this.#change(ev.tgid, 'comm_change', { name: ev.comm }, ev.timestampNs);
          break;
      }
    }
  }

  /** An audit exec record whose connector exec never came: emit it alone. */
  emitAuditOnly(record: AuditExecRecord): void {
    const facts = this.#merge(record.pid, undefined, record);
    this.#o.publisher.enqueue(record.pid, async () => {
      const hash = await this.#o.publisher.hash(
        facts.executablePath === undefined ? {} : { path: facts.executablePath },
      );
      this.#o.publisher.trySend(
        processEvent(facts, 'exec', {
          hash,
          timestamp: record.timestampMs,
          detectedBy: 'audit',
          metadata: auditMeta(record),
        }),
      );
    });
  }

  #skipKernel(snap: ProcessSnapshot | undefined, ppid: number): boolean {
    if (this.#o.includeKernelThreads) return false;
    return snap === undefined ? ppid === 2 : snap.kernelThread;
  }

  #fork(pid: number, ppid: number, ts: bigint): void {
    const { scanner, table, publisher } = this.#o;
    const snap = scanner.readOne(pid);
    if (this.#skipKernel(snap, ppid)) {
      if (this.#skippedKernel.size > 65_536) this.#skippedKernel.clear();
      this.#skippedKernel.add(pid);
      return;
    }
    const parent = table.get(ppid);
    const at = epochMsOfMonotonicNs(ts);
    const facts: ProcessFacts = snap ?? {
      pid,
      name: parent?.name ?? '',
      ...(parent?.executablePath === undefined ? {} : { executablePath: parent.executablePath }),
      commandLine: parent?.commandLine ?? [],
      startTime: at,
      ...(parent?.userId === undefined ? {} : { userId: parent.userId }),
      ...(parent?.userName === undefined ? {} : { userName: parent.userName }),
    };
    const inherited = parent?.executableHash !== undefined && parent.executablePath === facts.executablePath;
    table.set({
      ...facts,
      ppid,
      ...(snap === undefined ? {} : { startTicks: snap.startTicks }),
      ...(inherited ? { executableHash: parent.executableHash } : {}),
    });
    publisher.enqueue(pid, async () => {
      const hash = inherited
        ? { ok: true as const, hash: parent.executableHash ?? '', cached: true }
        : await publisher.hash(facts.executablePath === undefined ? {} : { path: facts.executablePath });
      const meta = snap === undefined ? { enrichment: 'parent' } : {};
      publisher.trySend(
        processEvent({ ...facts, ppid }, 'start', { hash, timestamp: at, detectedBy: 'connector', metadata: meta }),
      );
    });
  }

  #exec(pid: number, ts: bigint, captured: Readonly<Record<string, string | number>> | undefined): void {
    const { scanner, table, publisher } = this.#o;
    const correlator = this.#correlator;
    // Files the connector's reader thread captured right after the exec, when it did.
    const snap = scanner.readOne(pid, captured);
    const known = table.get(pid);
    if (snap?.kernelThread === true && !this.#o.includeKernelThreads) return;
    if (snap !== undefined) table.set(snap);
    const at = epochMsOfMonotonicNs(ts);
    // Audit is needed only when /proc no longer shows the new image (the process already exited).
    const complete = snap !== undefined && snap.executablePath !== undefined && snap.commandLine.length > 0;
    const plan =
      correlator === undefined
        ? { skip: false as const, audit: Promise.resolve(undefined) }
        : correlator.connectorExec(pid, at, !complete);
    if (plan.skip) return;
    publisher.enqueue(pid, async () => {
      const audit = await plan.audit;
      const facts = this.#merge(pid, snap, audit, known);
      const target = {
        ...(snap === undefined ? {} : { pid }),
        ...(facts.executablePath === undefined ? {} : { path: facts.executablePath }),
      };
      const hash = await publisher.hash(target);
      if (table.get(pid) !== undefined) {
        table.update(pid, { ...facts, ...(hash?.ok === true ? { executableHash: hash.hash } : {}) });
      } else {
        // Exited already: its exit event (queued behind this task) reports these details.
        if (this.#exited.size > 65_536) this.#exited.clear();
        this.#exited.set(pid, { ...facts, ...(hash?.ok === true ? { executableHash: hash.hash } : {}) });
      }
      const detectedBy = audit === undefined ? 'connector' : 'connector+audit';
      const meta = {
        ...(audit === undefined ? {} : auditMeta(audit)),
        ...(snap === undefined ? { enrichment: audit === undefined ? 'none' : 'audit' } : {}),
      };
      publisher.trySend(processEvent(facts, 'exec', { hash, timestamp: at, detectedBy, metadata: meta }));
    });
  }

  #merge(
    pid: number,
    snap: ProcessSnapshot | undefined,
    audit: AuditExecRecord | undefined,
    known?: ProcessFacts,
  ): ProcessFacts {
    if (audit === undefined) {
      return (
        snap ?? {
          pid,
          name: known?.name ?? '',
          ...(known?.ppid === undefined ? {} : { ppid: known.ppid }),
          ...(known?.startTime === undefined ? {} : { startTime: known.startTime }),
        }
      );
    }
    const exe = audit.exe ?? snap?.executablePath;
    const userName = this.#o.scanner.userName(audit.uid);
    const startTime = snap?.startTime ?? known?.startTime;
    const cwd = audit.cwd ?? snap?.cwd;
    return {
      ...snap,
      pid,
      ppid: audit.ppid,
      name: snap?.name ?? audit.comm ?? baseName(exe) ?? '',
      ...(exe === undefined ? {} : { executablePath: exe }),
      commandLine: audit.argv.length > 0 ? audit.argv : (snap?.commandLine ?? []),
      ...(startTime === undefined ? {} : { startTime }),
      userId: audit.uid,
      ...(userName === undefined ? {} : { userName }),
      accessible: snap?.accessible ?? true,
      fileExists: snap?.fileExists ?? (exe !== undefined && this.#o.exists(exe)),
      ...(cwd === undefined ? {} : { cwd }),
    };
  }

  #exit(ev: Extract<ProcConnectorEvent, { type: 'exit' }>): void {
    const { table, publisher, scanner } = this.#o;
    const pid = ev.tgid;
    if (this.#skippedKernel.delete(pid)) return;
    const known = table.exit(pid);
    let facts: ProcessFacts | undefined = known;
    if (facts === undefined) {
      if (!this.#o.includeKernelThreads && ev.parentTgid === 2) return;
      const late = scanner.readOne(pid);
      if (late?.kernelThread === true && !this.#o.includeKernelThreads) return;
      // The kernel reports parent 0 when the parent is already gone: leave ppid unknown then.
      facts = late ?? {
        pid,
        name: '',
        ...(ev.parentTgid === undefined || ev.parentTgid === 0 ? {} : { ppid: ev.parentTgid }),
      };
    }
    const at = epochMsOfMonotonicNs(ev.timestampNs);
    const meta = ev.termSignal !== undefined && ev.termSignal !== 0 ? { termSignal: ev.termSignal } : {};
    const fallback: ProcessFacts & { executableHash?: string } = facts;
    publisher.enqueue(pid, async () => {
      const exitFacts = this.#exited.get(pid) ?? fallback;
      this.#exited.delete(pid);
      const h = exitFacts.executableHash;
      const hash = h === undefined ? undefined : { ok: true as const, hash: h, cached: true };
      publisher.trySend(
        processEvent(exitFacts, 'exit', {
          exitCode: ev.exitCode,
          timestamp: at,
          detectedBy: 'connector',
          metadata: meta,
          ...(hash === undefined ? {} : { hash }),
        }),
      );
    });
  }

  #change(
    pid: number,
    subtype: 'uid_change' | 'comm_change',
    patch: Partial<ProcessFacts>,
    ts: bigint,
    euid?: number,
  ): void {
    const { table, publisher } = this.#o;
    const known = table.get(pid);
    if (known === undefined) return;
    const userName = patch.userId === undefined ? undefined : this.#o.scanner.userName(patch.userId);
    const update = { ...patch, ...(userName === undefined ? {} : { userName }) };
    table.update(pid, update);
    const facts = { ...known, ...update };
    const at = epochMsOfMonotonicNs(ts);
    publisher.enqueue(pid, async () => {
      publisher.trySend(
        processEvent(facts, subtype, {
          timestamp: at,
          detectedBy: 'connector',
          metadata: euid === undefined ? {} : { euid },
        }),
      );
    });
  }
}

function auditMeta(record: AuditExecRecord): Record<string, string | number | boolean> {
  return { auditSerial: record.serial, euid: record.euid };
}
