import { execFileSync, spawn } from 'node:child_process';
import { closeSync, copyFileSync, mkdtempSync, openSync, realpathSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { ExecutableHasher } from './exe-hasher.ts';

const sha256sum = (path: string): string => execFileSync('sha256sum', [path], { encoding: 'utf8' }).split(' ')[0] ?? '';
const dir = mkdtempSync(join(tmpdir(), 'hasher-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const limits = { maxFileBytes: 256 * 1024 * 1024, timeoutMs: 5000 };

describe('ExecutableHasher', () => {
  it('equals sha256sum and is cached by identity the second time', async () => {
    const h = new ExecutableHasher(limits);
    const path = realpathSync('/bin/sleep');
    const first = await h.hash({ path });
    expect(first).toEqual({ ok: true, hash: sha256sum(path), cached: false });
    expect(await h.hash({ path })).toEqual({ ok: true, hash: sha256sum(path), cached: true });
    expect(h.cacheSize).toBe(1);
  });

  it('hashes a large binary (node) correctly', async () => {
    const h = new ExecutableHasher(limits);
    expect(await h.hash({ path: process.execPath })).toEqual({
      ok: true,
      hash: sha256sum(process.execPath),
      cached: false,
    });
  });

  it('hashes a running process whose file was deleted, through its exe link', async () => {
    const copy = join(dir, 'gone');
    copyFileSync('/bin/sleep', copy);
    const expected = sha256sum(copy);
    const child = spawn(copy, ['5'], { stdio: 'ignore' });
    try {
      await sleep(100);
      rmSync(copy);
      const h = new ExecutableHasher(limits);
      expect(await h.hash({ pid: child.pid ?? -1, path: copy })).toEqual({ ok: true, hash: expected, cached: false });
    } finally {
      child.kill();
    }
  });

  it('refuses files over the size cap', async () => {
    const h = new ExecutableHasher({ maxFileBytes: 1024, timeoutMs: 5000 });
    expect(await h.hash({ path: '/bin/sleep' })).toEqual({ ok: false, reason: 'ERR_HASH_TOO_LARGE' });
  });

  it('gives up on a hash over the time cap', async () => {
    const h = new ExecutableHasher({ maxFileBytes: 1e9, timeoutMs: 1 });
    expect(await h.hash({ path: process.execPath })).toEqual({ ok: false, reason: 'ERR_HASH_TIMEOUT' });
  });

  it('reports missing files and gone processes as reasons', async () => {
    const h = new ExecutableHasher(limits);
    expect(await h.hash({ path: join(dir, 'nope') })).toEqual({ ok: false, reason: 'ENOENT' });
    expect(await h.hash({ pid: 999_999 })).toEqual({ ok: false, reason: 'ENOENT' });
    expect(await h.hash({})).toEqual({ ok: false, reason: 'ERR_PROCESS_GONE' });
    expect(await h.hash({ path: '/tmp' })).toEqual({ ok: false, reason: 'not_a_file' });
  });

  it('hashes one identity once when asked concurrently', async () => {
    const h = new ExecutableHasher(limits);
    const results = await Promise.all([1, 2, 3, 4].map(() => h.hash({ path: '/bin/ls' })));
    const hash = sha256sum('/bin/ls');
    expect(results.map((r) => r.ok && r.hash)).toEqual([hash, hash, hash, hash]);
    expect(h.cacheSize).toBe(1);
  });

  it('answers closed after close()', async () => {
    const h = new ExecutableHasher(limits);
    h.close();
    expect(await h.hash({ path: '/bin/ls' })).toEqual({ ok: false, reason: 'closed' });
  });
});

describe('ExecutableHasher.cached', () => {
  it('answers from the cache synchronously once a file was hashed, and undefined before', async () => {
    const h = new ExecutableHasher(limits);
    expect(h.cached({ path: '/bin/sleep' })).toBeUndefined();
    await h.hash({ path: '/bin/sleep' });
    expect(h.cached({ pid: 999_999, path: '/bin/sleep' })).toEqual({
      ok: true,
      hash: sha256sum('/bin/sleep'),
      cached: true,
    });
    expect(h.cached({ path: '/nonexistent' })).toBeUndefined();
  });
  it('hashes again a file rewritten in place (same inode and size) whose mtime was put back with touch -r', async () => {
    const h = new ExecutableHasher(limits);
    const path = join(dir, 'rewritten');
    const ref = join(dir, 'rewritten.ref');
    copyFileSync('/bin/true', path);
    execFileSync('touch', ['-r', path, ref]);
    const before = statSync(path);
    const first = await h.hash({ path });
    expect(first).toEqual({ ok: true, hash: sha256sum(path), cached: false });
    // Same length, other bytes, written through the same inode; then the old mtime is put back.
    const fd = openSync(path, 'r+');
    try {
      writeSync(fd, Buffer.from('PWNED!'), 0, 6, 4096);
    } finally {
      closeSync(fd);
    }
    execFileSync('touch', ['-r', ref, path]);
    const after = statSync(path);
    expect([after.ino, after.size, after.mtimeMs]).toEqual([before.ino, before.size, before.mtimeMs]);
    expect(sha256sum(path)).not.toBe(first.ok ? first.hash : '');
    expect(h.cached({ path })).toBeUndefined();
    expect(await h.hash({ path })).toEqual({ ok: true, hash: sha256sum(path), cached: false });
  });
});
