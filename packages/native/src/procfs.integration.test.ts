import { spawn } from 'node:child_process';
import {
  closeSync,
  fstatSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { errnoName } from './internal/libc.ts';
import { createProcfsReader } from './procfs.ts';

const linux = process.platform === 'linux';
if (!linux) process.stderr.write('skipping procfs reader tests: not Linux\n');

describe.skipIf(!linux)('createProcfsReader (kernel)', () => {
  it('reads /proc/self files byte for byte as fs does', () => {
    const proc = createProcfsReader();
    for (const name of ['cmdline', 'cgroup', 'environ']) {
      expect(proc.readWhole(`/proc/self/${name}`)).toBe(readFileSync(`/proc/self/${name}`, 'latin1'));
    }
    expect(proc.readLink('/proc/self/exe')).toBe(readlinkSync('/proc/self/exe', 'latin1'));
    // The pid in stat is the reader's own: the file is the calling process's.
    expect(Number(String(proc.readWhole('/proc/self/stat')).split(' ')[0])).toBe(process.pid);
  });

  it('reads multi-record files to the end and grows its buffer past 64 KiB', () => {
    const dir = mkdtempSync(join(tmpdir(), 'procfs-'));
    try {
      const big = join(dir, 'big');
      const content = `${'x'.repeat(200_000)}\u00e9`;
      writeFileSync(big, content);
      const proc = createProcfsReader();
      expect(proc.readText(big)).toBe(readFileSync(big, 'latin1'));
      expect(proc.readWhole(big)).toBe(readFileSync(big, 'latin1'));
      const mounts = proc.readText('/proc/self/mountinfo');
      expect(typeof mounts === 'string' && mounts.endsWith('\n')).toBe(true);
      expect(mounts).toBe(readFileSync('/proc/self/mountinfo', 'latin1'));

      const link = join(dir, 'link');
      const target = `/${'d\u00e9/'.repeat(1000)}end`;
      symlinkSync(target, link);
      expect(proc.readLink(link)).toBe(Buffer.from(target).toString('latin1'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('returns -errno, never throws, for missing files and non-links', () => {
    const proc = createProcfsReader();
    const missing = proc.readWhole('/proc/999999999/stat');
    expect(missing).toBe(-2);
    expect(errnoName(-Number(missing))).toBe('ENOENT');
    expect(proc.readText('/nonexistent/file')).toBe(-2);
    expect(proc.readLink('/proc/self/stat')).toBe(-22);
    expect(errnoName(22)).toBe('EINVAL');
    expect(errnoName(3)).toBe('ESRCH');
    expect(errnoName(95)).toBe('EOPNOTSUPP');
    expect(errnoName(11)).toBe('EAGAIN');
    expect(errnoName(9999)).toBe('errno 9999');
  });
});

describe.skipIf(!linux)('createProcfsReader batchClose (kernel)', () => {
  /** How many of this process's descriptors are open on `path`. */
  const openOn = (path: string): number =>
    readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === path;
      } catch {
        return false; // the descriptor readdir itself used, closed by now
      }
    }).length;

  it('holds files until flush or the batch size, then closes only its own descriptors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'procfs-batch-'));
    try {
      const file = join(dir, 'f');
      const other = join(dir, 'other');
      writeFileSync(file, 'content');
      writeFileSync(other, '');
      const proc = createProcfsReader({ batchClose: 4 });
      expect(proc.readWhole(file)).toBe('content');
      expect(proc.readText(file)).toBe('content');
      // A descriptor opened in between by someone else sits inside the reader's range of numbers.
      const foreign = openSync(other, 'r');
      expect(proc.readWhole(file)).toBe('content');
      expect(openOn(file)).toBe(3);
      proc.flush();
      expect(openOn(file)).toBe(0);
      expect(openOn(other)).toBe(1);
      expect(fstatSync(foreign).isFile()).toBe(true);
      closeSync(foreign);

      for (let i = 0; i < 4; i++) proc.readWhole(file);
      expect(openOn(file)).toBe(0); // the fourth reached the batch size
      for (let i = 0; i < 2; i++) proc.readWhole(file);
      expect(openOn(file)).toBe(2);
      proc.flush();
      proc.flush();
      expect(openOn(file)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('closes at once without batchClose', () => {
    const stat = `/proc/${process.pid}/stat`;
    const batching = createProcfsReader({ batchClose: 8 });
    batching.readWhole(stat);
    expect(openOn(stat)).toBe(1);
    batching.flush();
    const proc = createProcfsReader();
    proc.readWhole(stat);
    expect(openOn(stat)).toBe(0);
  });
});

describe.skipIf(!linux)('createProcfsReader keepOpen (kernel)', () => {
  const openOn = (path: string): number =>
    readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === path;
      } catch {
        return false;
      }
    }).length;

  it('re-reads a held /proc/PID/stat with one descriptor, fails once its process is gone, and flush closes what was not read', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    await new Promise((r) => child.once('spawn', r));
    const stat = `/proc/${child.pid}/stat`;
    const mine = `/proc/${process.pid}/stat`;
    const proc = createProcfsReader({ keepOpen: 1 });
    try {
      const first = proc.readHeld(stat);
      expect(String(first).startsWith(`${child.pid} (sleep) `)).toBe(true);
      // The held descriptor gives what a fresh read gives: pid, name, parent and group do not move
      // (the state may, while the child is still starting).
      const fixed = (line: string): string[] => line.split(' ').filter((_, i) => i < 5 && i !== 2);
      expect(fixed(String(proc.readHeld(stat)))).toEqual(fixed(readFileSync(stat, 'latin1')));
      expect(openOn(stat)).toBe(1);
      // Over the keepOpen limit a file is read and closed at once.
      expect(Number(String(proc.readHeld(mine)).split(' ')[0])).toBe(process.pid);
      expect(openOn(mine)).toBe(0);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      await new Promise((r) => setTimeout(r, 50));
      const gone = proc.readHeld(stat);
      expect(typeof gone === 'number' && errnoName(-gone)).toBe('ENOENT');
      expect(openOn(stat)).toBe(0);
      proc.readHeld(mine);
      expect(openOn(mine)).toBe(1);
      proc.flush(); // read since the last flush: kept
      expect(openOn(mine)).toBe(1);
      proc.flush(); // not read since: closed
      expect(openOn(mine)).toBe(0);
    } finally {
      child.kill('SIGKILL');
      proc.flush();
      proc.flush();
    }
  });
});
