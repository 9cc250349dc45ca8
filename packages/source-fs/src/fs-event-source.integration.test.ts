/**
 * The filesystem source against the real kernel, under both backends: a scripted sequence of changes
 * made by a child process in a temp dir (mkdir, create, writes, chmod, chown, renames within and
 * across directories, a nested create in a new directory, a delete) gives exactly the expected events
 * in order; under fanotify the pid, name and uid are those of a child running as uid 65534 (checked
 * with `ps`); excluded paths give nothing; 10,000 files created in a burst are all reported (with the
 * inotify queue made small, through the overflow count and the rescan); the collector's own writes
 * are not reported; SHA-256 on close-write matches `sha256sum`; a watch limit lowered in a user
 * namespace gives Degraded health naming the limit and the sysctl. Run under the kernel lock.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { FilesystemEvent } from '@daemoneye/core';
import { SourceCaps } from '@daemoneye/core';
import { checkSourceConformance, RecordingSender } from '@daemoneye/core/testing';
import { probeFanotify, probeInotify } from '@daemoneye/native';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFsSource, type FsEventSource } from './fs-event-source.ts';
import type { FsSourceOptions } from './options.ts';

const fanotify = await probeFanotify();
const inotify = await probeInotify();
if (!fanotify.available) process.stderr.write(`skipping fanotify tests: ${fanotify.reason}\n`);
if (!inotify.available) process.stderr.write(`skipping inotify tests: ${inotify.reason}\n`);
const execFileAsync = promisify(execFile);
const BACKENDS = [
  ...(fanotify.available ? (['fanotify'] as const) : []),
  ...(inotify.available ? (['inotify'] as const) : []),
];

let dir = '';
let running: { source: FsEventSource; ctl: AbortController; done: Promise<void> }[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'de-fs-'));
});
afterEach(async () => {
  for (const r of running) {
    r.ctl.abort();
    await r.done.catch(() => {});
    await r.source.stop();
  }
  running = [];
  rmSync(dir, { recursive: true, force: true });
});

async function startSource(options: FsSourceOptions): Promise<{ source: FsEventSource; tx: RecordingSender }> {
  const source = createFsSource({ rateLimit: 0, ...options });
  const tx = new RecordingSender();
  const ctl = new AbortController();
  const done = source.start(tx, ctl.signal);
  running.push({ source, ctl, done });
  await tx.waitFor((t) => t.readyCalled, 10_000);
  return { source, tx };
}

/**
 * Runs `body` (a script's statements; `d` is the dir, `pause(ms)` sleeps) in a child Node process,
 * without blocking this one (the source handles events meanwhile); resolves with the child's pid.
 */
