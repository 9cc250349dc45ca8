/**
 * `RealtimeBackend`: turns proc connector events (and audit exec records, when there are) into process
 * events. Kernel events carry pids only, so each fork/exec is enriched from /proc at once on the main
 * thread (a few small reads); a process that is already gone still yields an event with what is known
 * (the connector's pids, the parent's or the audit record's details). Only thread-group leaders count.
 * The process table is updated the moment an event arrives, so a concurrent rescan cannot report it a
 * second time; emission goes through the publisher, in per-pid order, with `trySend`. Loss is passed
 * up for reporting and a rescan. It owns no readers; the source opens and closes them.
 */
import { realpathSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@daemoneye/core';
import type { AuditExecRecord, EbpfProcessEvent, ProcConnectorEvent } from '@daemoneye/native';
import type { ProcessSnapshot } from '../process-snapshot.ts';
import { type ProcessFacts, processEvent } from './event-mapping.ts';
import type { EventPublisher } from './event-publisher.ts';
import type { ExecCorrelator } from './exec-correlator.ts';
import { type CgroupInfo, processName } from './proc-parse.ts';
import { type ProcessPlace, type ProcScanner, withCgroup } from './proc-scan.ts';
import type { KnownProcess, ProcessTable } from './process-table.ts';

/** Backend wiring. */
export interface RealtimeBackendOptions {
  readonly scanner: ProcScanner;
  readonly table: ProcessTable;
  readonly publisher: EventPublisher;
  readonly includeKernelThreads: boolean;
  readonly logger: Logger;
  /** `stat` of a path, for `fileExists` when the process is gone (true when it exists). */
  readonly exists: (path: string) => boolean;
  /**
   * Without audit, how long an exec event waits (ms) for a later exec of the same process that would
   * show its /proc read belongs to another image (default 0: no wait).
   */
  readonly settleMs?: number;
}

/** An exit event of either kernel backend (the eBPF one does not know the exit signal). */
type ExitEvent = Omit<Extract<ProcConnectorEvent, { type: 'exit' }>, 'exitSignal'> & { readonly exitSignal?: number };

/** An exec event of the eBPF backend. */
type KernelExec = Extract<EbpfProcessEvent, { type: 'exec' }>;
/** A fork event of the eBPF backend: it carries the child's start time, cgroup id and kernel-thread flag. */
type KernelFork = Extract<EbpfProcessEvent, { type: 'fork' }>;

/**
 * How long a cgroup read for one cgroup v2 id is reused for later forks into that cgroup. Ids are
 * not reused while the host runs; the bound only lets a renamed cgroup directory show its new
 * path within this time.
 */
const CGROUP_REUSE_MS = 60_000;
/** Cgroup ids remembered at most (the map starts afresh beyond). */
const CGROUP_IDS_MAX = 4096;

/** A /proc read for an exec event not sent yet; `stale` once a later exec of the process preceded the read. */
interface ExecRead {
  readonly atNs: bigint;
  /** Why the read is not this exec's, once a later exec or user change preceded it. */
  stale?: string;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** Why a field is empty: the process was gone before /proc could be read. */
const GONE = 'exited before it could be read';
/** Why an exit event has no name: the process started and exited unseen (connector loss, or before the first scan). */
const NEVER_SEEN = 'not seen before it exited';
/** Why /proc fields of an exec event are not this exec's. */
const STALE_REASON = "the process exec'd again before /proc was read";
/** Why the user of an exec event read from /proc is not the exec's. */
const UID_REASON = 'the process changed its user before /proc was read';

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
  /** /proc reads of exec events not sent yet, per pid, for telling a read of a later image. */
  readonly #reads = new Map<number, ExecRead[]>();
  /** Kernel threads whose fork was skipped, so their exits are skipped too (the kernel reports parent 0 then). */
  readonly #skippedKernel = new Set<number>();
  /** Cgroups read for eBPF forks, by cgroup v2 id (pure cgroup v2 hosts only), with when they were read. */
  readonly #cgroups = new Map<bigint, { readonly cgroup: CgroupInfo; readonly at: number }>();
  #correlator: ExecCorrelator | undefined;

  constructor(options: RealtimeBackendOptions) {
    this.#o = options;
  }

  /** Pairs execs with audit records through `correlator` from now on (`undefined`: /proc only). */
  useCorrelator(correlator: ExecCorrelator | undefined): void {
    this.#correlator = correlator;
  }

  /**
   * Handles one batch from the eBPF backend, in order. Its exec events carry the file name, argv,
   * user and parent the kernel had at the exec: those are taken as they are, /proc (read now)
   * fills only the rest, and a /proc read that shows a later image is not used for image fields.
   */
  handleEbpf(events: readonly EbpfProcessEvent[]): void {
    for (const ev of events) {
      switch (ev.type) {
        case 'fork':
          if (ev.childPid === ev.childTgid) this.#fork(ev.childTgid, ev.parentTgid, ev.timestampNs, 'ebpf', ev);
          break;
        case 'exec':
          this.#exec(ev.tgid, ev.timestampNs, undefined, undefined, ev);
          break;
        case 'exit':
          if (ev.pid === ev.tgid) this.#exit(ev, 'ebpf');
          break;
      }
    }
  }

  /** Handles one batch from the proc connector, in order. */
  handleConnector(events: readonly ProcConnectorEvent[]): void {
    for (const ev of events) {
      switch (ev.type) {
        case 'fork':
          if (ev.childPid === ev.childTgid) this.#fork(ev.childTgid, ev.parentTgid, ev.timestampNs, 'connector');
          break;
        case 'exec':
          if (ev.pid === ev.tgid) this.#exec(ev.tgid, ev.timestampNs, ev.captured, ev.capturedAtNs);
          break;
        case 'exit':
          if (ev.pid === ev.tgid) this.#exit(ev, 'connector');
          break;
        case 'uid':
          this.#markStale(ev.tgid, ev.timestampNs, UID_REASON);
          if (ev.pid === ev.tgid) this.#change(ev.tgid, 'uid_change', { userId: ev.ruid }, ev.timestampNs, ev.euid);
          break;
        case 'comm':
          if (ev.pid === ev.tgid) this.#change(ev.tgid, 'comm_change', { name: ev.comm }, ev.timestampNs);
          break;
      }
    }
  }

  /**
   * Where a forked child is, from its eBPF fork record: the start time and kernel-thread flag the
   * kernel gave, and the cgroup, read from /proc unless a fork into the same cgroup v2 id read it
   * within {@link CGROUP_REUSE_MS}. Unlike a /proc read, it has the start time of a child that is
   * gone already.
   */
  #kernelPlace(pid: number, ppid: number, k: KernelFork): ProcessPlace {
    const kernelThread = k.childKernelThread || pid === 2 || ppid === 2;
    const place: Writable<ProcessPlace> = { ...this.#o.scanner.startOf(k.childStartNs), kernelThread };
    if (kernelThread) return place;
    const id = k.childCgroupId;
    const now = Date.now();
    const seen = id === 0n ? undefined : this.#cgroups.get(id);
    let cgroup = seen !== undefined && now - seen.at < CGROUP_REUSE_MS ? seen.cgroup : undefined;
    if (cgroup === undefined) {
      const read = this.#o.scanner.readCgroup(pid);
      if (read.error !== undefined) place.fieldErrors = { cgroup: read.error };
      cgroup = read.cgroup;
      if (cgroup !== undefined && read.unifiedOnly === true && id !== 0n) {
        if (this.#cgroups.size >= CGROUP_IDS_MAX) this.#cgroups.clear();
        this.#cgroups.set(id, { cgroup, at: now });
      }
    }
    if (cgroup !== undefined) withCgroup(place, cgroup);
    return place;
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

  #skipKernel(snap: { readonly kernelThread: boolean } | undefined, ppid: number): boolean {
    if (this.#o.includeKernelThreads) return false;
    return snap === undefined ? ppid === 2 : snap.kernelThread;
  }

  /**
   * A later exec (or user change) of `pid` stamped `tsNs`: every pending /proc read of `pid` taken
   * after it shows that later state, not the exec it was read for.
   */
  #markStale(pid: number, tsNs: bigint, reason: string): void {
    for (const r of this.#reads.get(pid) ?? []) if (r.atNs > tsNs) r.stale ??= reason;
  }

  #trackRead(pid: number, atNs: bigint): ExecRead {
    const read: ExecRead = { atNs };
    const list = this.#reads.get(pid);
    if (list === undefined) {
      if (this.#reads.size >= 65_536) {
        const first = this.#reads.keys().next().value;
        if (first !== undefined) this.#reads.delete(first);
      }
      this.#reads.set(pid, [read]);
    } else list.push(read);
    return read;
  }

  #untrack(pid: number, read: ExecRead): void {
    const list = this.#reads.get(pid);
    const i = list?.indexOf(read) ?? -1;
    if (list === undefined || i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.#reads.delete(pid);
  }

  /**
   * A fork: the child is still its parent's image, so the event reports the parent's executable,
   * name, command line, user and hash (from the table, else read from /proc), with the child's own
   * pid, start time and cgroup. Reading the child's image instead would mix programs when it execs
   * at once. Empty fields carry the reason in `fieldErrors`.
   */
  #fork(pid: number, ppid: number, ts: bigint, detectedBy: 'connector' | 'ebpf', kernel?: KernelFork): void {
    const { scanner, table, publisher } = this.#o;
    const parent = table.get(ppid);
    // With the parent known, the child's image is the parent's: only where the child is gets read
    // (with eBPF only its cgroup, unless a fork into the same cgroup read it already).
    const full = parent === undefined ? scanner.readOne(pid) : undefined;
    let snap: ProcessPlace | ProcessSnapshot | undefined = full;
    if (parent !== undefined)
      snap = kernel === undefined ? scanner.readPlace(pid) : this.#kernelPlace(pid, ppid, kernel);
    if (this.#skipKernel(snap, ppid)) {
      if (this.#skippedKernel.size > 65_536) this.#skippedKernel.clear();
      this.#skippedKernel.add(pid);
      return;
    }
    const at = epochMsOfMonotonicNs(ts);
    let image: KnownProcess | ProcessSnapshot | undefined = parent;
    let imageFrom = 'parent';
    if (image === undefined) {
      image = scanner.readOne(ppid);
      if (image === undefined && full !== undefined) {
        image = full;
        imageFrom = 'child';
      }
    }
    const errors: Record<string, string> = { ...image?.fieldErrors };
    if (image === undefined) {
      errors.name = GONE;
      errors.exe = GONE;
    }
    const commandLine = image?.commandLine ?? [];
    if (commandLine.length === 0 && errors.cmdline === undefined) errors.cmdline = GONE;
    const facts: Writable<ProcessFacts> = {
      pid,
      ppid,
      name: image?.name ?? '',
      commandLine,
      startTime: snap?.startTime ?? at,
      accessible: image?.accessible ?? false,
      fileExists: image?.fileExists ?? false,
    };
    if (image?.executablePath !== undefined) facts.executablePath = image.executablePath;
    if (image?.executableDeleted === true) facts.executableDeleted = true;
    if (image?.userId !== undefined) facts.userId = image.userId;
    if (image?.userName !== undefined) facts.userName = image.userName;
    if (image?.cwd !== undefined) facts.cwd = image.cwd;
    const place = snap ?? image;
    if (place?.cgroup !== undefined) facts.cgroup = place.cgroup;
    if (place?.containerId !== undefined) facts.containerId = place.containerId;
    if (place?.containerRuntime !== undefined) facts.containerRuntime = place.containerRuntime;
    if (place?.podUid !== undefined) facts.podUid = place.podUid;
    if (Object.keys(errors).length > 0) facts.fieldErrors = errors;
    const parentHash = image !== undefined && 'executableHash' in image ? image.executableHash : undefined;
    table.set({
      ...facts,
      ...(snap === undefined ? {} : { startTicks: snap.startTicks }),
      ...(parentHash === undefined ? {} : { executableHash: parentHash }),
    });
    publisher.enqueue(pid, async () => {
      const hash =
        parentHash !== undefined
          ? { ok: true as const, hash: parentHash, cached: true }
          : await publisher.hash(facts.executablePath === undefined ? {} : { path: facts.executablePath });
      const meta = imageFrom === 'parent' ? {} : { imageFrom };
      publisher.trySend(processEvent(facts, 'start', { hash, timestamp: at, detectedBy, metadata: meta }));
    });
  }

  /**
   * An exec. With audit, the event waits (bounded) for the exec's audit record and takes the path,
   * arguments, user and name from it, /proc filling only what audit lacks. A /proc read taken after
   * a later exec of the same process (the image changed under it) is not presented as this exec's:
   * with audit its image fields are dropped, without audit the event is marked `procStale`.
   */
  #exec(
    pid: number,
    ts: bigint,
    captured: Readonly<Record<string, string | number>> | undefined,
    capturedAtNs: bigint | undefined,
    kernel?: KernelExec,
  ): void {
    const { scanner, table, publisher } = this.#o;
    const correlator = kernel === undefined ? this.#correlator : undefined;
    this.#markStale(pid, ts, STALE_REASON);
    // Files the connector's reader thread captured right after the exec, when it did. An eBPF exec
    // with its argv gives the command line and the uid: /proc/PID/cmdline and status are not read.
    const snap = scanner.readOne(
      pid,
      captured,
      kernel !== undefined && kernel.argv.length > 0 ? { argv: kernel.argv, uid: kernel.uid } : undefined,
    );
    const readAtNs = captured !== undefined && capturedAtNs !== undefined ? capturedAtNs : process.hrtime.bigint();
    const known = table.get(pid);
    if (snap?.kernelThread === true && !this.#o.includeKernelThreads) return;
    if (snap !== undefined) table.set(snap);
    const at = epochMsOfMonotonicNs(ts);
    const read = this.#trackRead(pid, readAtNs);
    const settleMs = this.#o.settleMs ?? 0;
    const plan =
      kernel !== undefined
        ? { skip: false as const, audit: Promise.resolve(kernelRecord(kernel)) }
        : correlator === undefined
          ? {
              skip: false as const,
              audit: settleMs > 0 ? sleep(settleMs).then(() => undefined) : Promise.resolve(undefined),
            }
          : correlator.connectorExec(pid, at, true);
    if (plan.skip) return void this.#untrack(pid, read);
    publisher.enqueue(pid, async () => {
      const audit = await plan.audit;
      this.#untrack(pid, read);
      // The read shows another image than this exec's: audit names another executable, or (eBPF, whose
      // batches can split two quick execs so the later one cannot mark this read) another comm.
      const otherImage =
        (audit?.exe !== undefined && snap?.executablePath !== undefined && audit.exe !== snap.executablePath) ||
        (kernel !== undefined && snap !== undefined && snap.name !== processName(kernel.comm, snap.executablePath));
      const staleReason = read.stale ?? (otherImage ? STALE_REASON : undefined);
      const stale = staleReason !== undefined;
      const facts = this.#merge(pid, snap, audit, known, stale, kernel?.filename);
      // Hash what audit says ran when the process shows another image by now; else the process's own file.
      const byPid = snap !== undefined && !(stale && audit !== undefined);
      const target = {
        ...(byPid ? { pid } : {}),
        ...(facts.executablePath === undefined ? {} : { path: facts.executablePath }),
      };
      const hash = await publisher.hash(target);
      const entry = { ...facts, ...(hash?.ok === true ? { executableHash: hash.hash } : {}) };
      if (table.get(pid) !== undefined) {
        if (read.stale === undefined) table.update(pid, entry);
      } else {
        // Exited already: its exit event (queued behind this task) reports these details.
        if (this.#exited.size > 65_536) this.#exited.clear();
        this.#exited.set(pid, entry);
      }
      const detectedBy = kernel !== undefined ? 'ebpf' : audit === undefined ? 'connector' : 'connector+audit';
      const meta: Record<string, string | number | boolean> = {
        ...(kernel !== undefined ? kernelMeta(kernel, facts) : audit === undefined ? {} : auditMeta(audit)),
        ...(snap === undefined ? { enrichment: audit === undefined ? 'none' : 'audit' } : {}),
      };
      if (staleReason !== undefined && audit === undefined) {
        meta.procStale = true;
        meta.procStaleReason = staleReason;
      } else if (staleReason !== undefined) {
        meta.procImageDropped = staleReason;
      }
      publisher.trySend(processEvent(facts, 'exec', { hash, timestamp: at, detectedBy, metadata: meta }));
    });
  }

  #merge(
    pid: number,
    snap: ProcessSnapshot | undefined,
    audit: AuditExecRecord | undefined,
    known?: ProcessFacts,
    stale = false,
    filename?: string,
  ): ProcessFacts {
    if (audit === undefined) {
      return (
        snap ?? {
          // The name known so far is the previous image's: not this exec's.
          pid,
          name: '',
          ...(known?.ppid === undefined ? {} : { ppid: known.ppid }),
          ...(known?.startTime === undefined ? {} : { startTime: known.startTime }),
          fieldErrors: { name: GONE, exe: GONE, cmdline: GONE },
        }
      );
    }
    // The image fields of /proc only when the read shows this exec's image.
    const image = stale ? undefined : snap;
    // The eBPF backend gives the path passed to execve: taken when /proc cannot say what ran (the
    // process was gone), with its symbolic links resolved as /proc/PID/exe and audit resolve them, so
    // one program has one path whichever source filled it (`/bin/true` is `/usr/bin/true`); the path as
    // given stays in the event's metadata (`execFilename`).
    const exe =
      audit.exe ?? image?.executablePath ?? (filename?.startsWith('/') === true ? resolvedPath(filename) : undefined);
    const userName = this.#o.scanner.userName(audit.uid);
    const startTime = snap?.startTime ?? known?.startTime;
    const cwd = audit.cwd ?? image?.cwd;
    const name =
      (audit.comm === undefined ? undefined : processName(audit.comm, exe)) ?? image?.name ?? baseName(exe) ?? '';
    const facts: Writable<ProcessFacts> = {
      pid,
      ppid: audit.ppid,
      name,
      commandLine: audit.argv.length > 0 ? audit.argv : (image?.commandLine ?? []),
      userId: audit.uid,
      accessible: image?.accessible ?? true,
      fileExists: image?.fileExists ?? (exe !== undefined && this.#o.exists(exe)),
    };
    if (exe !== undefined) facts.executablePath = exe;
    if (startTime !== undefined) facts.startTime = startTime;
    if (userName !== undefined) facts.userName = userName;
    if (cwd !== undefined) facts.cwd = cwd;
    if (image?.executableDeleted === true) facts.executableDeleted = true;
    if (image?.threadCount !== undefined) facts.threadCount = image.threadCount;
    if (image?.memoryUsage !== undefined) facts.memoryUsage = image.memoryUsage;
    if (image?.state !== undefined) facts.state = image.state;
    // The cgroup belongs to the process, not its image.
    if (snap?.cgroup !== undefined) facts.cgroup = snap.cgroup;
    if (snap?.containerId !== undefined) facts.containerId = snap.containerId;
    if (snap?.containerRuntime !== undefined) facts.containerRuntime = snap.containerRuntime;
    if (snap?.podUid !== undefined) facts.podUid = snap.podUid;
    return facts;
  }

  /**
   * An exit. A process the source never saw still gets its exit event with what the kernel gave
   * (pid, parent, exit code, signals), marked `partial`.
   */
  #exit(ev: ExitEvent, detectedBy: 'connector' | 'ebpf'): void {
    const { table, publisher, scanner } = this.#o;
    const pid = ev.tgid;
    if (this.#skippedKernel.delete(pid)) return;
    const known = table.exit(pid);
    let facts: ProcessFacts | undefined = known;
    let partial = false;
    if (facts === undefined) {
      if (!this.#o.includeKernelThreads && ev.parentTgid === 2) return;
      const late = scanner.readOne(pid);
      if (late?.kernelThread === true && !this.#o.includeKernelThreads) return;
      partial = true;
      // The kernel reports parent 0 when the parent is already gone: leave ppid unknown then.
      const ppid = ev.parentTgid === undefined || ev.parentTgid === 0 ? {} : { ppid: ev.parentTgid };
      facts = late ?? {
        pid,
        name: '',
        ...ppid,
        fieldErrors: { name: NEVER_SEEN, exe: NEVER_SEEN, cmdline: NEVER_SEEN },
      };
    }
    const at = epochMsOfMonotonicNs(ev.timestampNs);
    const meta: Record<string, string | number | boolean> = {};
    if (ev.termSignal !== undefined && ev.termSignal !== 0) meta.termSignal = ev.termSignal;
    const fallback: ProcessFacts & { executableHash?: string } = facts;
    publisher.enqueue(pid, async () => {
      const learnt = this.#exited.get(pid);
      this.#exited.delete(pid);
      const exitFacts = learnt ?? fallback;
      if (partial && learnt === undefined) {
        meta.partial = true;
        if (ev.exitSignal !== undefined) meta.exitSignal = ev.exitSignal;
      }
      const h = exitFacts.executableHash;
      const hash = h === undefined ? undefined : { ok: true as const, hash: h, cached: true };
      publisher.trySend(
        processEvent(exitFacts, 'exit', {
          exitCode: ev.exitCode,
          timestamp: at,
          detectedBy,
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

/** `path` with its symbolic links resolved, or as given when it cannot be (the file is gone). */
function resolvedPath(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    return path;
  }
}

/** The exec facts of an eBPF exec event, in the shape the merge takes from an audit record. */
function kernelRecord(ev: KernelExec): AuditExecRecord {
  return {
    serial: 0,
    timestampMs: 0,
    pid: ev.tgid,
    ppid: ev.ppid,
    uid: ev.uid,
    euid: ev.euid,
    gid: ev.gid,
    auid: 4294967295,
    comm: ev.comm,
    argv: [...ev.argv],
    success: true,
  };
}

/** Metadata of an eBPF exec event: the effective uid, the path given to execve when it is not the executable, truncation. */
function kernelMeta(ev: KernelExec, facts: ProcessFacts): Record<string, string | number | boolean> {
  const meta: Record<string, string | number | boolean> = { euid: ev.euid, gid: ev.gid };
  if (ev.filename !== facts.executablePath) meta.execFilename = ev.filename;
  if (ev.argvTruncated) meta.argvTruncated = true;
  if (ev.filenameTruncated) meta.execFilenameTruncated = true;
  if (ev.argvUnreadable) meta.argvUnreadable = true;
  if (ev.pid !== ev.oldPid) meta.execThread = ev.oldPid;
  return meta;
}

function auditMeta(record: AuditExecRecord): Record<string, string | number | boolean> {
  return { auditSerial: record.serial, euid: record.euid };
}
