/**
 * `FsEventSource`: the filesystem event source. `start` opens fanotify (when privileged; filesystem
 * marks reporting names, the acting process and its uid) or inotify (recursive watches within a
 * budget), walks the watched trees, and sends a `filesystem` event per change under them: create,
 * modify, delete, rename (old and new path), attrib (new mode and owner) and, when asked, access.
 * Globs filter before watches are placed and before events are sent. Modify events on one file within
 * the coalescing window become one event with the count, ended early by a close-after-write (which
 * hashes the file with SHA-256 when its path matches a hash glob). A kernel queue overflow is
 * counted, reported as an `overflow` event and followed by a rescan of the trees that reports what
 * changed. Events beyond the rate limit are counted as lost, never silently dropped.
 */
import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, openSync, type Stats, statSync } from 'node:fs';
import {
  CollectorError,
  describeError,
  type EventSender,
  type EventSource,
  type FilesystemEvent,
  type HealthReport,
  type LinuxCapabilityName,
  type Logger,
  SourceCaps,
  type SourceCapsBits,
  silentLogger,
} from '@daemoneye/core';
import { type FsErrorCode, fsErrors } from './errors.ts';
import type { Backend, BackendContext, Change } from './internal/backend.ts';
import { openFanotifyBackend } from './internal/fanotify-backend.ts';
import { openInotifyBackend } from './internal/inotify-backend.ts';
import { Tree } from './internal/tree.ts';
import { type FsSourceOptions, type ResolvedFsSourceOptions, resolveFsSourceOptions } from './options.ts';

/** Counters of the current run. */
export interface FsSourceStats {
  readonly backend: 'fanotify' | 'inotify' | 'idle';
  /** Directories watched (inotify) or filesystems marked (fanotify). */
  readonly watches: number;
  /** Directories and entries the source knows in the trees. */
  readonly directories: number;
  readonly eventsSent: number;
  /** Events the collector's channel refused. */
  readonly eventsDropped: number;
  /** Events over the rate limit, counted as lost. */
  readonly rateLimited: number;
  /** Kernel modify events folded into coalesced ones. */
  readonly coalesced: number;
  /** Kernel queue overflows, and the rescans that followed them. */
  readonly overflows: number;
  readonly rescans: number;
  /** Events the last rescan reported. */
  readonly lastRescanEvents: number;
  readonly hashed: number;
  readonly hashErrors: number;
}

interface PendingModify {
  event: Mutable<FilesystemEvent>;
  count: number;
  readonly since: number;
}

interface Run {
  readonly abort: AbortController;
  tree: Tree;
  readonly roots: readonly string[];
  backend: Backend | undefined;
  tx: EventSender;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** How long after the last overflow the rescan starts (the kernel queue drains first). */
const RESCAN_DELAY_MS = 200;
/** How far before the overflow a file's ctime counts as a change the rescan reports. */
const RESCAN_SLACK_MS = 2000;
const RATE_DEGRADED_MS = 60_000;

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

function fsError(code: FsErrorCode, message: string, cause?: unknown): CollectorError {
  return fsErrors.error(code, message, cause === undefined ? {} : { cause });
}

/** The filesystem event source. Construct with {@link createFsSource} or `new`. */
export class FsEventSource implements EventSource {
  readonly #o: ResolvedFsSourceOptions;
  readonly #log: Logger;
  #run: Run | undefined;
  #releasing: Promise<void> | undefined;
  #lastBackend: 'fanotify' | 'inotify' | undefined;
  #error: string | undefined;
  readonly #pending = new Map<string, PendingModify>();
  /** Files whose coalesced modify went out before their close-after-write. */
  readonly #dirty = new Set<string>();
  #flushTimer: NodeJS.Timeout | undefined;
  /** Events waiting behind a hash in progress, in order. */
  #queue: (FilesystemEvent | Promise<FilesystemEvent>)[] = [];
  #draining = false;
  #rate = { second: 0, count: 0, lost: 0, reportedLost: 0, lastLostAt: 0 };
  #overflow = { pending: 0, since: Number.POSITIVE_INFINITY, timer: undefined as NodeJS.Timeout | undefined };
  #rescanning: Promise<void> | undefined;
  #lastBatchAt = 0;
  #stats = this.#zero();

  /** Throws `ERR_CONFIG_INVALID` naming the bad option. */
  constructor(options: FsSourceOptions = {}) {
    this.#o = resolveFsSourceOptions(options);
    this.#log = (this.#o.logger ?? silentLogger).child({ source: this.#o.name });
  }

