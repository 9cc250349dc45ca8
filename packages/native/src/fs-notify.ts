/**
 * The inotify and fanotify readers: a worker thread owns the notification fd and posts decoded
 * events in batches; the event loop never blocks. inotify watches are added and removed from the
 * calling thread (non-blocking system calls). Queue overflow (the kernel dropped events) is
 * reported as `overflow` loss, never thrown. This module does not walk directories or add watches
 * recursively.
 */
import type { FsNotifyEvent, RawInotifyEvent } from './fs-notify-event.ts';
import { checkOpenOptions } from './internal/abort.ts';
import { effectiveCapabilities } from './internal/capabilities.ts';
import { fanotifyReaderOver, inotifyReaderOver } from './internal/fs-notify-readers.ts';
import { startReader } from './internal/reader-host.ts';
import { invalidArgument, NativeError } from './native-error.ts';
import type { LossInfo, NativeOpenOptions } from './reader-options.ts';

/** A loss report of an inotify or fanotify reader. */
export interface FsNotifyLossInfo extends LossInfo {
  /** `overflow`: the kernel's queue overflowed (IN_Q_OVERFLOW / FAN_Q_OVERFLOW), or batches waiting for a first `onEvents` were dropped. */
  readonly reason: 'overflow';
}

/** Counters of an inotify or fanotify reader. */
export interface FsNotifyStats {
  /** Events delivered. */
  readonly received: number;
  /** The sum of loss counts (kernel overflow records, dropped events). */
  readonly lost: number;
  /** The notification fd, -1 once closed. */
  readonly fd: number;
}

/** What the inotify and fanotify readers have in common. */
export interface FsNotifyReader {
  /**
   * Registers a callback for event batches; returns a function that unregisters it. Batches that
   * arrived before the first callback are delivered to it.
   */
  onEvents(cb: (e: readonly FsNotifyEvent[]) => void): () => void;
  /** Registers a callback for loss (reason `overflow`: events were lost); returns an unsubscribe function. */
  onLoss(cb: (info: FsNotifyLossInfo) => void): () => void;
  /** Registers a callback called on each overflow loss report (the same reports as `onLoss`); returns an unsubscribe function. */
  onOverflow(cb: () => void): () => void;
  /** Registers a callback for failures after open (a read error ends the reader; a throwing callback is reported here); returns an unsubscribe function. */
  onError(cb: (err: Error) => void): () => void;
  /** Events delivered, losses, and the fd. */
  stats(): FsNotifyStats;
  /** Closes the fd and ends the worker. Idempotent; aborting the open call's `signal` does the same. */
  close(): Promise<void>;
}

/** A running inotify instance. */
export interface InotifyReader extends FsNotifyReader {
  /** Adds (or updates) a watch on `path` for `mask` (see InotifyMask); returns the watch descriptor. Throws NativeError (ENOENT, ENOSPC at the watch limit; `ERR_NATIVE_CALL` after close). */
  addWatch(path: string, mask: number): number;
  /** Removes a watch; removing one that is already gone, or after close, is a no-op. */
  removeWatch(wd: number): void;
}

/** A running fanotify notification group. */
export type FanotifyReader = FsNotifyReader;

/** Options for {@link openInotify}. */
export type InotifyOptions = NativeOpenOptions;

/** Options for {@link openFanotify}. */
export interface FanotifyOptions extends NativeOpenOptions {
  /** The events to report (see FanotifyMask): a positive bigint. */
  readonly mask: bigint;
  /** The paths to mark: at least one. */
  readonly paths: readonly string[];
  /** Mark the whole filesystem each path lives on instead of the path (default false). */
  readonly filesystemMark?: boolean;
  /** Mark the mount each path lives on instead of the path (default false; ignored with `filesystemMark`). The kernel refuses directory-entry events (CREATE, DELETE, MOVED_*, RENAME) on mount marks. */
  readonly mountMark?: boolean;
  /**
   * Report file handles and names (FAN_REPORT_DFID_NAME, Linux 5.9 and later) instead of event fds:
   * paths of created, deleted and renamed entries (RENAME events carry `oldPath`), resolved from
   * directory handles. Needed for CREATE, DELETE, MOVED_* and RENAME (default false).
   */
  readonly reportNames?: boolean;
  /** With `reportNames`: report only events whose path (or old path) is one of these or lies beneath one (default: all). */
  readonly filters?: readonly string[];
  /** With `reportNames`: drop the events caused by these processes (by tgid), before any lookup (default none). */
  readonly ignorePids?: readonly number[];
  /** With `reportNames`: read each event's process name and effective uid from /proc/PID/status as the event is read (default false). */
  readonly actors?: boolean;
}

