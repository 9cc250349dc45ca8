/**
 * The inotify backend: one watch per directory of the watched trees (excluded ones left out), within
 * a budget. A directory created (or moved in) gets its watch at once and is then scanned, so files
 * made in it before the watch landed are reported too (the tree keeps them from being reported
 * twice). MOVED_FROM/MOVED_TO pairs become renames; a half without its partner is a move out of
 * (delete) or into (create) the trees. ENOSPC from inotify_add_watch, or the budget running out,
 * leaves the rest unwatched and the backend degraded, with a message naming the limit and the sysctl.
 */
import { readFileSync } from 'node:fs';
import { type FsNotifyEvent, InotifyMask, type InotifyReader, isNativeError, openInotify } from '@daemoneye/native';
import type { Backend, BackendContext, Change } from './backend.ts';

const M = InotifyMask as Record<string, number>;
const bit = (name: string): number => M[name] ?? 0;
const IN = {
  CREATE: bit('CREATE'),
  DELETE: bit('DELETE'),
  MOVED_FROM: bit('MOVED_FROM'),
  MOVED_TO: bit('MOVED_TO'),
  MODIFY: bit('MODIFY'),
  ATTRIB: bit('ATTRIB'),
  CLOSE_WRITE: bit('CLOSE_WRITE'),
  ACCESS: bit('ACCESS'),
  ISDIR: bit('ISDIR'),
};
const ENOSPC = 28;
/** How long the first half of a rename waits for its partner. */
const PAIR_WAIT_MS = 50;

