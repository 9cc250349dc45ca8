/**
 * Worker-thread entry for the fanotify reader: creates a notification group (FAN_CLASS_NOTIF,
 * non-blocking), marks the requested paths, then runs the shared reader loop. Without `reportNames`
 * each event's fd is resolved to a path through /proc/self/fd and closed at once. With it the group
 * reports file handles (FAN_REPORT_DFID_NAME): each directory handle is opened with
 * open_by_handle_at under a directory fd kept per filesystem, resolved through /proc/self/fd (cached
 * until a directory is deleted or renamed) and joined with the entry name; FAN_RENAME events carry
 * the old and the new path. Events of `ignorePids` are dropped before any lookup, events outside
 * `filters` after resolution, and with `actors` the pid's name and uid are read from
 * /proc/PID/status at once (reused for a second per pid). On stop it closes its fds. Loaded as a worker
 * script, never imported.
 */
import { readFileSync, statSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import {
  decodeFanotifyEvents,
  decodeFanotifyFidEvents,
  type FsNotifyEvent,
  fanotifyMaskNames,
  type RawFanotifyEvent,
  type RawFanotifyFid,
  type RawFanotifyFidEvent,
} from '../fs-notify-event.ts';
import { NativeError } from '../native-error.ts';
import { Errno, Fanotify, FanotifyMaskBits } from './constants.ts';
import { callError, libc } from './libc.ts';
import { runReaderLoop } from './reader-loop.ts';
import { runWorkerEntry } from './worker-entry.ts';
import type { WorkerMessage } from './worker-protocol.ts';

/** Wait after a read before polling again: a burst is read in a few large reads, not one per event. */
const SETTLE_MS = 2;

const data = workerData as {
  mask: bigint;
  paths: string[];
  filesystemMark: boolean;
  mountMark?: boolean;
  reportNames?: boolean;
  filters?: string[];
  ignorePids?: number[];
  actors?: boolean;
};

/** Directory paths by fsid and handle; cleared when it grows past this many or a directory moves. */
const DIR_CACHE_MAX = 16_384;
/** How long a process's name and uid are reused without reading /proc again. */
const ACTOR_TTL_MS = 1000;
const DIR_CHANGED = FanotifyMaskBits.ONDIR;
const DIR_MOVES =
  FanotifyMaskBits.DELETE |
  FanotifyMaskBits.RENAME |
  FanotifyMaskBits.MOVED_FROM |
  FanotifyMaskBits.MOVED_TO |
  FanotifyMaskBits.DELETE_SELF |
  FanotifyMaskBits.MOVE_SELF;

interface Actor {
  readonly name: string | undefined;
  readonly uid: number | undefined;
}

function readActor(pid: number): Actor {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'latin1');
    const name = /^Name:\t(.*)$/m.exec(text)?.[1];
    // Uid: real, effective, saved, filesystem: the effective uid is the one the kernel checked.
    const uid = /^Uid:\t\d+\t(\d+)/m.exec(text)?.[1];
    return { name, uid: uid === undefined ? undefined : Number(uid) };
  } catch {
    return { name: undefined, uid: undefined };
  }
}