function requireLinux(what: string): void {
  if (process.platform !== 'linux')
    throw new NativeError('ERR_NATIVE_UNAVAILABLE', `${what} needs Linux (platform is ${process.platform})`);
}

/**
 * Opens an inotify instance (no watches yet). Rejects with NativeError `ERR_NATIVE_UNAVAILABLE` off
 * Linux, `ERR_NATIVE_ABORTED` when `signal` aborts first.
 */
export async function openInotify(opts: InotifyOptions = {}): Promise<InotifyReader> {
  requireLinux('inotify');
  const { logger } = checkOpenOptions('openInotify', opts);
  const host = await startReader<RawInotifyEvent>('inotify-worker', {}, { signal: opts.signal });
  return inotifyReaderOver(host, { signal: opts.signal, logger });
}

/**
 * Opens a fanotify notification group and marks `paths` for `mask` (see FanotifyMask). A directory
 * path without `filesystemMark` gets FAN_EVENT_ON_CHILD added so events on its entries arrive;
 * `filesystemMark` marks the whole filesystem each path lives on. Rejects with NativeError
 * `ERR_NATIVE_UNAVAILABLE` off Linux or without CAP_SYS_ADMIN, `ERR_NATIVE_CALL` (errno) when a mark
 * fails, `ERR_NATIVE_INVALID_ARGUMENT` for a bad option, `ERR_NATIVE_ABORTED` when `signal` aborts first.
 */
export async function openFanotify(opts: FanotifyOptions): Promise<FanotifyReader> {
  requireLinux('fanotify');
  const { logger } = checkOpenOptions('openFanotify', opts);
  if (typeof opts.mask !== 'bigint' || opts.mask <= 0n) throw invalidArgument('mask', opts.mask, 'a positive bigint');
  if (!Array.isArray(opts.paths) || opts.paths.length === 0)
    throw invalidArgument('paths', opts.paths, 'a non-empty array of paths');
  for (const path of opts.paths)
    if (typeof path !== 'string' || path === '') throw invalidArgument('paths', opts.paths, 'non-empty strings');
  logger.debug(effectiveCapabilities(['CAP_SYS_ADMIN']) ?? {}, 'fanotify privileges found');
  if (
    opts.filters !== undefined &&
    (!Array.isArray(opts.filters) || opts.filters.some((p) => typeof p !== 'string' || !p.startsWith('/')))
  )
    throw invalidArgument('filters', opts.filters, 'an array of absolute paths');
  if (
    opts.ignorePids !== undefined &&
    (!Array.isArray(opts.ignorePids) || opts.ignorePids.some((p) => !Number.isInteger(p)))
  )
    throw invalidArgument('ignorePids', opts.ignorePids, 'an array of integer pids');
  const host = await startReader<FsNotifyEvent>(
    'fanotify-worker',
    {
      mask: opts.mask,
      paths: [...opts.paths],
      filesystemMark: opts.filesystemMark === true,
      mountMark: opts.mountMark === true,
      reportNames: opts.reportNames === true,
      filters: opts.filters === undefined ? [] : opts.filters.map((p) => (p.length > 1 ? p.replace(/\/+$/, '') : p)),
      ignorePids: opts.ignorePids === undefined ? [] : [...opts.ignorePids],
      actors: opts.actors === true,
    },
    { signal: opts.signal },
  );
  return fanotifyReaderOver(host, { signal: opts.signal, logger });
}