async function runScript(body: string): Promise<number> {
  const script = `const fs = require('node:fs'); const d = ${JSON.stringify(dir)};
const pause = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
${body}
console.log(process.pid);`;
  const { stdout } = await execFileAsync(process.execPath, ['-e', script], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return Number(stdout.trim());
}

const rel = (p: string | undefined): string | undefined => (p === undefined ? undefined : p.slice(dir.length + 1));

/** The fields the sequence checks, relative to the temp dir. */
function summary(e: FilesystemEvent): string {
  const parts: string[] = [e.operation, rel(e.path) ?? ''];
  if (e.oldPath !== undefined) parts.push(`from=${rel(e.oldPath)}`);
  if (e.isDirectory === true) parts.push('dir');
  if (e.modifyCount !== undefined) parts.push(`count=${e.modifyCount}`);
  if (e.operation === 'attrib') parts.push(`mode=${e.permissions}`, `owner=${e.ownerUid}:${e.ownerGid}`);
  return parts.join(' ');
}

function fsEvents(tx: RecordingSender): FilesystemEvent[] {
  return tx.ofKind('filesystem');
}

describe.each(BACKENDS)('FsEventSource (%s, kernel)', (backend) => {
  it('reports a scripted sequence of changes exactly, in order', async () => {
    const { source, tx } = await startSource({ paths: [dir], backend });
    expect(source.backend()).toBe(backend);
    const pid = await runScript(`
      fs.mkdirSync(d + '/a'); pause(150);
      fs.writeFileSync(d + '/a/f.txt', 'hello'); pause(150);
      const fd = fs.openSync(d + '/a/f.txt', 'a');
      fs.writeSync(fd, '1'); pause(60); fs.writeSync(fd, '2'); pause(60); fs.writeSync(fd, '3'); pause(60);
      fs.closeSync(fd); pause(150);
      fs.chmodSync(d + '/a/f.txt', 0o600); pause(150);
      fs.chownSync(d + '/a/f.txt', 65534, 65534); pause(150);
      fs.renameSync(d + '/a/f.txt', d + '/a/g.txt'); pause(150);
      fs.mkdirSync(d + '/b'); pause(150);
      fs.renameSync(d + '/a/g.txt', d + '/b/g.txt'); pause(150);
      fs.mkdirSync(d + '/c/d', { recursive: true }); fs.writeFileSync(d + '/c/d/n.txt', ''); pause(150);
      fs.rmSync(d + '/b/g.txt');
    `);
    const expected = [
      'create a dir',
      'create a/f.txt',
      'modify a/f.txt count=1',
      'modify a/f.txt count=3',
      'attrib a/f.txt mode=0600 owner=0:0',
      'attrib a/f.txt mode=0600 owner=65534:65534',
      'rename a/g.txt from=a/f.txt',
      'create b dir',
      'rename b/g.txt from=a/g.txt',
      'create c dir',
      'create c/d dir',
      'create c/d/n.txt',
      'delete b/g.txt',
    ];
    await tx.waitFor(
      (t) => fsEvents(t).length >= expected.length,
      5000,
      () => fsEvents(tx).map(summary).join('\n'),
    );
    await sleep(700);
    const events = fsEvents(tx);
    expect(events.map(summary)).toEqual(expected);
    const g = events.find((e) => e.operation === 'rename' && rel(e.path) === 'b/g.txt');
    expect(g?.size).toBe(8);
    if (backend === 'fanotify') {
      expect(events.every((e) => e.pid === pid && e.processName === 'node' && e.uid === 0)).toBe(true);
      expect(source.capabilities()).toBe(
        SourceCaps.FILESYSTEM | SourceCaps.REALTIME | SourceCaps.KERNEL_LEVEL | SourceCaps.SYSTEM_WIDE,
      );
    } else {
      expect(events.every((e) => e.pid === undefined)).toBe(true);
      expect(source.capabilities()).toBe(SourceCaps.FILESYSTEM | SourceCaps.REALTIME);
    }
  });

  it('reports nothing for excluded paths and does not watch excluded trees', async () => {
    mkdirSync(join(dir, 'skip'));
    mkdirSync(join(dir, 'keep'));
    mkdirSync(join(dir, 'skip', 'deep'));
    const { source, tx } = await startSource({ paths: [dir], backend, exclude: ['**/skip', '**/*.tmp'] });
    if (backend === 'inotify') expect(source.stats().watches).toBe(2);
    await runScript(`
      fs.writeFileSync(d + '/skip/x', 'x'); fs.writeFileSync(d + '/skip/deep/y', 'y');
      fs.mkdirSync(d + '/skip/new'); fs.writeFileSync(d + '/keep/z.tmp', 'z'); fs.rmSync(d + '/skip/x');
      pause(100); fs.writeFileSync(d + '/keep/sentinel', '');
    `);
    await tx.waitFor((t) => fsEvents(t).some((e) => e.path.endsWith('sentinel')), 5000);
    await sleep(300);
    expect(fsEvents(tx).map(summary)).toEqual(['create keep/sentinel']);
  });

  it('reports every one of 10,000 files created in a burst', async () => {
    mkdirSync(join(dir, 'burst'));
    let restore: string | undefined;
    if (backend === 'inotify') {
      // A small queue for this instance only (the limit is read when an instance is created, and
      // restored at once), so the burst overflows it and the rescan has to find what was lost.
      restore = readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8').trim();
      writeFileSync('/proc/sys/fs/inotify/max_queued_events', '256');
    }
    let started: Awaited<ReturnType<typeof startSource>>;
    try {
      started = await startSource({ paths: [dir], backend });
    } finally {
      if (restore !== undefined) writeFileSync('/proc/sys/fs/inotify/max_queued_events', restore);
    }
    const { source, tx } = started;
    // Synchronously: this thread (the consumer) is stalled for the whole burst, as a busy collector
    // would be; the reader thread stops after its in-flight limit and the kernel queue takes the rest.
    execFileSync(process.execPath, [
      '-e',
      `const fs = require('node:fs'); for (let i = 0; i < 10000; i++) fs.writeFileSync(${JSON.stringify(join(dir, 'burst'))} + '/f' + i, 'x');`,
    ]);
    const want = new Set(Array.from({ length: 10_000 }, (_, i) => join(dir, 'burst', `f${i}`)));
    const seen = (): number => {
      let n = 0;
      const created = new Set(
        fsEvents(tx)
          .filter((e) => e.operation === 'create')
          .map((e) => e.path),
      );
      for (const p of want) if (created.has(p)) n++;
      return n;
    };
    await tx.waitFor(
      () => seen() === want.size,
      30_000,
      () => `${seen()} of ${want.size} creates reported; ${JSON.stringify(source.stats())}`,
    );
    const s = source.stats();
    const overflowEvents = fsEvents(tx).filter((e) => e.operation === 'overflow');
    if (backend === 'inotify') {
      // The queue of 256 overflowed: counted, announced, and the rescan reported the rest.
      expect(s.overflows).toBeGreaterThan(0);
      expect(s.rescans).toBeGreaterThan(0);
      expect(overflowEvents.length).toBeGreaterThan(0);
      expect(fsEvents(tx).some((e) => e.operation === 'create' && e.rescan === true)).toBe(true);
    } else if (s.overflows > 0) {
      expect(s.rescans).toBeGreaterThan(0);
    } else {
      expect(overflowEvents).toEqual([]);
    }
    expect(s.eventsDropped).toBe(0);
  }, 60_000);

  it('hashes files matching a hash glob on close-write (SHA-256, as sha256sum)', async () => {
    const { tx } = await startSource({ paths: [dir], backend, hash: ['**/*.bin'] });
    await runScript(
      `fs.writeFileSync(d + '/data.bin', Buffer.alloc(300000, 7)); fs.writeFileSync(d + '/plain.txt', 'x');`,
    );
    await tx.waitFor((t) => fsEvents(t).filter((e) => e.operation === 'modify').length >= 2, 5000);
    const expected = execFileSync('sha256sum', [join(dir, 'data.bin')], { encoding: 'utf8' }).split(' ')[0];
    const bin = fsEvents(tx).find((e) => e.operation === 'modify' && e.path.endsWith('data.bin'));
    const txt = fsEvents(tx).find((e) => e.operation === 'modify' && e.path.endsWith('plain.txt'));
    expect(bin?.fileHash).toBe(expected);
    expect(bin?.hashAlgorithm).toBe('sha256');
    expect(bin?.size).toBe(300_000);
    expect(txt?.fileHash).toBeUndefined();
  });

  it('passes the source conformance suite', async () => {
    const report = await checkSourceConformance(() => createFsSource({ paths: [dir], backend }), {
      eventTimeoutMs: 10_000,
    });
    expect(report.failures).toEqual([]);
  });
});

describe.skipIf(!fanotify.available)('FsEventSource (fanotify actors and own writes)', () => {
  it('names the pid, process name and uid of a child running as uid 65534', async () => {
    const u = join(dir, 'u');
    chmodSync(dir, 0o755);
    mkdirSync(u);
    chownSync(u, 65534, 65534);
    const { tx } = await startSource({ paths: [dir], backend: 'fanotify' });
    const child = spawn('sh', ['-c', `echo data > ${u}/by-nobody.txt; sleep 2`], {
      uid: 65534,
      gid: 65534,
      stdio: 'ignore',
    });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      await tx.waitFor((t) => fsEvents(t).some((e) => e.operation === 'create'), 5000);
      const ps = execFileSync('ps', ['-o', 'comm=,uid=', '-p', String(child.pid)], { encoding: 'utf8' })
        .trim()
        .split(/\s+/);
      const created = fsEvents(tx).find((e) => e.operation === 'create');
      expect(created?.path).toBe(join(u, 'by-nobody.txt'));
      expect(created?.pid).toBe(child.pid);
      expect([created?.processName, String(created?.uid)]).toEqual(ps);
      expect(created?.uid).toBe(65534);
    } finally {
      child.kill();
      await exited;
    }
  });

  it("does not report the collector's own writes", async () => {
    const { tx } = await startSource({ paths: [dir], backend: 'fanotify' });
    writeFileSync(join(dir, 'own.txt'), 'written by the collector process');
    await runScript(`fs.writeFileSync(d + '/other.txt', '');`);
    await tx.waitFor((t) => fsEvents(t).some((e) => e.path.endsWith('other.txt')), 5000);
    await sleep(200);
    expect(fsEvents(tx).map(summary)).toEqual(['create other.txt']);
  });
});

