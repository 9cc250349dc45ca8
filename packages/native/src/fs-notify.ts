/**
 * The inotify and fanotify readers: a worker thread owns the notification fd and posts decoded
 * events in batches; the event loop never blocks. inotify watches are added and removed from the
 * calling thread. Queue overflow (the kernel dropped events) is reported through `onOverflow`, never
 * thrown. This module does not walk directories or add watches recursively.
 */
import { type FsNotifyEvent, InotifyMask, inotifyMaskNames, type RawInotifyEvent } from './fs-notify-event.ts';
import { Errno } from './internal/constants.ts';
import { callError, libc } from './internal/libc.ts';
import { startReader } from './internal/worker-host.ts';
import { NativeError } from './native-error.ts';

/** A running inotify instance. */
export interface InotifyReader {
  /** Adds (or updates) a watch on `path` for `mask` (see InotifyMask); returns the watch descriptor. Throws NativeError (ENOENT, ENOSPC at the watch limit). */
  addWatch(path: string, mask: number): number;
  /** Removes a watch; removing one that is already gone is a no-op. */
  removeWatch(wd: number): void;
  /** Registers a callback for event batches. */
  onEvents(cb: (e: readonly FsNotifyEvent[]) => void): void;
  /** Registers a callback for queue overflow (IN_Q_OVERFLOW: events were lost). */
  onOverflow(cb: () => void): void;
  /** Closes the instance and ends the worker. Idempotent. */
  close(): Promise<void>;
}

/** A running fanotify notification group. */
export interface FanotifyReader {
  onEvents(cb: (e: readonly FsNotifyEvent[]) => void): void;
  /** Registers a callback for queue overflow (FAN_Q_OVERFLOW: events were lost). */
  onOverflow(cb: () => void): void;
  /** Closes the group and ends the worker. Idempotent. */
  close(): Promise<void>;
}

function requireLinux(what: string): void {
  if (process.platform !== 'linux')
    throw new NativeError('ERR_NATIVE_UNAVAILABLE', `${what} needs Linux (platform is ${process.platform})`);
}

const Q_OVERFLOW = InotifyMask.Q_OVERFLOW ?? 0x4000;
const IGNORED = InotifyMask.IGNORED ?? 0x8000;

/** Opens an inotify instance (no watches yet). Rejects with NativeError `ERR_NATIVE_UNAVAILABLE` off Linux. */
export async function openInotify(): Promise<InotifyReader> {
  requireLinux('inotify');
  const host = await startReader<RawInotifyEvent>('inotify-worker', {});
  const fd = host.ready.fd;
  const watches = new Map<number, string>();
  const eventCbs: ((e: readonly FsNotifyEvent[]) => void)[] = [];
  const overflowCbs: (() => void)[] = [];
  let closed = false;
  host.onItems((raw) => {
    const events: FsNotifyEvent[] = [];
    for (const r of raw) {
      if ((r.mask & Q_OVERFLOW) !== 0) {
        for (const cb of overflowCbs) cb();
        continue;
      }
      const base = watches.get(r.wd) ?? '';
      const ev: FsNotifyEvent = {
        path: r.name === '' ? base : `${base}/${r.name}`,
        mask: r.mask,
        names: inotifyMaskNames(r.mask),
      };
      if (r.cookie !== 0) ev.cookie = r.cookie;
      events.push(ev);
      if ((r.mask & IGNORED) !== 0) watches.delete(r.wd);
    }
    if (events.length > 0) for (const cb of eventCbs) cb(events);
  });
  return {
    addWatch(path, mask) {
      if (closed) throw new NativeError('ERR_NATIVE_CALL', 'inotify instance is closed');
      const wd = libc().inotifyAddWatch(fd, path, mask);
      if (wd < 0) throw callError(`inotify_add_watch(${path})`, wd);
      watches.set(wd, path.length > 1 ? path.replace(/\/+$/, '') : path);
      return wd;
    },
    removeWatch(wd) {
      if (closed) return;
      const rc = libc().inotifyRmWatch(fd, wd);
      if (rc < 0 && rc !== -Errno.EINVAL) throw callError(`inotify_rm_watch(${wd})`, rc);
    },
    onEvents: (cb) => void eventCbs.push(cb),
    onOverflow: (cb) => void overflowCbs.push(cb),
    close() {
      closed = true;
      return host.close();
    },
  };
}

/**
 * Opens a fanotify notification group and marks `paths` for `mask` (see FanotifyMask). A directory
 * path without `filesystemMark` gets FAN_EVENT_ON_CHILD added so events on its entries arrive;
 * `filesystemMark` marks the whole filesystem each path lives on. Rejects with NativeError
 * `ERR_NATIVE_UNAVAILABLE` off Linux or without CAP_SYS_ADMIN, `ERR_NATIVE_CALL` (errno) when a mark fails.
 */
export async function openFanotify(opts: {
  mask: bigint;
  paths: string[];
  filesystemMark?: boolean;
}): Promise<FanotifyReader> {
  requireLinux('fanotify');
  if (typeof opts.mask !== 'bigint' || opts.mask <= 0n)
    throw new RangeError(`mask must be a positive bigint, got ${String(opts.mask)}`);
  if (opts.paths.length === 0) throw new RangeError('paths must name at least one path');
  const host = await startReader<FsNotifyEvent>('fanotify-worker', {
    mask: opts.mask,
    paths: [...opts.paths],
    filesystemMark: opts.filesystemMark === true,
  });
  const eventCbs: ((e: readonly FsNotifyEvent[]) => void)[] = [];
  const overflowCbs: (() => void)[] = [];
  host.onItems((items) => {
    const events = items.filter((e) => (e.mask & 0x4000) === 0);
    if (events.length !== items.length) for (const cb of overflowCbs) cb();
    if (events.length > 0) for (const cb of eventCbs) cb(events);
  });
  return {
    onEvents: (cb) => void eventCbs.push(cb),
    onOverflow: (cb) => void overflowCbs.push(cb),
    close: () => host.close(),
  };
}
