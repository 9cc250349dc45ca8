/**
 * What an incident responder checks first, on the real kernel: every exec event names the program
 * that ran (setpriv → sleep chains, where the first image is replaced within a millisecond), a start
 * event reports one program image, ancestry follows the real parent chain, and a process in a
 * container's cgroup carries that container's id. Ground truth comes from outside the source: the
 * spawned commands themselves, /proc read by the test, and a cgroup the test creates.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, rmdirSync } from 'node:fs';
import type { ProcessEvent } from '@daemoneye/core';
import { probeAudit, probeEbpf, probeProcConnector } from '@daemoneye/native';
import { afterEach, describe, expect, it } from 'vitest';
import { RecordingSender } from '../test/fakes.ts';
import type { ProcessSourceOptions } from './options.ts';
import { createProcessSource, type ProcessEventSource } from './process-event-source.ts';

const connector = await probeProcConnector();
const audit = await probeAudit();
if (!connector.available) console.log(`skipping real-time process tests: ${connector.reason}`);
if (connector.available && !audit.available) console.log(`audit-dependent checks skipped: ${audit.reason}`);
const ebpf = probeEbpf();
if (!ebpf.available) console.log(`skipping the eBPF backend's run: ${ebpf.reason}`);

/** Every backend these checks apply to, each run on its own. */
const BACKENDS = [
  { backend: 'ebpf', available: ebpf.available },
  { backend: 'proc-connector', available: connector.available },
] as const;

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of open.splice(0)) await stop();
});

async function startLive(
  options: ProcessSourceOptions = {},
): Promise<{ source: ProcessEventSource; tx: RecordingSender }> {
  const source = createProcessSource({ scanIntervalMs: 60_000, ...options });
  const tx = new RecordingSender();
  const ctl = new AbortController();
  const done = source.start(tx, ctl.signal);
  open.push(async () => {
    ctl.abort();
    await source.stop();
    await done;
  });
  await tx.waitFor((t) => t.readyCalled, 10_000);
  let last = -1;
  while (last !== tx.process('snapshot').length) {
    last = tx.process('snapshot').length;
    await new Promise((r) => setTimeout(r, 300));
  }
  return { source, tx };
}

function run(cmd: string, args: string[]): Promise<{ pid: number; code: number | null }> {
  const child = spawn(cmd, args, { stdio: 'ignore' });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ pid: child.pid ?? -1, code })));
}

const SETPRIV = realpathSync('/usr/bin/setpriv');
const SLEEP = realpathSync('/bin/sleep');

