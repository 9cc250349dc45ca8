import { execFileSync } from 'node:child_process';
import { isCollectorError, SourceCaps } from '@daemoneye/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  exitEvent,
  FakeEbpfKernel,
  FakeKernel,
  nowNs,
  RecordingSender,
  ScriptedSnapshot,
  snap,
} from '../test/fakes.ts';
import { fixtureProcReader, PROC_SAMPLE } from '../test/fixture-proc-reader.ts';
import type { ProcReader } from './internal/proc-reader.ts';
import type { ProcessSourceOptions } from './options.ts';
import { createProcessSource, type ProcessEventSource } from './process-event-source.ts';

const running: Array<{ source: ProcessEventSource; ctl: AbortController; done: Promise<void> }> = [];

function startSource(options: ProcessSourceOptions) {
  const source = createProcessSource({ hashing: { enabled: false }, ...options });
  const tx = new RecordingSender();
  const ctl = new AbortController();
  const done = source.start(tx, ctl.signal);
  running.push({ source, ctl, done });
  return { source, tx, ctl, done };
}

afterEach(async () => {
  for (const r of running.splice(0)) {
    r.ctl.abort();
    await r.source.stop();
    await r.done.catch(() => {});
  }
});

const BASE = SourceCaps.PROCESS | SourceCaps.SYSTEM_WIDE;
const RT = BASE | SourceCaps.REALTIME | SourceCaps.KERNEL_LEVEL;