describe.skipIf(!inotify.available)('FsEventSource (inotify watch limit)', () => {
  it('reports Degraded naming the limit and the sysctl when inotify_add_watch fails with ENOSPC', () => {
    for (let i = 0; i < 6; i++) mkdirSync(join(dir, `d${i}`));
    const child = fileURLToPath(new URL('../test/watch-limit-child.mjs', import.meta.url));
    // A user namespace of its own, where the test may lower the watch limit without touching the host's.
    const out = execFileSync(
      'unshare',
      [
        '--user',
        '--map-root-user',
        'sh',
        '-c',
        `echo 3 > /proc/sys/user/max_inotify_watches && exec "$0" "$1" "$2"`,
        process.execPath,
        child,
        dir,
      ],
      { encoding: 'utf8' },
    );
    const report = JSON.parse(out) as { health: { status: string; reason: string }; watches: number };
    expect(report.watches).toBe(3);
    expect(report.health.status).toBe('degraded');
    expect(report.health.reason).toContain('inotify watch limit reached (ENOSPC) after 3 watches');
    expect(report.health.reason).toContain('user.max_inotify_watches is 3');
    expect(report.health.reason).toContain('sysctl -w fs.inotify.max_user_watches=');
    expect(report.health.reason).toContain('4 directories unwatched');
  });

  it('reports Degraded when the watch budget runs out', async () => {
    for (let i = 0; i < 4; i++) mkdirSync(join(dir, `d${i}`));
    const { source } = await startSource({ paths: [dir], backend: 'inotify', maxWatches: 2 });
    expect(source.stats().watches).toBe(2);
    expect(await source.healthCheck()).toEqual({
      status: 'degraded',
      reason:
        'inotify watch budget reached: max_watches is 2; directories beyond it are not watched (raise max_watches) (3 directories unwatched)',
    });
  });
});