  #zero() {
    return {
      sent: 0,
      dropped: 0,
      rateLimited: 0,
      coalesced: 0,
      overflows: 0,
      rescans: 0,
      lastRescanEvents: 0,
      hashed: 0,
      hashErrors: 0,
    };
  }

  name(): string {
    return this.#o.name;
  }

  /** FILESYSTEM | REALTIME, plus KERNEL_LEVEL | SYSTEM_WIDE while fanotify is the backend. */
  capabilities(): SourceCapsBits {
    const base = SourceCaps.FILESYSTEM | SourceCaps.REALTIME;
    const kind = this.#run?.backend?.kind ?? this.#lastBackend;
    return kind === 'fanotify' ? base | SourceCaps.KERNEL_LEVEL | SourceCaps.SYSTEM_WIDE : base;
  }

  /**
   * What the running backend still needs: CAP_DAC_READ_SEARCH under both (fanotify opens the file
   * handles of its events with open_by_handle_at; inotify watches and walks directories other users
   * own; hashes read files of any owner). fanotify's marks are set at start, so CAP_SYS_ADMIN is not kept.
   */
  privileges(): LinuxCapabilityName[] {
    return this.backend() === 'idle' ? [] : ['CAP_DAC_READ_SEARCH'];
  }

  /** The backend reporting changes (`idle` when not running). */
  backend(): 'fanotify' | 'inotify' | 'idle' {
    return this.#run?.backend?.kind ?? 'idle';
  }

  /** Counters of the current run. */
  stats(): FsSourceStats {
    const s = this.#stats;
    return {
      backend: this.backend(),
      watches: this.#run?.backend?.watches() ?? 0,
      directories: this.#run?.tree.dirCount ?? 0,
      eventsSent: s.sent,
      eventsDropped: s.dropped,
      rateLimited: s.rateLimited,
      coalesced: s.coalesced,
      overflows: s.overflows,
      rescans: s.rescans,
      lastRescanEvents: s.lastRescanEvents,
      hashed: s.hashed,
      hashErrors: s.hashErrors,
    };
  }