function readLimit(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/** Options of {@link openInotifyBackend}. */
export interface InotifyBackendOptions {
  readonly maxWatches: number;
  readonly access: boolean;
}

interface PendingMove {
  readonly path: string;
  readonly isDir: boolean;
  readonly at: number;
}

/** Opens inotify, watches the trees (walking them into the tree), and reports changes. */
export async function openInotifyBackend(ctx: BackendContext, opts: InotifyBackendOptions): Promise<Backend> {
  const reader: InotifyReader = await openInotify({ signal: ctx.signal });
  const mask =
    (IN.CREATE |
      IN.DELETE |
      IN.MOVED_FROM |
      IN.MOVED_TO |
      IN.MODIFY |
      IN.ATTRIB |
      IN.CLOSE_WRITE |
      (opts.access ? IN.ACCESS : 0) |
      bit('ONLYDIR') |
      bit('DONT_FOLLOW') |
      bit('EXCL_UNLINK')) >>>
    0;
  const wds = new Map<string, number>();
  const roots = new Set(ctx.roots);
  let limited: string | undefined;
  let unwatched = 0;

  const watch = (dir: string): boolean => {
    if (wds.has(dir)) return true;
    if (limited !== undefined) {
      unwatched++;
      return false;
    }
    if (wds.size >= opts.maxWatches) {
      unwatched++;
      limited = `inotify watch budget reached: max_watches is ${opts.maxWatches}; directories beyond it are not watched (raise max_watches)`;
      ctx.logger.warn({ watches: wds.size }, limited);
      return false;
    }
    try {
      wds.set(dir, reader.addWatch(dir, mask));
      return true;
    } catch (e) {
      if (isNativeError(e) && e.errno === ENOSPC) {
        unwatched++;
        const limit = readLimit('/proc/sys/fs/inotify/max_user_watches');
        const userns = readLimit('/proc/sys/user/max_inotify_watches');
        limited =
          `inotify watch limit reached (ENOSPC) after ${wds.size} watches: fs.inotify.max_user_watches is ${limit}` +
          (userns !== limit && userns !== 'unknown' ? ` (user.max_inotify_watches is ${userns})` : '') +
          '; directories beyond it are not watched. Raise it with `sysctl -w fs.inotify.max_user_watches=<more>`';
        ctx.logger.warn({ watches: wds.size }, limited);
        return false;
      }
      // Gone, or not a directory any more (ENOENT, ENOTDIR): nothing to watch.
      return false;
    }
  };

  const unwatch = (dirs: readonly string[]): void => {
    for (const d of dirs) {
      const wd = wds.get(d);
      if (wd === undefined) continue;
      wds.delete(d);
      reader.removeWatch(wd);
    }
  };

  /** Watches a directory that appeared and reports what it already holds. */
  const adopt = (dir: string, out: Change[]): void => {
    void ctx.tree.walk(dir, {
      excluded: ctx.excluded,
      enterDir: watch,
      sync: true,
      onNew: (e) => out.push({ op: 'create', path: e.path, isDir: e.isDir, rescan: true }),
    });
  };

  // Rename halves waiting for their partner, by cookie.
  const pending = new Map<number, PendingMove>();
  let pairTimer: NodeJS.Timeout | undefined;

  const movedOut = (p: PendingMove, out: Change[]): void => {
    unwatch(ctx.tree.remove(p.path));
    out.push({ op: 'delete', path: p.path, isDir: p.isDir });
  };

  const flushPending = (olderThan: number): void => {
    const out: Change[] = [];
    for (const [cookie, p] of pending) {
      if (p.at > olderThan) continue;
      pending.delete(cookie);
      movedOut(p, out);
    }
    if (pending.size === 0 && pairTimer !== undefined) {
      clearInterval(pairTimer);
      pairTimer = undefined;
    }
    if (out.length > 0) ctx.emit(out);
  };

  const handle = (batch: readonly FsNotifyEvent[]): void => {
    const out: Change[] = [];
    for (const ev of batch) {
      const m = ev.mask;
      const isDir = (m & IN.ISDIR) !== 0;
      // Events about a watched directory itself repeat what its parent's watch reports (roots aside).
      if (ev.self === true && !roots.has(ev.path)) continue;
      if (ev.path === '' || ctx.excluded(ev.path)) continue;
      if ((m & IN.CREATE) !== 0) {
        if (!ctx.tree.has(ev.path)) {
          ctx.tree.add(ev.path, isDir);
          out.push({ op: 'create', path: ev.path, isDir });
        }
        if (isDir && watch(ev.path)) adopt(ev.path, out);
      }
      if ((m & IN.MOVED_FROM) !== 0 && ev.cookie !== undefined) {
        pending.set(ev.cookie, { path: ev.path, isDir, at: Date.now() });
        pairTimer ??= setInterval(() => flushPending(Date.now() - PAIR_WAIT_MS), PAIR_WAIT_MS);
      }
      if ((m & IN.MOVED_TO) !== 0) {
        const from = ev.cookie === undefined ? undefined : pending.get(ev.cookie);
        if (from !== undefined && ev.cookie !== undefined) {
          pending.delete(ev.cookie);
          const moved = ctx.tree.move(from.path, ev.path, isDir);
          // The watches under a moved directory keep their descriptors; re-adding updates their paths.
          for (const d of moved) {
            const wd = wds.get(from.path + d.slice(ev.path.length));
            if (wd !== undefined) wds.delete(from.path + d.slice(ev.path.length));
            if (wd !== undefined || isDir) watch(d);
          }
          out.push({ op: 'rename', path: ev.path, oldPath: from.path, isDir });
        } else {
          ctx.tree.add(ev.path, isDir);
          out.push({ op: 'create', path: ev.path, isDir });
          if (isDir && watch(ev.path)) adopt(ev.path, out);
        }
      }
      if ((m & IN.MODIFY) !== 0 && !isDir) out.push({ op: 'modify', path: ev.path, isDir });
      if ((m & IN.ATTRIB) !== 0) out.push({ op: 'attrib', path: ev.path, isDir });
      if ((m & IN.ACCESS) !== 0 && opts.access) out.push({ op: 'access', path: ev.path, isDir });
      if ((m & IN.CLOSE_WRITE) !== 0) out.push({ op: 'close_write', path: ev.path, isDir });
      if ((m & IN.DELETE) !== 0) {
        unwatch(ctx.tree.remove(ev.path));
        out.push({ op: 'delete', path: ev.path, isDir });
      }
    }
    if (out.length > 0) ctx.emit(out);
  };

  reader.onEvents(handle);
  reader.onLoss((info) => ctx.overflow(info.count));
  reader.onError((e) => ctx.error(e));

  try {
    for (const root of ctx.roots) await ctx.tree.walk(root, { excluded: ctx.excluded, enterDir: watch });
  } catch (e) {
    await reader.close();
    throw e;
  }
  if (unwatched > 0) ctx.logger.warn({ unwatched }, 'some directories are not watched');

  return {
    kind: 'inotify',
    enterDir: watch,
    walked: Promise.resolve(),
    degraded: () => (limited === undefined ? undefined : `${limited} (${unwatched} directories unwatched)`),
    watches: () => wds.size,
    async close() {
      if (pairTimer !== undefined) clearInterval(pairTimer);
      pending.clear();
      await reader.close();
    },
  };
}
