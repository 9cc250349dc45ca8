import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fdTarget } from './__test__/fd.ts';
import { openFanotify, openInotify } from './fs-notify.ts';
import { FanotifyMask, type FsNotifyEvent, InotifyMask } from './fs-notify-event.ts';
import { isNativeError } from './native-error.ts';
import { probeFanotify, probeInotify } from './probes.ts';

const inotifyProbe = await probeInotify();
const fanotifyProbe = await probeFanotify();
if (!inotifyProbe.available) process.stderr.write(`skipping inotify tests: ${inotifyProbe.reason}\n`);
if (!fanotifyProbe.available) process.stderr.write(`skipping fanotify tests: ${fanotifyProbe.reason}\n`);

const mask = (...names: string[]): number => names.reduce((m, n) => (m | (InotifyMask[n] ?? 0)) >>> 0, 0);

async function until(pred: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred() && Date.now() < end) await sleep(20);
}

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fsnotify-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!inotifyProbe.available)('openInotify (kernel)', () => {
  it('sees a file create, a rename pair and a directory create in a temp dir', async () => {
    const ino = await openInotify();
    const events: FsNotifyEvent[] = [];
    ino.onEvents((e) => events.push(...e));
    try {
      ino.addWatch(dir, mask('CREATE', 'MOVED_FROM', 'MOVED_TO'));
      writeFileSync(join(dir, 'a.txt'), 'x');
      renameSync(join(dir, 'a.txt'), join(dir, 'b.txt'));
      mkdirSync(join(dir, 'sub'));
      await until(() => events.length >= 4);
      expect(events.map((e) => [e.path, e.names])).toEqual([
        [join(dir, 'a.txt'), ['CREATE']],
        [join(dir, 'a.txt'), ['MOVED_FROM']],
        [join(dir, 'b.txt'), ['MOVED_TO']],
        [join(dir, 'sub'), ['CREATE', 'ISDIR']],
      ]);
      expect(events[1]?.cookie).toBeGreaterThan(0);
      expect(events[2]?.cookie).toBe(events[1]?.cookie);
      expect(events[0]?.cookie).toBeUndefined();
    } finally {
      await ino.close();
    }
  });

  it('stops reporting after removeWatch (IN_IGNORED arrives) and rejects addWatch after close', async () => {
    const ino = await openInotify();
    const events: FsNotifyEvent[] = [];
    ino.onEvents((e) => events.push(...e));
    const wd = ino.addWatch(dir, mask('CREATE'));
    ino.removeWatch(wd);
    ino.removeWatch(wd);
    await until(() => events.length >= 1);
    writeFileSync(join(dir, 'late.txt'), 'x');
    await sleep(200);
    expect(events.map((e) => e.names)).toEqual([['IGNORED']]);
    await ino.close();
    await ino.close();
    let err: unknown;
    try {
      ino.addWatch(dir, mask('CREATE'));
    } catch (e) {
      err = e;
    }
    expect(isNativeError(err, 'ERR_NATIVE_CALL')).toBe(true);
  });

  it('throws ERR_NATIVE_CALL with ENOENT for a missing path', async () => {
    const ino = await openInotify();
    try {
      let err: unknown;
      try {
        ino.addWatch(join(dir, 'missing'), mask('CREATE'));
      } catch (e) {
        err = e;
      }
      expect(isNativeError(err, 'ERR_NATIVE_CALL') && err.errno).toBe(2);
    } finally {
      await ino.close();
    }
  });
});