  /**
   * Opens the backend, walks the trees, tells the collector it is ready, then sends events until
   * `shutdownSignal` aborts or `stop()` is called. Rejects with `ERR_FS_NO_PATHS` when none of the
   * paths is a directory, `ERR_FS_BACKEND_UNAVAILABLE` when no backend opens, or when already running.
   */
  async start(tx: EventSender, shutdownSignal: AbortSignal): Promise<void> {
    if (this.#run !== undefined)
      throw new CollectorError('ERR_COLLECTOR_STATE', `source ${this.#o.name} is already running`);
    const abort = new AbortController();
    const signal = AbortSignal.any([shutdownSignal, abort.signal]);
    this.#stats = this.#zero();
    this.#error = undefined;
    this.#rate = { second: 0, count: 0, lost: 0, reportedLost: 0, lastLostAt: 0 };
    const roots = this.#roots();
    const run: Run = { abort, tree: new Tree(), roots, backend: undefined, tx };
    this.#run = run;
    try {
      try {
        run.backend = await this.#open(run, signal);
      } catch (e) {
        // Stopped while opening: not a failure.
        if (signal.aborted) return;
        throw e;
      }
      this.#lastBackend = run.backend.kind;
      if (signal.aborted) return;
      this.#log.info(
        { backend: run.backend.kind, roots, watches: run.backend.watches(), directories: run.tree.dirCount },
        'filesystem source watching',
      );
      tx.ready();
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      });
    } finally {
      await this.#release(run);
    }
  }

  /** Releases the backend and makes `start` return. Idempotent. */
  async stop(): Promise<void> {
    const run = this.#run;
    if (run !== undefined) await this.#release(run);
    else await this.#releasing;
  }

  /**
   * Rejects after the backend failed. Resolves Degraded while directories are unwatched (the inotify
   * watch limit or budget: the message names it and the sysctl), with fanotify mount marks, or when
   * events went over the rate limit in the last minute.
   */
  async healthCheck(): Promise<HealthReport | undefined> {
    if (this.#error !== undefined) throw fsError('ERR_FS_BACKEND_UNAVAILABLE', this.#error);
    const reasons: string[] = [];
    const why = this.#run?.backend?.degraded();
    if (why !== undefined) reasons.push(why);
    if (this.#rate.lastLostAt > 0 && Date.now() - this.#rate.lastLostAt < RATE_DEGRADED_MS)
      reasons.push(`${this.#stats.rateLimited} events over the rate limit of ${this.#o.rateLimit}/s were dropped`);
    return reasons.length > 0 ? { status: 'degraded', reason: reasons.join('; ') } : undefined;
  }

  #roots(): string[] {
    const roots: string[] = [];
    for (const p of this.#o.paths) {
      if (this.#o.excluded(p)) continue;
      let st: Stats;
      try {
        st = statSync(p);
      } catch {
        this.#log.info({ path: p }, 'watched path does not exist: skipped');
        continue;
      }
      if (!st.isDirectory()) {
        this.#log.warn({ path: p }, 'watched path is not a directory: skipped');
        continue;
      }
      // A root inside another root is covered by it.
      if (roots.some((r) => p === r || p.startsWith(`${r === '/' ? '' : r}/`))) continue;
      for (let i = roots.length - 1; i >= 0; i--) {
        const r = roots[i] as string;
        if (r.startsWith(`${p === '/' ? '' : p}/`)) roots.splice(i, 1);
      }
      roots.push(p);
    }
    if (roots.length === 0)
      throw fsError('ERR_FS_NO_PATHS', `none of the watched paths is a directory: ${this.#o.paths.join(', ')}`);
    return roots;
  }

  async #open(run: Run, signal: AbortSignal): Promise<Backend> {
    const o = this.#o;
    const ctx: BackendContext = {
      roots: run.roots,
      tree: run.tree,
      excluded: o.excluded,
      emit: (changes) => this.#onChanges(run, changes),
      overflow: (count) => this.#onOverflow(run, count),
      error: (e) => {
        this.#error = `filesystem backend failed: ${describeError(e)}`;
        this.#log.error({ err: e }, 'filesystem backend failed');
      },
      logger: this.#log,
      signal,
    };
    const access = o.operations.has('access');
    if (o.backend !== 'inotify') {
      try {
        return await openFanotifyBackend(ctx, { mark: o.fanotifyMark, access, ignorePids: [process.pid] });
      } catch (e) {
        if (o.backend === 'fanotify')
          throw fsError('ERR_FS_BACKEND_UNAVAILABLE', `fanotify cannot open: ${describeError(e)}`, e);
        this.#log.info({ reason: describeError(e) }, 'fanotify unavailable: using inotify');
        run.tree = new Tree();
      }
    }
    try {
      return await openInotifyBackend({ ...ctx, tree: run.tree }, { maxWatches: o.maxWatches, access });
    } catch (e) {
      throw fsError('ERR_FS_BACKEND_UNAVAILABLE', `inotify cannot open: ${describeError(e)}`, e);
    }
  }

  async #release(run: Run): Promise<void> {
    if (this.#run !== run) return this.#releasing;
    run.abort.abort();
    this.#releasing = (async () => {
      if (this.#flushTimer !== undefined) clearInterval(this.#flushTimer);
      this.#flushTimer = undefined;
      if (this.#overflow.timer !== undefined) clearTimeout(this.#overflow.timer);
      this.#overflow = { pending: 0, since: Number.POSITIVE_INFINITY, timer: undefined };
      this.#pending.clear();
      this.#dirty.clear();
      this.#queue = [];
      await run.backend?.close().catch((e: unknown) => this.#log.warn({ err: e }, 'filesystem backend close failed'));
      this.#reportRateLoss(run);
      if (this.#run === run) this.#run = undefined;
    })();
    return this.#releasing;
  }

  // --- changes to events -------------------------------------------------------------------------

  #wanted(c: Change): boolean {
    const o = this.#o;
    if (c.op !== 'close_write' && !o.operations.has(c.op)) return false;
    if (c.op === 'close_write' && !o.operations.has('modify')) return false;
    const inPath = !o.excluded(c.path) && o.included(c.path);
    if (c.oldPath === undefined) return inPath;
    return inPath || (!o.excluded(c.oldPath) && o.included(c.oldPath));
  }

  #onChanges(run: Run, changes: readonly Change[]): void {
    if (this.#run !== run) return;
    this.#lastBatchAt = Date.now();
    for (const c of changes) {
      if (!this.#wanted(c)) continue;
      if (c.op === 'modify' && this.#o.coalesceMs > 0) {
        const p = this.#pending.get(c.path);
        if (p !== undefined) {
          p.count++;
          this.#stats.coalesced++;
          continue;
        }
        this.#pending.set(c.path, { event: this.#event(c), count: 1, since: Date.now() });
        this.#flushTimer ??= setInterval(() => this.#flushExpired(), Math.max(10, this.#o.coalesceMs / 2));
        continue;
      }
      if (c.op === 'close_write') {
        this.#closeWrite(c);
        continue;
      }
      this.#flushPath(c.path);
      if (c.oldPath !== undefined) this.#flushPath(c.oldPath);
      this.#dirty.delete(c.path);
      if (c.op === 'delete' || c.op === 'rename') this.#dirty.delete(c.oldPath ?? c.path);
      this.#output(this.#event(c));
    }
  }

  #closeWrite(c: Change): void {
    const p = this.#pending.get(c.path);
    const hash = this.#o.hashed(c.path);
    if (p !== undefined) {
      this.#pending.delete(c.path);
      this.#finishModify(p, hash);
    } else if (this.#dirty.has(c.path) && hash) {
      // The coalesced modify already went out: the hash follows in a modify of its own.
      this.#output(this.#hashed(this.#event({ ...c, op: 'modify' })));
    } else if (this.#o.coalesceMs === 0 && hash) {
      this.#output(this.#hashed(this.#event({ ...c, op: 'modify' })));
    }
    this.#dirty.delete(c.path);
  }

  #finishModify(p: PendingModify, hash: boolean): void {
    p.event.modifyCount = p.count;
    this.#refresh(p.event);
    this.#output(hash ? this.#hashed(p.event) : p.event);
  }

  #flushPath(path: string): void {
    const p = this.#pending.get(path);
    if (p === undefined) return;
    this.#pending.delete(path);
    this.#dirty.add(path);
    this.#finishModify(p, false);
  }

  #flushExpired(): void {
    const cutoff = Date.now() - this.#o.coalesceMs;
    for (const [path, p] of this.#pending) {
      if (p.since > cutoff) continue;
      this.#pending.delete(path);
      this.#dirty.add(path);
      this.#finishModify(p, false);
    }
    if (this.#pending.size === 0 && this.#flushTimer !== undefined) {
      clearInterval(this.#flushTimer);
      this.#flushTimer = undefined;
    }
  }

  #event(c: Change): Mutable<FilesystemEvent> {
    const e: Mutable<FilesystemEvent> = {
      kind: 'filesystem',
      path: c.path,
      operation: c.op === 'close_write' ? 'modify' : c.op,
      timestamp: Date.now(),
    };
    if (c.oldPath !== undefined) e.oldPath = c.oldPath;
    if (c.isDir) e.isDirectory = true;
    if (c.pid !== undefined) e.pid = c.pid;
    if (c.processName !== undefined) e.processName = c.processName;
    if (c.uid !== undefined) e.uid = c.uid;
    if (c.rescan === true) e.rescan = true;
    if (c.op !== 'delete') this.#refresh(e);
    return e;
  }

  /** Size, mode and owner from a stat of the path now (absent when it is gone). */
  #refresh(e: Mutable<FilesystemEvent>): void {
    let st: Stats | undefined;
    try {
      // A file already gone is the common case under churn (created and removed at once): asking
      // for `undefined` then spares building and throwing an error per event.
      st = lstatSync(e.path, { throwIfNoEntry: false });
    } catch {
      return;
    }
    if (st === undefined) return;
    e.size = st.size;
    e.permissions = octal(st.mode);
    e.ownerUid = st.uid;
    e.ownerGid = st.gid;
  }

  #hashed(e: Mutable<FilesystemEvent>): Promise<FilesystemEvent> {
    if (e.size !== undefined && e.size > this.#o.hashMaxBytes) return Promise.resolve(e);
    // Opened here, on the thread that keeps the collector's capabilities after a privilege drop (the
    // stream's reads run on Node's thread pool, which has none, but need none on an open file).
    let fd: number;
    try {
      fd = openSync(e.path, 'r');
    } catch (err) {
      this.#stats.hashErrors++;
      this.#log.debug({ path: e.path, err }, 'file could not be hashed');
      return Promise.resolve(e);
    }
    return new Promise((resolve) => {
      const h = createHash('sha256');
      const stream = createReadStream('', { fd });
      stream.on('data', (d) => h.update(d));
      stream.on('error', (err) => {
        this.#stats.hashErrors++;
        this.#log.debug({ path: e.path, err }, 'file could not be hashed');
        resolve(e);
      });
      stream.on('end', () => {
        this.#stats.hashed++;
        e.fileHash = h.digest('hex');
        e.hashAlgorithm = 'sha256';
        resolve(e);
      });
    });
  }

  // --- output: order kept behind hashes, rate limit ----------------------------------------------

  #output(e: FilesystemEvent | Promise<FilesystemEvent>): void {
    if (!this.#draining && this.#queue.length === 0 && !(e instanceof Promise)) {
      this.#send(e);
      return;
    }
    this.#queue.push(e);
    if (!this.#draining) void this.#drain();
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#queue.length > 0) {
        const next = this.#queue.shift() as FilesystemEvent | Promise<FilesystemEvent>;
        this.#send(next instanceof Promise ? await next : next);
      }
    } finally {
      this.#draining = false;
    }
  }

  #send(e: FilesystemEvent): void {
    const run = this.#run;
    if (run === undefined) return;
    const limit = this.#o.rateLimit;
    if (limit > 0) {
      const second = Math.floor(Date.now() / 1000);
      if (second !== this.#rate.second) {
        this.#reportRateLoss(run);
        this.#rate.second = second;
        this.#rate.count = 0;
      }
      if (this.#rate.count >= limit) {
        this.#rate.lost++;
        this.#stats.rateLimited++;
        this.#rate.lastLostAt = Date.now();
        return;
      }
      this.#rate.count++;
    }
    if (run.tx.trySend(e)) this.#stats.sent++;
    else this.#stats.dropped++;
  }

  #reportRateLoss(run: Run): void {
    const n = this.#rate.lost - this.#rate.reportedLost;
    if (n <= 0) return;
    this.#rate.reportedLost = this.#rate.lost;
    run.tx.reportLoss(n, 'rate_limited');
    this.#log.warn({ dropped: n, limit: this.#o.rateLimit }, 'filesystem events over the rate limit were dropped');
  }

  // --- overflow and rescan -----------------------------------------------------------------------

  #onOverflow(run: Run, count: number): void {
    if (this.#run !== run) return;
    this.#stats.overflows += count;
    this.#overflow.pending += count;
    this.#overflow.since = Math.min(this.#overflow.since, (this.#lastBatchAt || Date.now()) - RESCAN_SLACK_MS);
    this.#log.warn({ count, backend: run.backend?.kind }, 'kernel event queue overflowed: rescanning the trees');
    if (this.#overflow.timer !== undefined) clearTimeout(this.#overflow.timer);
    this.#overflow.timer = setTimeout(() => {
      this.#overflow.timer = undefined;
      this.#rescanning = (this.#rescanning ?? Promise.resolve()).then(() => this.#rescan(run));
    }, RESCAN_DELAY_MS);
  }

  async #rescan(run: Run): Promise<void> {
    if (this.#run !== run) return;
    const lost = this.#overflow.pending;
    const since = this.#overflow.since;
    this.#overflow.pending = 0;
    this.#overflow.since = Number.POSITIVE_INFINITY;
    if (lost === 0) return;
    await run.backend?.walked;
    if (this.#run !== run) return;
    this.#stats.rescans++;
    let reported = 0;
    for (const root of run.roots) {
      this.#output({ kind: 'filesystem', path: root, operation: 'overflow', lostCount: lost, timestamp: Date.now() });
      const r = await run.tree.rescan(root, since, { excluded: this.#o.excluded, enterDir: run.backend?.enterDir });
      if (this.#run !== run) return;
      const changes: Change[] = [
        ...r.deleted.map((d) => ({ op: 'delete' as const, path: d.path, isDir: d.isDir, rescan: true })),
        ...r.created.map((d) => ({ op: 'create' as const, path: d.path, isDir: d.isDir, rescan: true })),
        ...r.changed.map((path) => ({ op: 'modify' as const, path, isDir: false, rescan: true })),
      ];
      reported += changes.length;
      // Rescan findings are not coalesced: each is one event.
      for (const c of changes) if (this.#wanted(c)) this.#output(this.#event(c));
    }
    this.#stats.lastRescanEvents = reported;
    this.#log.info({ lost, reported }, 'rescan after overflow done');
  }
}

/** Creates a filesystem source; throws `ERR_CONFIG_INVALID` for bad options. */
export function createFsSource(options: FsSourceOptions = {}): FsEventSource {
  return new FsEventSource(options);
}