function within(path: string, roots: readonly string[]): boolean {
  for (const root of roots) {
    if (root === '/' || path === root || (path.startsWith(root) && path.charCodeAt(root.length) === 47)) return true;
  }
  return false;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

runWorkerEntry((port) => {
  const c = libc();
  const reportNames = data.reportNames === true;
  const fd = c.fanotifyInit(
    Fanotify.FAN_CLASS_NOTIF |
      Fanotify.FAN_CLOEXEC |
      Fanotify.FAN_NONBLOCK |
      (reportNames ? Fanotify.FAN_REPORT_DFID_NAME : 0),
    Fanotify.O_RDONLY | Fanotify.O_CLOEXEC,
  );
  if (fd === -Errno.EPERM)
    throw new NativeError('ERR_NATIVE_UNAVAILABLE', 'fanotify_init: EPERM (needs CAP_SYS_ADMIN)', {
      errno: Errno.EPERM,
    });
  if (fd === -Errno.ENOSYS)
    throw new NativeError('ERR_NATIVE_UNAVAILABLE', 'fanotify is not built into this kernel', { errno: Errno.ENOSYS });
  if (fd < 0) throw callError('fanotify_init', fd);
  // One directory fd per filesystem, for open_by_handle_at.
  const mountFds = new Map<string, number>();
  const closeAll = (): void => {
    for (const m of mountFds.values()) c.close(m);
    c.close(fd);
  };
  try {
    for (const path of data.paths) {
      const wide = data.filesystemMark || data.mountMark === true;
      const flags =
        Fanotify.FAN_MARK_ADD |
        (data.filesystemMark ? Fanotify.FAN_MARK_FILESYSTEM : data.mountMark === true ? Fanotify.FAN_MARK_MOUNT : 0);
      const mask = !wide && isDirectory(path) ? data.mask | FanotifyMaskBits.EVENT_ON_CHILD : data.mask;
      const rc = c.fanotifyMark(fd, flags, mask, path);
      if (rc < 0) throw callError(`fanotify_mark(${path})`, rc);
      if (reportNames) {
        // open_by_handle_at refuses O_PATH fds (EBADF): a directory opened for reading.
        const dfd = c.openRead(path, Fanotify.O_DIRECTORY | Fanotify.O_CLOEXEC);
        if (dfd < 0) throw callError(`open(${path})`, dfd);
        const fsid = c.fsid(dfd);
        if (typeof fsid !== 'string' || mountFds.has(fsid)) c.close(dfd);
        else mountFds.set(fsid, dfd);
      }
    }
  } catch (e) {
    closeAll();
    throw e;
  }
  port.postMessage({ type: 'ready', fd, receiveBufferBytes: 0 } satisfies WorkerMessage<FsNotifyEvent>);
  if (reportNames) {
    runNamed(port, fd, mountFds, closeAll);
    return;
  }
  runReaderLoop<FsNotifyEvent>({
    port,
    fd,
    mode: 'read',
    bufferBytes: 64 * 1024,
    settleMs: SETTLE_MS,
    decode: (buf, n, out) => {
      const raw: RawFanotifyEvent[] = [];
      decodeFanotifyEvents(buf, n, raw);
      for (const ev of raw) {
        let path = '';
        if (ev.fd >= 0) {
          path = c.readlink(`/proc/self/fd/${ev.fd}`) ?? '';
          c.close(ev.fd);
        }
        out.push({ path, mask: Number(ev.mask & 0xffffffffn), names: fanotifyMaskNames(ev.mask), pid: ev.pid });
      }
    },
    cleanup: () => c.close(fd),
  });
});

/** The reader loop of a group reporting file handles and names. */
function runNamed(
  port: Parameters<Parameters<typeof runWorkerEntry>[0]>[0],
  fd: number,
  mountFds: Map<string, number>,
  closeAll: () => void,
): void {
  const c = libc();
  const dirs = new Map<string, string | undefined>();
  const link = Buffer.alloc(4096);
  const ignore = new Set(data.ignorePids ?? []);
  const filters = data.filters !== undefined && data.filters.length > 0 ? data.filters : undefined;
  const dirPath = (fid: RawFanotifyFid): string | undefined => {
    const key = fid.fsid + fid.handle.toString('hex');
    if (dirs.has(key)) return dirs.get(key);
    const mountFd = mountFds.get(fid.fsid);
    let path: string | undefined;
    if (mountFd !== undefined) {
      const dfd = c.openByHandleAt(mountFd, fid.handle, Fanotify.O_PATH | Fanotify.O_CLOEXEC);
      if (dfd >= 0) {
        const len = c.readlinkInto(`/proc/self/fd/${dfd}`, link);
        c.close(dfd);
        if (len > 0) path = link.toString('utf8', 0, len);
      }
    }
    if (dirs.size >= DIR_CACHE_MAX) dirs.clear();
    // A directory that cannot be opened (deleted) is not cached: its handle is not reused.
    if (path !== undefined) dirs.set(key, path);
    return path;
  };
  const entryPath = (fid: RawFanotifyFid | undefined): string => {
    if (fid === undefined) return '';
    const dir = dirPath(fid);
    if (dir === undefined) return '';
    if (fid.name === '' || fid.name === '.') return dir;
    return dir === '/' ? `/${fid.name}` : `${dir}/${fid.name}`;
  };
  // Actors seen in the last ACTOR_TTL_MS, so events read after a short-lived process exited still
  // carry its name and uid when an earlier event of it was read while it ran.
  const actors = new Map<number, Actor & { at: number }>();
  const actorOf = (pid: number): Actor => {
    const now = Date.now();
    const known = actors.get(pid);
    if (known !== undefined && now - known.at < ACTOR_TTL_MS) return known;
    const fresh = readActor(pid);
    if (fresh.name === undefined && known !== undefined) return known;
    if (actors.size >= 4096) actors.clear();
    actors.set(pid, { ...fresh, at: now });
    return fresh;
  };
  runReaderLoop<FsNotifyEvent>({
    port,
    fd,
    mode: 'read',
    bufferBytes: 256 * 1024,
    settleMs: SETTLE_MS,
    decode: (buf, n, out) => {
      const raw: RawFanotifyFidEvent[] = [];
      decodeFanotifyFidEvents(buf, n, raw);
      for (const ev of raw) {
        const names = fanotifyMaskNames(ev.mask);
        const mask = Number(ev.mask & 0xffffffffn);
        if ((ev.mask & FanotifyMaskBits.Q_OVERFLOW) !== 0n) {
          out.push({ path: '', mask, names });
          continue;
        }
        if (ignore.has(ev.pid)) continue;
        let path: string;
        let oldPath: string | undefined;
        if ((ev.mask & FanotifyMaskBits.RENAME) !== 0n) {
          oldPath = entryPath(ev.fids.find((f) => f.type === Fanotify.INFO_OLD_DFID_NAME));
          path = entryPath(ev.fids.find((f) => f.type === Fanotify.INFO_NEW_DFID_NAME));
        } else {
          path = entryPath(ev.fids.find((f) => f.type === Fanotify.INFO_DFID_NAME || f.type === Fanotify.INFO_DFID));
        }
        // A moved or deleted directory invalidates every cached path (its descendants' too).
        if ((ev.mask & DIR_CHANGED) !== 0n && (ev.mask & DIR_MOVES) !== 0n) dirs.clear();
        if (filters !== undefined && !within(path, filters) && (oldPath === undefined || !within(oldPath, filters)))
          continue;
        const e: FsNotifyEvent = { path, mask, names, pid: ev.pid };
        if (oldPath !== undefined) e.oldPath = oldPath;
        if (data.actors === true && ev.pid > 0) {
          const actor = actorOf(ev.pid);
          if (actor.name !== undefined) e.processName = actor.name;
          if (actor.uid !== undefined) e.uid = actor.uid;
        }
        out.push(e);
      }
    },
    cleanup: closeAll,
  });
}