/** Runs `count` setpriv → sleep chains, `parallel` at a time; returns the pid of each. */
async function setprivChains(count: number, parallel: number): Promise<number[]> {
  const pids: number[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      next++;
      const { pid, code } = await run(SETPRIV, ['--reuid=65534', SLEEP, '0']);
      expect(code).toBe(0);
      pids.push(pid);
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
  return pids;
}

function execsOf(tx: RecordingSender, pid: number): ProcessEvent[] {
  return tx.process('exec').filter((e) => e.pid === pid);
}

describe.each(BACKENDS)('process events a responder can trust (real kernel, $backend)', ({ backend, available }) => {
  const kernelExact = backend === 'ebpf' || audit.available;
  it.skipIf(!available || !kernelExact)(
    `200 setpriv → sleep chains (4 in parallel): 400 exec events, each with its own program, argv and uid (${backend === 'ebpf' ? 'eBPF, audit untouched' : 'audit'})`,
    async () => {
      const { source, tx } = await startLive({ backend });
      expect(source.backend()).toBe(backend === 'ebpf' ? 'ebpf' : 'proc-connector+audit');
      const pids = await setprivChains(200, 4);
      await tx.waitFor((t) => pids.every((p) => execsOf(t, p).length >= 2), 20_000);
      await new Promise((r) => setTimeout(r, 300));
      const wrong: string[] = [];
      for (const pid of pids) {
        const got = execsOf(tx, pid).map((e) => [e.executablePath, e.name, e.commandLine, e.userId]);
        const want = [
          [SETPRIV, 'setpriv', [SETPRIV, '--reuid=65534', SLEEP, '0'], '0'],
          [SLEEP, 'sleep', [SLEEP, '0'], '65534'],
        ];
        if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push(`${pid}: ${JSON.stringify(got)}`);
      }
      expect(wrong).toEqual([]);
      expect(pids.flatMap((p) => execsOf(tx, p))).toHaveLength(400);
    },
    90_000,
  );

  // The proc connector alone (no audit) is the only backend that can read /proc too late.
  const procOnly = backend === 'proc-connector' ? it.skipIf(!available) : undefined;
  procOnly?.(
    'without audit, an exec event whose /proc read shows a later image is marked, never presented as fact',
    async () => {
      const { source, tx } = await startLive({ backend, audit: 'off' });
      expect(source.backend()).toBe('proc-connector');
      const pids = await setprivChains(200, 4);
      await tx.waitFor((t) => pids.every((p) => execsOf(t, p).length >= 2), 20_000);
      await new Promise((r) => setTimeout(r, 300));
      const unmarkedWrong: string[] = [];
      let marked = 0;
      for (const pid of pids) {
        const [first, second] = execsOf(tx, pid);
        if (first?.platformMetadata?.procStale === true) marked++;
        else if (first?.executablePath !== SETPRIV || first.commandLine[0] !== SETPRIV || first.userId !== '0')
          unmarkedWrong.push(
            `${pid}: ${first?.executablePath} ${JSON.stringify(first?.commandLine)} uid ${first?.userId}`,
          );
        // sleep 0 may be gone before /proc is read: then the event must say why its fields are empty.
        const gone = 'exited before it could be read';
        const secondGone =
          second?.executablePath === undefined &&
          (second?.name === 'sleep' || (second?.name === '' && second.platformMetadata?.nameError === gone)) &&
          second.platformMetadata?.exeError === gone;
        if (
          !secondGone &&
          second?.platformMetadata?.procStale !== true &&
          (second?.executablePath !== SLEEP || second.userId !== '65534')
        )
          unmarkedWrong.push(`${pid} second: ${JSON.stringify(second)}`);
      }
      console.log(`without audit: ${marked} of ${pids.length} first execs marked procStale`);
      expect(unmarkedWrong).toEqual([]);
    },
    90_000,
  );

  it.skipIf(!available)(
    'start events report one image (the parent’s) over a mix of fork-only, fork+exec and exec chains; empty fields say why',
    async () => {
      const { tx } = await startLive({ backend });
      // dash: `(:)` forks without exec, `/bin/true` forks and execs, `exec` replaces the image in place.
      const script = [
        'i=0',
        'while [ $i -lt 40 ]; do',
        '  (:)',
        '  /bin/true',
        '  /bin/sh -c \'exec /bin/sh -c "exec /bin/true"\'',
        '  i=$((i+1))',
        'done',
      ].join('\n');
      const { pid: shell } = await run('/bin/sh', ['-c', script]);
      await new Promise((r) => setTimeout(r, 1000));
      const events = tx.process().filter((e) => e.subtype !== 'snapshot');
      const starts = events.filter((e) => e.ppid === shell && e.subtype === 'start');
      expect(starts.length).toBe(120);
      const shellImage = events.find((e) => e.pid === shell && e.subtype === 'exec');
      const inconsistent = starts.filter(
        (s) =>
          s.name !== shellImage?.name ||
          s.executablePath !== shellImage?.executablePath ||
          JSON.stringify(s.commandLine) !== JSON.stringify(shellImage?.commandLine),
      );
      expect(inconsistent.map((s) => [s.pid, s.name, s.executablePath, s.commandLine])).toEqual([]);
      const emptyWithoutReason = events.filter(
        (e) => e.commandLine.length === 0 && e.platformMetadata?.cmdlineError === undefined,
      );
      expect(emptyWithoutReason.map((e) => [e.subtype, e.pid, e.name])).toEqual([]);
    },
    60_000,
  );

  it.skipIf(!available)(
    'names the parent and the ancestry of a 4-deep chain as /proc shows it',
    async () => {
      const { tx } = await startLive({ backend });
      const tag = `${process.pid}${Date.now() % 100000}`;
      // bash runs each command as a child (`; true` keeps it from exec'ing the last one).
      const child = spawn('bash', ['-c', `bash -c "bash -c \\"sleep 3.${tag}; true\\"; true"; true`], {
        stdio: 'ignore',
      });
      const sleepArg = `3.${tag}`;
      await tx.waitFor((t) => t.process('exec').some((e) => e.commandLine[1] === sleepArg), 5000);
      const exec = tx.process('exec').find((e) => e.commandLine[1] === sleepArg);
      // Ground truth: the ppid chain and names from /proc while the chain runs.
      const truth: Array<{ pid: number; name: string }> = [];
      let pid = exec?.ppid ?? 0;
      while (pid > 0 && truth.length < 8) {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        truth.push({ pid, name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) });
        pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      }
      child.kill('SIGKILL');
      const ancestry = JSON.parse(String(exec?.platformMetadata?.ancestry)) as Array<{ pid: number; name: string }>;
      expect(ancestry.map((a) => ({ pid: a.pid, name: a.name }))).toEqual(truth);
      expect(ancestry.slice(0, 3).map((a) => a.name)).toEqual(['bash', 'bash', 'bash']);
      expect(ancestry[3]?.pid).toBe(process.pid);
      expect(exec?.platformMetadata?.parentName).toBe('bash');
      expect(exec?.platformMetadata?.parentExecutablePath).toBe(realpathSync('/bin/bash'));
      expect(truth.length).toBeGreaterThanOrEqual(4);
    },
    30_000,
  );

  it.skipIf(!available)(
    'attributes a process in a docker-style cgroup the test creates to that container',
    async () => {
      const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
      const v2 = mounts.map((l) => l.split(' ')).find((f) => f[f.indexOf('-') + 1] === 'cgroup2')?.[4];
      const v1 = mounts
        .map((l) => l.split(' '))
        .find((f) => f[f.indexOf('-') + 1] === 'cgroup' && (f.at(-1) ?? '').split(',').includes('pids'))?.[4];
      const root = v2 ?? v1;
      expect(root, 'a cgroup hierarchy is mounted').toBeDefined();
      const id = randomBytes(32).toString('hex');
      const parent = `${root}/daemoneye-test-${process.pid}`;
      const dir = `${parent}/docker-${id}.scope`;
      mkdirSync(dir, { recursive: true });
      const { tx } = await startLive({ backend });
      try {
        const child = spawn('/bin/sh', ['-c', `echo $$ > ${dir}/cgroup.procs && exec /bin/sleep 2.${process.pid}`], {
          stdio: 'ignore',
        });
        const exited = new Promise((r) => child.on('exit', r));
        await tx.waitFor((t) => execsOf(t, child.pid ?? -1).some((e) => e.executablePath === SLEEP), 5000);
        const exec = execsOf(tx, child.pid ?? -1).find((e) => e.executablePath === SLEEP);
        expect(readFileSync(`/proc/${child.pid}/cgroup`, 'utf8')).toContain(`docker-${id}.scope`);
        expect(exec?.containerId).toBe(id);
        expect(exec?.platformMetadata?.containerRuntime).toBe('docker');
        child.kill('SIGKILL');
        await exited;
      } finally {
        for (let i = 0; i < 50; i++) {
          try {
            rmdirSync(dir);
            rmdirSync(parent);
            break;
          } catch {
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      }
    },
    30_000,
  );
});