describe.skipIf(!inotifyProbe.available)('inotify reader lifecycle (kernel)', () => {
  it('an unsubscribed callback gets nothing more; a throwing one is reported through onError', async () => {
    const ino = await openInotify();
    const kept: string[] = [];
    const dropped: string[] = [];
    const errors: string[] = [];
    try {
      ino.onError((e) => errors.push(e.message));
      ino.onEvents((e) => kept.push(...e.map((x) => x.path)));
      const off = ino.onEvents((e) => dropped.push(...e.map((x) => x.path)));
      ino.onEvents(() => {
        throw new Error('consumer failed');
      });
      ino.addWatch(dir, mask('CREATE'));
      writeFileSync(join(dir, 'one'), 'x');
      await until(() => kept.length >= 1);
      off();
      writeFileSync(join(dir, 'two'), 'x');
      await until(() => kept.length >= 2);
      expect(kept).toEqual([join(dir, 'one'), join(dir, 'two')]);
      expect(dropped).toEqual([join(dir, 'one')]);
      expect(errors).toEqual(['consumer failed', 'consumer failed']);
      expect(ino.stats()).toMatchObject({ received: 2, lost: 0 });
    } finally {
      await ino.close();
    }
  });

  it('aborting the signal closes the reader and its fd', async () => {
    const ac = new AbortController();
    const ino = await openInotify({ signal: ac.signal });
    const { fd } = ino.stats();
    const link = readlinkSync(`/proc/self/fd/${fd}`);
    expect(link).toBe('anon_inode:inotify');
    ac.abort();
    await ino.close();
    expect(ino.stats().fd).toBe(-1);
    expect(fdTarget(fd)).not.toBe(link);
    expect(() => ino.addWatch(dir, mask('CREATE'))).toThrow('inotify instance is closed');
  });

  it('an already-aborted signal rejects with ERR_NATIVE_ABORTED', async () => {
    const err = await openInotify({ signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(isNativeError(err, 'ERR_NATIVE_ABORTED')).toBe(true);
    expect((err as Error).message).toBe('openInotify: aborted');
  });
});

describe.skipIf(!fanotifyProbe.available)('openFanotify (kernel, root)', () => {
  it('sees a modify of a file in a marked directory, with our pid', async () => {
    const file = join(dir, 'f.txt');
    writeFileSync(file, 'start');
    const fan = await openFanotify({
      mask: (FanotifyMask.MODIFY ?? 0n) | (FanotifyMask.CLOSE_WRITE ?? 0n),
      paths: [dir],
    });
    const events: FsNotifyEvent[] = [];
    fan.onEvents((e) => events.push(...e));
    try {
      appendFileSync(file, 'more');
      await until(() => events.some((e) => e.path === file && e.names.includes('CLOSE_WRITE')));
      const mine = events.filter((e) => e.path === file);
      expect(mine.length).toBeGreaterThan(0);
      expect(mine.some((e) => e.names.includes('MODIFY'))).toBe(true);
      expect(mine.every((e) => e.pid === process.pid)).toBe(true);
    } finally {
      await fan.close();
    }
  });

  it('with reportNames: resolves paths of creates, renames (old and new) and deletes, filters, actors, ignored pids', async () => {
    const bit = (n: string): bigint => FanotifyMask[n] ?? 0n;
    const other = mkdtempSync(join(tmpdir(), 'fsnotify-other-'));
    const fan = await openFanotify({
      mask: bit('CREATE') | bit('DELETE') | bit('RENAME') | bit('ONDIR'),
      paths: [dir],
      filesystemMark: true,
      reportNames: true,
      filters: [dir],
      ignorePids: [process.pid],
      actors: true,
    });
    const events: FsNotifyEvent[] = [];
    fan.onEvents((e) => events.push(...e));
    try {
      // Our own change is dropped; a child's changes arrive, outside `dir` filtered away.
      writeFileSync(join(dir, 'own.txt'), '');
      const script = `mkdir ${dir}/sub && : > ${dir}/sub/a && mv ${dir}/sub/a ${dir}/b && : > ${other}/outside && rm ${dir}/b; sleep 1; exit 0`;
      const child = spawn('sh', ['-c', script], { stdio: 'ignore' });
      await until(() => events.some((e) => e.names.includes('DELETE')));
      child.kill();
      expect(events.map((e) => [e.names.join('|'), e.path, e.oldPath])).toEqual([
        ['CREATE|ONDIR', join(dir, 'sub'), undefined],
        ['CREATE', join(dir, 'sub', 'a'), undefined],
        ['RENAME', join(dir, 'b'), join(dir, 'sub', 'a')],
        ['DELETE', join(dir, 'b'), undefined],
      ]);
      const sh = events.find((e) => e.names.includes('CREATE') && !e.names.includes('ONDIR'));
      expect(sh?.pid).toBe(child.pid);
      expect(sh?.processName).toBe('sh');
      expect(sh?.uid).toBe(0);
    } finally {
      await fan.close();
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('rejects marks the kernel refuses with ERR_NATIVE_CALL', async () => {
    const err = await openFanotify({ mask: FanotifyMask.MODIFY ?? 0n, paths: [join(dir, 'missing')] }).catch(
      (e: unknown) => e,
    );
    expect(isNativeError(err, 'ERR_NATIVE_CALL') && err.errno).toBe(2);
  });

  it('aborting the signal closes the group and its fd; an aborted signal rejects', async () => {
    const ac = new AbortController();
    const fan = await openFanotify({ mask: FanotifyMask.MODIFY ?? 0n, paths: [dir], signal: ac.signal });
    const { fd } = fan.stats();
    const link = readlinkSync(`/proc/self/fd/${fd}`);
    expect(link).toBe('anon_inode:[fanotify]');
    ac.abort();
    await fan.close();
    expect(fan.stats().fd).toBe(-1);
    expect(fdTarget(fd)).not.toBe(link);
    const err = await openFanotify({ mask: 2n, paths: [dir], signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(isNativeError(err, 'ERR_NATIVE_ABORTED')).toBe(true);
  });
});
