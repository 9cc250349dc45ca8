import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { fdTarget } from './__test__/fd.ts';
import { isNativeError } from './native-error.ts';
import { probeProcConnector } from './probes.ts';
import { openProcConnector } from './proc-connector.ts';
import type { ProcConnectorEvent } from './proc-event.ts';

const probe = await probeProcConnector();
if (!probe.available) process.stderr.write(`skipping proc connector tests: ${probe.reason}\n`);

function run(cmd: string, args: readonly string[]): Promise<{ pid: number; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ pid: child.pid ?? -1, code }));
  });
}

async function until(pred: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred() && Date.now() < end) await sleep(20);
}

describe.skipIf(!probe.available)('openProcConnector (kernel)', () => {
  it('sees fork, exec and exit (code 7) of a spawned shell', async () => {
    const reader = await openProcConnector();
    const events: ProcConnectorEvent[] = [];
    reader.onEvents((batch) => events.push(...batch));
    try {
      const { pid, code } = await run('/bin/sh', ['-c', 'exit 7']);
      expect(code).toBe(7);
      const mine = (): ProcConnectorEvent[] =>
        events.filter((e) => (e.type === 'fork' ? e.childPid === pid : 'pid' in e && e.pid === pid));
      await until(() => mine().some((e) => e.type === 'exit'));
      const seen = mine();
      expect(seen.map((e) => e.type)).toEqual(['fork', 'exec', 'exit']);
      const fork = seen[0];
      expect(fork?.type === 'fork' && fork.parentTgid).toBe(process.pid);
      const exit = seen[2];
      expect(
        exit?.type === 'exit' && {
          exitCode: exit.exitCode,
          status: exit.status,
          termSignal: exit.termSignal,
          tgid: exit.tgid,
        },
      ).toEqual({
        exitCode: 7,
        status: 7 << 8,
        termSignal: 0,
        tgid: pid,
      });
      expect(reader.stats().receiveBufferBytes).toBe(32 * 1024 * 1024);
    } finally {
      await reader.close();
    }
  });

  it('captures the chosen /proc files of an exec in the reader thread, before a quick exit', async () => {
    const reader = await openProcConnector({ captureOnExec: { files: ['cmdline', 'stat'], links: ['exe', 'nope'] } });
    const events: ProcConnectorEvent[] = [];
    reader.onEvents((batch) => events.push(...batch));
    try {
      const tag = `capture-${process.pid}`;
      // One at a time from a shell, as a script runs them: 20 `true` and 20 `sleep` children.
      const shell = await run('/bin/sh', [
        '-c',
        `for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do /bin/true ${tag}; sleep 0.01; done`,
      ]);
      const children = new Set(
        events.flatMap((e) => (e.type === 'fork' && e.parentTgid === shell.pid ? [e.childTgid] : [])),
      );
      const execs = (): ProcConnectorEvent[] => events.filter((e) => e.type === 'exec' && children.has(e.pid));
      await until(() => execs().length === 40);
      const captured = execs().map((e) => (e.type === 'exec' ? e.captured : undefined));
      expect(captured).toHaveLength(40);
      let complete = 0;
      for (const c of captured) {
        expect(Object.keys(c ?? {}).sort()).toEqual(['cmdline', 'exe', 'nope', 'stat']);
        expect(c?.nope).toBe(-2); // ENOENT: no such entry
        // Each entry is text, or -errno once the process has gone (it may exit between two reads).
        for (const v of Object.values(c ?? {}))
          expect(typeof v === 'string' || (typeof v === 'number' && v < 0)).toBe(true);
        if (c?.cmdline === `/bin/true\0${tag}\0` && c.exe === realpathSync('/bin/true')) complete++;
      }
      // `true` exits within a millisecond; the reader thread still gets many of them whole: 14-20 of 20
      // on an idle host, down to 6 with both cores busy.
      process.stdout.write(`captured ${complete}/20 /bin/true execs whole\n`);
      expect(complete).toBeGreaterThanOrEqual(4);
    } finally {
      await reader.close();
    }
  });

  it('rejects capture names that are not plain /proc/<pid>/ entries', async () => {
    const err = await openProcConnector({ captureOnExec: { files: ['../environ'] } }).catch((e: unknown) => e);
    expect(isNativeError(err, 'ERR_NATIVE_INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toBe('captureOnExec.files must be plain /proc/<pid>/ entry names, got "../environ"');
  });

  it('loses nothing in a 300-exec burst with the 32 MiB buffer', async () => {
    const reader = await openProcConnector();
    const events: ProcConnectorEvent[] = [];
    let lost = 0;
    reader.onEvents((batch) => events.push(...batch));
    reader.onLoss(() => lost++);
    try {
      const { pid, code } = await run('/bin/sh', ['-c', 'i=0; while [ $i -lt 300 ]; do /bin/true; i=$((i+1)); done']);
      expect(code).toBe(0);
      const children = (): Set<number> =>
        new Set(events.flatMap((e) => (e.type === 'fork' && e.parentTgid === pid ? [e.childTgid] : [])));
      const execsOfChildren = (): number => {
        const kids = children();
        return events.filter((e) => e.type === 'exec' && kids.has(e.tgid)).length;
      };
      const exitsOfChildren = (): number => {
        const kids = children();
        return events.filter((e) => e.type === 'exit' && kids.has(e.tgid)).length;
      };
      await until(() => exitsOfChildren() >= 300);
      expect(children().size).toBe(300);
      expect(execsOfChildren()).toBe(300);
      expect(exitsOfChildren()).toBe(300);
      expect(lost).toBe(0);
      expect(reader.stats().lossEvents).toBe(0);
    } finally {
      await reader.close();
    }
  });

  it('reports ENOBUFS loss with a tiny buffer and keeps delivering afterwards', async () => {
    const reader = await openProcConnector({ receiveBufferBytes: 4096 });
    const events: ProcConnectorEvent[] = [];
    let lossReports = 0;
    reader.onEvents((batch) => events.push(...batch));
    reader.onLoss((info) => {
      expect(info.reason).toBe('enobufs');
      lossReports++;
    });
    try {
      const burst = 'i=0; while [ $i -lt 200 ]; do /bin/true & i=$((i+1)); done; wait';
      await Promise.all([run('/bin/sh', ['-c', burst]), run('/bin/sh', ['-c', burst]), run('/bin/sh', ['-c', burst])]);
      await sleep(200);
      expect(lossReports).toBeGreaterThan(0);
      expect(reader.stats().lossEvents).toBeGreaterThanOrEqual(lossReports);
      const { pid } = await run('/bin/sh', ['-c', 'exit 3']);
      await until(() => events.some((e) => e.type === 'exit' && e.pid === pid));
      const exit = events.find((e) => e.type === 'exit' && e.pid === pid);
      expect(exit?.type === 'exit' && exit.exitCode).toBe(3);
    } finally {
      await reader.close();
    }
  });

  it('close is idempotent and stops delivery', async () => {
    const reader = await openProcConnector({ receiveBufferBytes: 1 << 20 });
    let after = 0;
    let closed = false;
    reader.onEvents((b) => {
      if (closed) after += b.length;
    });
    const first = reader.close();
    const second = reader.close();
    expect(second).toBe(first);
    await first;
    closed = true;
    await run('/bin/true', []);
    await sleep(200);
    expect(after).toBe(0);
  });
  it('an unsubscribed callback gets nothing more while the others keep receiving', async () => {
    const reader = await openProcConnector({ receiveBufferBytes: 1 << 20 });
    const kept: ProcConnectorEvent[] = [];
    let late = 0;
    let unsubscribed = false;
    reader.onEvents((b) => kept.push(...b));
    const off = reader.onEvents((b) => {
      if (unsubscribed) late += b.length;
    });
    try {
      off();
      unsubscribed = true;
      const { pid } = await run('/bin/true', []);
      await until(() => kept.some((e) => e.type === 'exit' && e.pid === pid));
      expect(kept.some((e) => e.type === 'exit' && e.pid === pid)).toBe(true);
      expect(late).toBe(0);
    } finally {
      await reader.close();
    }
  });

  it('aborting the signal closes the reader and its socket; an aborted signal rejects', async () => {
    const ac = new AbortController();
    const reader = await openProcConnector({ receiveBufferBytes: 1 << 20, signal: ac.signal });
    const { fd } = reader.stats();
    const link = readlinkSync(`/proc/self/fd/${fd}`);
    expect(link).toMatch(/^socket:\[\d+\]$/);
    let after = 0;
    let aborted = false;
    reader.onEvents((b) => {
      if (aborted) after += b.length;
    });
    ac.abort();
    await reader.close();
    aborted = true;
    expect(reader.stats().fd).toBe(-1);
    expect(fdTarget(fd)).not.toBe(link);
    await run('/bin/true', []);
    await sleep(100);
    expect(after).toBe(0);
    const err = await openProcConnector({ signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(isNativeError(err, 'ERR_NATIVE_ABORTED')).toBe(true);
    expect((err as Error).message).toBe('openProcConnector: aborted');
  });

  it('a signal aborted while the reader starts makes the open call reject and releases the socket', async () => {
    const sockets = (): number =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:');
        } catch {
          return false;
        }
      }).length;
    const before = sockets();
    const ac = new AbortController();
    const opening = openProcConnector({ receiveBufferBytes: 1 << 20, signal: ac.signal });
    ac.abort();
    const err = await opening.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isNativeError(err, 'ERR_NATIVE_ABORTED')).toBe(true);
    expect((err as Error).message).toBe('starting the proc-connector-worker worker: aborted');
    // The worker still finishes its start-up, then gets the stop message and closes its socket.
    await until(() => sockets() === before);
    expect(sockets()).toBe(before);
  });

  it('logs at debug what it found and opened, and what it closed', async () => {
    const lines: [string, Record<string, unknown>][] = [];
    const log = (obj: object, msg: string): void => void lines.push([msg, obj as Record<string, unknown>]);
    const reader = await openProcConnector({
      receiveBufferBytes: 1 << 20,
      logger: { debug: log, info: log, warn: log, error: log },
    });
    const { fd, receiveBufferBytes } = reader.stats();
    await reader.close();
    expect(lines.map(([msg]) => msg)).toEqual([
      'proc connector privileges found',
      'proc connector opened',
      'proc connector closed',
    ]);
    expect(lines[0]?.[1]).toEqual({ CAP_NET_ADMIN: true });
    expect(lines[1]?.[1]).toEqual({ fd, receiveBufferBytes });
    expect(lines[2]?.[1]).toMatchObject({ fd, lossEvents: 0 });
  });

  it('opens in a process started with V8 flags, from an --input-type=module --eval script', () => {
    const dist = new URL('../dist/index.js', import.meta.url).href;
    const script = `import { openProcConnector } from ${JSON.stringify(dist)};
const reader = await openProcConnector();
await reader.close();
console.log('opened');`;
    const out = execFileSync(
      process.execPath,
      ['--max-old-space-size=256', '--expose-gc', '--input-type=module', '--eval', script],
      { encoding: 'utf8' },
    );
    expect(out.trim()).toBe('opened');
  });
});
