/**
 * The fanotify backend: one notification group reporting directory handles and names
 * (FAN_REPORT_DFID_NAME), with a filesystem (or mount) mark for each filesystem the watched trees
 * are on, so new directories need no watch and nothing is missed while one is placed. The native
 * reader resolves the handles to paths, keeps only events inside the watched trees, drops the
 * collector's own (its pid), and reads each actor's name and uid as the event is read. The trees
 * are still walked into the tree, in the background, for the rescan after a queue overflow.
 */
import { statSync } from 'node:fs';
import { FanotifyMask, type FsNotifyEvent, openFanotify } from '@daemoneye/native';
import type { Backend, BackendContext, Change, ChangeOp } from './backend.ts';

const M = FanotifyMask as Record<string, bigint>;
const bit = (name: string): bigint => M[name] ?? 0n;
const FAN = {
  CREATE: Number(bit('CREATE')),
  DELETE: Number(bit('DELETE')),
  RENAME: Number(bit('RENAME')),
  MODIFY: Number(bit('MODIFY')),
  ATTRIB: Number(bit('ATTRIB')),
  CLOSE_WRITE: Number(bit('CLOSE_WRITE')),
  ACCESS: Number(bit('ACCESS')),
  ONDIR: Number(bit('ONDIR')),
};

/** Options of {@link openFanotifyBackend}. */
export interface FanotifyBackendOptions {
  readonly mark: 'filesystem' | 'mount';
  readonly access: boolean;
  /** Processes whose changes are not reported (the collector's own pid). */
  readonly ignorePids: readonly number[];
}

/** The first path of each filesystem (by device) among `paths`. */
function onePerDevice(paths: readonly string[]): string[] {
  const seen = new Set<number>();
  const out: string[] = [];
  for (const p of paths) {
    const dev = statSync(p).dev;
    if (seen.has(dev)) continue;
    seen.add(dev);
    out.push(p);
  }
  return out;
}

/** Opens the fanotify group, marks the filesystems, walks the trees, and reports changes. */
export async function openFanotifyBackend(ctx: BackendContext, opts: FanotifyBackendOptions): Promise<Backend> {
  const dirent = opts.mark === 'filesystem' ? bit('CREATE') | bit('DELETE') | bit('RENAME') : 0n;
  const mask =
    dirent | bit('MODIFY') | bit('ATTRIB') | bit('CLOSE_WRITE') | (opts.access ? bit('ACCESS') : 0n) | bit('ONDIR');
  const marked = onePerDevice(ctx.roots);
  const reader = await openFanotify({
    signal: ctx.signal,
    mask,
    paths: marked,
    filesystemMark: opts.mark === 'filesystem',
    mountMark: opts.mark === 'mount',
    reportNames: true,
    filters: ctx.roots,
    ignorePids: opts.ignorePids,
    actors: true,
  });

  // One shape for every change (absent fields undefined), built without intermediate objects: this
  // runs for every kernel event.
  const change = (op: ChangeOp, ev: FsNotifyEvent, isDir: boolean, oldPath?: string): Change => ({
    op,
    path: ev.path,
    oldPath,
    isDir,
    pid: ev.pid !== undefined && ev.pid > 0 ? ev.pid : undefined,
    processName: ev.processName,
    uid: ev.uid,
  });
  const handle = (batch: readonly FsNotifyEvent[]): void => {
    const out: Change[] = [];
    for (const ev of batch) {
      if (ev.path === '') continue;
      const m = ev.mask;
      const isDir = (m & FAN.ONDIR) !== 0;
      // One record may merge several events on one entry: report them in the order they happen.
      if ((m & FAN.CREATE) !== 0) {
        ctx.tree.add(ev.path, isDir);
        out.push(change('create', ev, isDir));
      }
      if ((m & FAN.RENAME) !== 0 && ev.oldPath !== undefined) {
        ctx.tree.move(ev.oldPath, ev.path, isDir);
        out.push(change('rename', ev, isDir, ev.oldPath));
      }
      if ((m & FAN.MODIFY) !== 0 && !isDir) out.push(change('modify', ev, isDir));
      if ((m & FAN.ATTRIB) !== 0) out.push(change('attrib', ev, isDir));
      if ((m & FAN.ACCESS) !== 0 && opts.access) out.push(change('access', ev, isDir));
      if ((m & FAN.CLOSE_WRITE) !== 0) out.push(change('close_write', ev, isDir));
      if ((m & FAN.DELETE) !== 0) {
        ctx.tree.remove(ev.path);
        out.push(change('delete', ev, isDir));
      }
    }
    if (out.length > 0) ctx.emit(out);
  };
  reader.onEvents(handle);
  reader.onLoss((info) => ctx.overflow(info.count));
  reader.onError((e) => ctx.error(e));

  // The marks see everything from here on; the walk only feeds rescans, so it runs in the background.
  const walkStop = new AbortController();
  const signal = AbortSignal.any([ctx.signal, walkStop.signal]);
  const walking = (async () => {
    for (const root of ctx.roots) await ctx.tree.walk(root, { excluded: ctx.excluded, signal });
  })().catch((e: unknown) => ctx.logger.warn({ err: e }, 'walking the watched trees failed'));

  return {
    kind: 'fanotify',
    enterDir: undefined,
    walked: walking,
    degraded: () =>
      opts.mark === 'mount' ? 'fanotify mount marks: creates, deletes and renames are not reported' : undefined,
    watches: () => marked.length,
    async close() {
      walkStop.abort();
      await walking;
      await reader.close();
    },
  };
}