describe('ProcessEventSource options', () => {
  it('names the bad field, value and layer', () => {
    let err: unknown;
    try {
      createProcessSource({ pollIntervalMs: 0 });
    } catch (e) {
      err = e;
    }
    expect(isCollectorError(err, 'ERR_CONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toBe('ProcessSourceOptions.pollIntervalMs must be an integer >= 10, got 0');
    expect(() => createProcessSource({ realtime: 'on' as 'auto' })).toThrow(/realtime must be one of auto, off/);
  });
  it('has the default name and base capabilities before start', () => {
    const s = createProcessSource();
    expect(s.name()).toBe('process');
    expect(s.capabilities()).toBe(BASE);
    expect(createProcessSource({ name: 'procs' }).name()).toBe('procs');
  });
});

describe('ProcessEventSource polling backend', () => {
  it('sends a snapshot, then start/exit/exec diffs, and stops cleanly', async () => {
    const snapshot = new ScriptedSnapshot();
    snapshot.processes = [snap(10), snap(11)];
    const { source, tx, ctl, done } = startSource({ realtime: 'off', pollIntervalMs: 20, snapshot });
    await tx.waitFor((t) => t.process('snapshot').length === 2);
    expect(tx.readyCalled).toBe(true);
    expect(source.capabilities()).toBe(BASE);
    expect(source.backend()).toBe('poll');
    snapshot.processes = [snap(11, { executablePath: '/usr/bin/other' }), snap(12)];
    await tx.waitFor(
      (t) => t.process('exit').length === 1 && t.process('start').length === 1 && t.process('exec').length === 1,
    );
    expect(tx.process('exit').map((e) => [e.pid, e.name])).toEqual([[10, 'p10']]);
    expect(tx.process('start').map((e) => [e.pid, e.platformMetadata?.detectedBy])).toEqual([[12, 'poll']]);
    expect(tx.process('exec').map((e) => [e.pid, e.executablePath])).toEqual([[11, '/usr/bin/other']]);
    ctl.abort();
    await done;
    expect(snapshot.closed).toBe(1);
    await source.stop();
    expect(snapshot.closed).toBe(1);
    expect(source.backend()).toBe('idle');
  });

  it('reports a pid reused by another process as an exit and a start', async () => {
    const snapshot = new ScriptedSnapshot();
    snapshot.processes = [snap(20)];
    const { tx } = startSource({ realtime: 'off', pollIntervalMs: 20, snapshot });
    await tx.waitFor((t) => t.process('snapshot').length === 1);
    snapshot.processes = [snap(20, { startTicks: 999, name: 'again' })];
    await tx.waitFor((t) => t.process('start').length === 1);
    expect(tx.process().map((e) => `${e.subtype}:${e.name}`)).toEqual(['snapshot:p20', 'exit:p20', 'start:again']);
  });

  it('hashes executables: sha256 of the file, or a reason', async () => {
    const snapshot = new ScriptedSnapshot();
    snapshot.processes = [snap(999_991, { executablePath: '/bin/sleep' }), snap(999_992, { executablePath: '/nope' })];
    const { tx } = startSource({ realtime: 'off', snapshot, hashing: { enabled: true } });
    await tx.waitFor((t) => t.process('snapshot').length === 2);
    const [a, b] = tx.process('snapshot');
    const expected = execFileSync('sha256sum', ['/bin/sleep'], { encoding: 'utf8' }).split(' ')[0];
    expect([a?.executableHash, a?.hashAlgorithm]).toEqual([expected, 'sha256']);
    expect([b?.executableHash, b?.hashAlgorithm, b?.platformMetadata?.hashError]).toEqual([
      undefined,
      undefined,
      'ENOENT',
    ]);
  });

  it('is unhealthy while snapshots fail, and rejects start when the first one fails', async () => {
    const snapshot = new ScriptedSnapshot();
    snapshot.failWith = 'worker died';
    const source = createProcessSource({ realtime: 'off', snapshot });
    await expect(source.start(new RecordingSender(), new AbortController().signal)).rejects.toThrow('worker died');
    expect(snapshot.closed).toBe(1);
    const s2 = new ScriptedSnapshot();
    const { source: ok, tx } = startSource({ realtime: 'off', pollIntervalMs: 20, snapshot: s2 });
    await tx.waitFor((t) => t.readyCalled);
    await expect(ok.healthCheck()).resolves.toBeUndefined();
    s2.failWith = 'scan failed: EMFILE';
    await expect(ok.healthCheck()).rejects.toThrow('process snapshots failing: scan failed: EMFILE');
  });
});

describe('ProcessEventSource real-time backend', () => {
  const reader = fixtureProcReader(PROC_SAMPLE);
  const parent = snap(3750, { name: 'bash', executablePath: '/usr/bin/bash', commandLine: ['bash'] });

  async function realtime(options: ProcessSourceOptions = {}) {
    const kernel = new FakeKernel();
    const snapshot = new ScriptedSnapshot();
    snapshot.processes = [parent];
    const started = startSource({ kernel, snapshot, procReader: reader, scanIntervalMs: 60_000, ...options });
    await started.tx.waitFor((t) => t.process('snapshot').length === 1);
    return { ...started, kernel, snapshot };
  }

  it('turns fork/exec/exit of leaders into start/exec/exit, skipping threads', async () => {
    const { source, tx, kernel } = await realtime({ audit: 'off' });
    expect(source.capabilities()).toBe(RT);
    expect(source.backend()).toBe('proc-connector');
    const ts = nowNs();
    kernel.events?.([
      { type: 'fork', timestampNs: ts, parentPid: 3750, parentTgid: 3750, childPid: 3753, childTgid: 3753 },
      { type: 'fork', timestampNs: ts, parentPid: 3753, parentTgid: 3750, childPid: 3799, childTgid: 3753 },
      { type: 'exec', timestampNs: ts, pid: 3753, tgid: 3753 },
      exitEvent({ timestampNs: ts, pid: 3799, tgid: 3753, exitCode: 0 }),
      exitEvent({ timestampNs: ts, pid: 3753, tgid: 3753, exitCode: 3, parentTgid: 3750 }),
    ]);
    await tx.waitFor((t) => t.process('exit').length === 1);
    const events = tx.process().filter((e) => e.subtype !== 'snapshot');
    expect(events.map((e) => [e.subtype, e.pid, e.ppid, e.name, e.exitCode])).toEqual([
      // At fork the child is still its parent's image (bash), even though /proc already shows sh.
      ['start', 3753, 3750, 'bash', undefined],
      ['exec', 3753, 3750, 'sh', undefined],
      ['exit', 3753, 3750, 'sh', 3],
    ]);
    expect(events[1]?.commandLine).toEqual(['sh', '-c', 'sleep 302; echo done', '--', '', 'héllo wörld']);
    expect(events[1]?.executablePath).toBe('/usr/bin/dash');
    expect(Math.abs((events[0]?.timestamp ?? 0) - Date.now())).toBeLessThan(1000);
  });

  it('still reports a process that was gone before it could be read', async () => {
    const { tx, kernel } = await realtime({ audit: 'off' });
    kernel.events?.([
      { type: 'fork', timestampNs: nowNs(), parentPid: 3750, parentTgid: 3750, childPid: 5000, childTgid: 5000 },
      { type: 'exec', timestampNs: nowNs(), pid: 5000, tgid: 5000 },
      exitEvent({ timestampNs: nowNs(), pid: 5000, tgid: 5000, exitCode: 0 }),
    ]);
    await tx.waitFor((t) => t.process('exit').length === 1);
    const [start, exec, exit] = tx.process().filter((e) => e.pid === 5000);
    expect([start?.subtype, start?.name, start?.ppid, start?.platformMetadata?.imageFrom]).toEqual([
      'start',
      'bash',
      3750,
      undefined,
    ]);
    expect([exec?.subtype, exec?.platformMetadata?.enrichment]).toEqual(['exec', 'none']);
    expect([exit?.subtype, exit?.exitCode]).toEqual(['exit', 0]);
  });

  it('reports the exit of a process it never saw with what the kernel gave, marked partial', async () => {
    const { tx, kernel } = await realtime({ audit: 'off' });
    kernel.events?.([
      { ...exitEvent({ timestampNs: nowNs(), pid: 6100, tgid: 6100, exitCode: 137, parentTgid: 3750 }), termSignal: 9 },
    ]);
    await tx.waitFor((t) => t.process('exit').length === 1);
    const exit = tx.process('exit')[0];
    expect({
      pid: exit?.pid,
      ppid: exit?.ppid,
      exitCode: exit?.exitCode,
      partial: exit?.platformMetadata?.partial,
      termSignal: exit?.platformMetadata?.termSignal,
      exitSignal: exit?.platformMetadata?.exitSignal,
      nameError: exit?.platformMetadata?.nameError,
      cmdlineError: exit?.platformMetadata?.cmdlineError,
      parentName: exit?.platformMetadata?.parentName,
    }).toEqual({
      pid: 6100,
      ppid: 3750,
      exitCode: 137,
      partial: true,
      termSignal: 9,
      exitSignal: 17,
      nameError: 'not seen before it exited',
      cmdlineError: 'not seen before it exited',
      parentName: 'bash',
    });
  });

  it('names the parent and the ancestors of each event from the process table, to the configured depth', async () => {
    const { tx, kernel } = await realtime({ audit: 'off', ancestryDepth: 1 });
    kernel.events?.([
      { type: 'fork', timestampNs: nowNs(), parentPid: 3750, parentTgid: 3750, childPid: 5000, childTgid: 5000 },
    ]);
    await tx.waitFor((t) => t.process('start').length === 1);
    const start = tx.process('start')[0];
    expect(start?.platformMetadata?.parentName).toBe('bash');
    expect(JSON.parse(String(start?.platformMetadata?.ancestry))).toEqual([
      { pid: 3750, name: 'bash', executablePath: '/usr/bin/bash' },
    ]);
  });

  it('asks the connector to capture the exec files, and uses them for a process already gone', async () => {
    const { tx, kernel } = await realtime();
    expect(kernel.captureOnExec).toEqual({ files: ['cmdline', 'stat', 'status', 'cgroup'], links: ['exe', 'cwd'] });
    const stat =
      '5001 (true) S 3750 5001 3750 0 -1 4194304 90 0 0 0 0 0 0 0 20 0 1 0 36864 2990080 200 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0';
    kernel.events?.([
      { type: 'fork', timestampNs: nowNs(), parentPid: 3750, parentTgid: 3750, childPid: 5001, childTgid: 5001 },
      {
        type: 'exec',
        timestampNs: nowNs(),
        pid: 5001,
        tgid: 5001,
        captured: {
          exe: '/usr/bin/true',
          cwd: '/srv/w\xc3\xa9rk', // UTF-8 bytes, as latin1 text
          cmdline: '/bin/true\0--tag\0',
          stat,
          status: 'Name:\ttrue\nUid:\t1000\t1000\t1000\t1000\n',
          cgroup: -2, // ENOENT: read after it had gone
        },
      },
      exitEvent({ timestampNs: nowNs(), pid: 5001, tgid: 5001, exitCode: 0 }),
    ]);
    await tx.waitFor((t) => t.process('exit').length === 1);
    const exec = tx.process('exec').find((e) => e.pid === 5001);
    expect({
      path: exec?.executablePath,
      argv: exec?.commandLine,
      cwd: exec?.cwd,
      uid: exec?.userId,
      ppid: exec?.ppid,
      enrichment: exec?.platformMetadata?.enrichment,
      detectedBy: exec?.platformMetadata?.detectedBy,
    }).toEqual({
      path: '/usr/bin/true',
      argv: ['/bin/true', '--tag'],
      cwd: '/srv/wérk',
      uid: '1000',
      ppid: 3750,
      enrichment: undefined,
      detectedBy: 'connector',
    });
  });

  it('skips the exit of a kernel thread whose fork it skipped (the kernel reports parent 0 at exit)', async () => {
    const { tx, kernel } = await realtime({ audit: 'off' });
    kernel.events?.([
      { type: 'fork', timestampNs: nowNs(), parentPid: 2, parentTgid: 2, childPid: 6001, childTgid: 6001 },
      exitEvent({ timestampNs: nowNs(), pid: 6001, tgid: 6001, exitCode: 0, parentTgid: 0 }),
      { type: 'fork', timestampNs: nowNs(), parentPid: 3750, parentTgid: 3750, childPid: 6002, childTgid: 6002 },
      exitEvent({ timestampNs: nowNs(), pid: 6002, tgid: 6002, exitCode: 0, parentTgid: 0 }),
    ]);
    await tx.waitFor((t) => t.process('exit').length === 1);
    await new Promise((r) => setTimeout(r, 50));
    const seen = tx
      .process()
      .filter((e) => e.subtype !== 'snapshot')
      .map((e) => [e.subtype, e.pid, e.ppid]);
    expect(seen).toEqual([
      ['start', 6002, 3750],
      ['exit', 6002, 3750],
    ]);
  });

  const record = (pid: number, serial: number) => ({
    serial,
    timestampMs: Date.now(),
    pid,
    ppid: 3750,
    uid: 65534,
    euid: 65534,
    gid: 65534,
    auid: 4294967295,
    exe: '/usr/bin/true',
    comm: 'true',
    argv: ['/bin/true', `--n=${serial}`],
    cwd: '/srv',
    success: true,
  });

  it('merges audit records with connector execs: one exec per exec, whichever comes first', async () => {
    const { source, tx, kernel } = await realtime({ auditWaitMs: 200 });
    expect(source.backend()).toBe('proc-connector+audit');
    kernel.events?.([{ type: 'exec', timestampNs: nowNs(), pid: 5001, tgid: 5001 }]);
    kernel.execs?.([record(5001, 1), record(5002, 2), { ...record(5003, 3), success: false }]);
    kernel.events?.([{ type: 'exec', timestampNs: nowNs(), pid: 5002, tgid: 5002 }]);
    await tx.waitFor((t) => t.process('exec').length === 2);
    await new Promise((r) => setTimeout(r, 300));
    const execs = tx.process('exec');
    expect(
      execs.map((e) => [e.pid, e.name, e.executablePath, e.commandLine, e.cwd, e.userId, e.userName, e.ppid]),
    ).toEqual([
      [5001, 'true', '/usr/bin/true', ['/bin/true', '--n=1'], '/srv', '65534', 'nobody', 3750],
      [5002, 'true', '/usr/bin/true', ['/bin/true', '--n=2'], '/srv', '65534', 'nobody', 3750],
    ]);
    expect(execs.map((e) => e.platformMetadata?.detectedBy)).toEqual(['connector+audit', 'connector+audit']);
  });

  it('emits an audit record alone when its connector exec never comes, and skips a late one', async () => {
    const { tx, kernel } = await realtime();
    kernel.execs?.([record(5010, 10)]);
    await tx.waitFor((t) => t.process('exec').length === 1, 3000);
    kernel.events?.([{ type: 'exec', timestampNs: nowNs(), pid: 5010, tgid: 5010 }]);
    await new Promise((r) => setTimeout(r, 100));
    expect(tx.process('exec').map((e) => [e.pid, e.platformMetadata?.detectedBy])).toEqual([[5010, 'audit']]);
  });

  it('reports loss and rescans: missed starts and exits are emitted', async () => {
    const { tx, kernel, snapshot } = await realtime({ audit: 'off' });
    snapshot.processes = [snap(6000)];
    kernel.loss?.({ reason: 'enobufs', count: 1, at: Date.now() });
    await tx.waitFor((t) => t.process('start').length === 1 && t.process('exit').length === 1);
    expect(tx.losses).toEqual([{ count: 1, reason: 'proc_connector_enobufs' }]);
    expect(tx.process('start').map((e) => [e.pid, e.platformMetadata?.detectedBy])).toEqual([[6000, 'rescan']]);
    expect(tx.process('exit').map((e) => [e.pid, e.exitCode])).toEqual([[3750, undefined]]);
  });

  it('falls back to polling and reports Degraded when the connector fails', async () => {
    const { source, tx, kernel } = await realtime();
    await expect(source.healthCheck()).resolves.toBeUndefined();
    kernel.error?.(new Error('recv failed: EBADF'));
    expect(source.backend()).toBe('poll');
    expect(source.capabilities()).toBe(BASE);
    await expect(source.healthCheck()).resolves.toEqual({
      status: 'degraded',
      reason: 'proc connector failed (Error: recv failed: EBADF); polling every 1000 ms instead',
    });
    expect(tx.losses).toEqual([]);
  });

  it('reports Degraded with the reason when the connector cannot open, and Healthy when polling was asked for', async () => {
    const kernel = new FakeKernel();
    kernel.connectorFails = 'CAP_NET_ADMIN missing';
    const snapshot = new ScriptedSnapshot();
    snapshot.processes = [parent];
    const { source, tx, ctl, done } = startSource({ kernel, snapshot, procReader: reader });
    await tx.waitFor((t) => t.process('snapshot').length === 1);
    expect(source.backend()).toBe('poll');
    await expect(source.healthCheck()).resolves.toEqual({
      status: 'degraded',
      reason: 'polling every 1000 ms: proc connector unavailable (Error: CAP_NET_ADMIN missing)',
    });
    ctl.abort();
    await done;
    const chosen = startSource({ kernel, snapshot, procReader: reader, realtime: 'off' });
    await chosen.tx.waitFor((t) => t.process('snapshot').length === 1);
    await expect(chosen.source.healthCheck()).resolves.toBeUndefined();
    chosen.ctl.abort();
    await chosen.done;
  });

  it('makes a collector Degraded, naming the fallback, when it runs on polling', async () => {
    const { TestCollector, createTestConfig } = await import('@daemoneye/core/testing');
    const kernel = new FakeKernel();
    kernel.connectorFails = 'CAP_NET_ADMIN missing';
    const snapshot = new ScriptedSnapshot();
    snapshot.processes = [parent];
    const source = createProcessSource({ kernel, snapshot, procReader: reader, hashing: { enabled: false } });
    const tc = new TestCollector(createTestConfig({ healthCheckInterval: 30 })).register(source).start();
    try {
      await tc.waitForEvents(1);
      const t0 = Date.now();
      while (tc.collector.health().status !== 'Degraded' && Date.now() - t0 < 3000) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(tc.collector.health()).toMatchObject({
        status: 'Degraded',
        reasons: ['source process: polling every 1000 ms: proc connector unavailable (Error: CAP_NET_ADMIN missing)'],
      });
    } finally {
      await tc.stop();
    }
  });

  it('closes the kernel readers once, whichever stop comes first', async () => {
    const { source, ctl, done, kernel } = await realtime();
    ctl.abort();
    await Promise.all([source.stop(), source.stop(), done]);
    expect([kernel.connectorClosed, kernel.auditClosed]).toEqual([1, 1]);
  });

  it('closes a reader that finished opening after stop, and start resolves', async () => {
    const kernel = new FakeKernel();
    kernel.openDelayMs = 100;
    const source = createProcessSource({ kernel, snapshot: new ScriptedSnapshot(), hashing: { enabled: false } });
    const ctl = new AbortController();
    const done = source.start(new RecordingSender(), ctl.signal);
    await new Promise((r) => setTimeout(r, 20));
    ctl.abort();
    await source.stop();
    await done;
    await new Promise((r) => setTimeout(r, 150));
    expect([kernel.connectorClosed, kernel.auditClosed]).toEqual([1, 1]);
    expect(source.backend()).toBe('idle');
  });

  it('polls when the connector cannot open', async () => {
    const kernel = new FakeKernel();
    kernel.connectorFails = 'ERR_NATIVE_UNAVAILABLE: needs CAP_NET_ADMIN';
    const snapshot = new ScriptedSnapshot();
    const { source, tx } = startSource({ kernel, snapshot });
    await tx.waitFor((t) => t.readyCalled);
    expect(source.backend()).toBe('poll');
    expect(source.capabilities()).toBe(BASE);
  });
});

describe('ProcessEventSource eBPF backend (fake kernel)', () => {
  const reader = fixtureProcReader(PROC_SAMPLE);

  it('a fork takes the start time and kernel-thread flag from its record; one cgroup read serves later forks into the same v2 cgroup, on a pure cgroup v2 host only', async () => {
    // 5001 is pure cgroup v2 and 5004 hybrid (v1 lines beside the v2 one); the others are gone.
    const files = new Map([
      ['/proc/5001/cgroup', '0::/system.slice/app.service\n'],
      ['/proc/5004/cgroup', '4:memory:/m/one\n0::/hybrid.slice\n'],
    ]);
    const procReader: ProcReader = { ...reader, readFile: (path) => files.get(path) ?? reader.readFile(path) };
    const kernel = new FakeEbpfKernel();
    const snapshot = new ScriptedSnapshot();
    snapshot.processes = [snap(3750, { name: 'bash', executablePath: '/usr/bin/bash', commandLine: ['bash'] })];
    const { tx } = startSource({ kernel, snapshot, procReader, scanIntervalMs: 60_000 });
    await tx.waitFor((t) => t.process('snapshot').length === 1);
    const fork = (child: number, cgroupId: bigint, startNs: bigint, kernelThread = false) => ({
      type: 'fork' as const,
      timestampNs: nowNs(),
      parentPid: 3750,
      parentTgid: 3750,
      childPid: child,
      childTgid: child,
      childStartNs: startNs,
      childCgroupId: cgroupId,
      childKernelThread: kernelThread,
    });
    kernel.ebpfEvents?.([
      fork(5001, 77n, 10_000_000_000n),
      fork(5002, 77n, 12_500_000_000n),
      fork(5003, 78n, 12_600_000_000n),
      fork(5004, 79n, 12_700_000_000n),
      fork(5005, 79n, 12_800_000_000n),
      fork(5006, 80n, 12_900_000_000n, true),
    ]);
    await tx.waitFor((t) => t.process('start').length === 5);
    await new Promise((r) => setTimeout(r, 50));
    const starts = tx.process('start');
    expect(starts.map((e) => [e.pid, e.cgroup])).toEqual([
      [5001, '/system.slice/app.service'],
      [5002, '/system.slice/app.service'],
      [5003, undefined],
      [5004, '/hybrid.slice'],
      [5005, undefined],
    ]);
    // Ticks of 10 ms from start_boottime, as /proc/PID/stat counts them, also for the children gone.
    const at = (pid: number) => starts.find((e) => e.pid === pid)?.startTime ?? Number.NaN;
    expect([at(5002) - at(5001), at(5003) - at(5002), at(5005) - at(5001)]).toEqual([2500, 100, 2800]);
  });

  it('an exec whose /proc read already shows a later image (another comm) takes its image from the kernel, not /proc', async () => {
    const kernel = new FakeEbpfKernel();
    const snapshot = new ScriptedSnapshot();
    const { source, tx } = startSource({ kernel, snapshot, procReader: reader, scanIntervalMs: 60_000 });
    await tx.waitFor((t) => t.readyCalled);
    expect(source.backend()).toBe('ebpf');
    const exec = (comm: string, filename: string, argv: string[]) => ({
      type: 'exec' as const,
      timestampNs: nowNs(),
      pid: 3753,
      tgid: 3753,
      ppid: 3750,
      uid: 0,
      euid: 0,
      gid: 0,
      oldPid: 3753,
      comm,
      filename,
      argv,
      argvTruncated: false,
      filenameTruncated: false,
      argvUnreadable: false,
      filenameUnreadable: false,
    });
    // Two quick execs in two batches: /proc (sh, /usr/bin/dash) shows neither the first (setpriv) nor,
    // for its cwd and hash, anything that belongs to it.
    kernel.ebpfEvents?.([exec('setpriv', '/nonexistent/setpriv', ['setpriv', '--reuid=65534', 'sh'])]);
    await tx.waitFor((t) => t.process('exec').length === 1);
    kernel.ebpfEvents?.([exec('sh', '/usr/bin/dash', ['sh', '-c', 'sleep 302; echo done'])]);
    await tx.waitFor((t) => t.process('exec').length === 2);
    const [first, second] = tx.process('exec');
    expect([first?.name, first?.executablePath, first?.commandLine, first?.cwd]).toEqual([
      'setpriv',
      '/nonexistent/setpriv',
      ['setpriv', '--reuid=65534', 'sh'],
      undefined,
    ]);
    expect(first?.platformMetadata?.procImageDropped).toBe("the process exec'd again before /proc was read");
    expect([second?.name, second?.executablePath, second?.platformMetadata?.procImageDropped]).toEqual([
      'sh',
      '/usr/bin/dash',
      undefined,
    ]);
  });
});
