/**
 * The eBPF backend on the real kernel, checked against ground truth from outside the source: a
 * 5,000-exec burst whose every exec carries a unique argv marker (the loop's own pid is the parent,
 * root the user), exit codes of processes the test runs, an argument block over the kernel cap,
 * audit's state read with `auditctl` before and after (untouched), and the backend chosen when eBPF
 * is refused — by the option, and in a child process that lacks the capabilities.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProcessEvent } from '@daemoneye/core';
import { EBPF_ARGV_MAX, probeEbpf, probeProcConnector } from '@daemoneye/native';
import { afterEach, describe, expect, it } from 'vitest';
import { RecordingSender } from '../test/fakes.ts';
import type { ProcessSourceOptions } from './options.ts';
import { createProcessSource, type ProcessEventSource } from './process-event-source.ts';

const ebpf = probeEbpf();
const connector = await probeProcConnector();
if (!ebpf.available) console.log(`skipping eBPF backend tests: ${ebpf.reason}`);
const hasAuditctl = (() => {
  try {
    execFileSync('auditctl', ['-s'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of open.splice(0)) await stop();
});

async function startLive(
  options: ProcessSourceOptions = {},
): Promise<{ source: ProcessEventSource; tx: RecordingSender; stop: () => Promise<void> }> {
  const source = createProcessSource({ scanIntervalMs: 60_000, ...options });
  const tx = new RecordingSender();
  const ctl = new AbortController();
  const done = source.start(tx, ctl.signal);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    ctl.abort();
    await source.stop();
    await done;
  };
  open.push(stop);
  await tx.waitFor((t) => t.readyCalled, 10_000);
  let last = -1;
  while (last !== tx.process('snapshot').length) {
    last = tx.process('snapshot').length;
    await new Promise((r) => setTimeout(r, 300));
  }
  return { source, tx, stop };
}

function run(cmd: string, args: string[]): Promise<{ pid: number; code: number | null }> {
  const child = spawn(cmd, args, { stdio: 'ignore' });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ pid: child.pid ?? -1, code })));
}

/** `auditctl -s` and `-l`: the audit state a monitor could change. */
function auditState(): string {
  return `${execFileSync('auditctl', ['-s'], { encoding: 'utf8' })}\n${execFileSync('auditctl', ['-l'], { encoding: 'utf8' })}`;
}

describe.skipIf(!ebpf.available)('the eBPF process backend (real kernel)', () => {
  it.skipIf(!hasAuditctl)(
    'a 5,000-exec burst with unique argv markers: 5,000 exact exec events (file, argv, parent, uid); audit untouched',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'de-ebpf-burst-'));
      try {
        const bin = join(dir, 'tinybin');
        copyFileSync('/bin/true', bin);
        const before = auditState();
        const { source, tx, stop } = await startLive({ backend: 'ebpf' });
        expect(source.backend()).toBe('ebpf');
        const tag = `${process.pid}x${Date.now() % 1e6}`;
        const { pid: loop, code } = await run('/bin/bash', [
          '-c',
          `for i in $(seq 1 5000); do ${bin} M${tag}-$i; done`,
        ]);
        expect(code).toBe(0);
        const mine = (t: RecordingSender): ProcessEvent[] =>
          t.process('exec').filter((e) => e.commandLine[1]?.startsWith(`M${tag}-`));
        await tx.waitFor((t) => mine(t).length >= 5000, 30_000).catch(() => {});
        await new Promise((r) => setTimeout(r, 500));
        const execs = mine(tx);
        const wrong = execs.filter(
          (e) =>
            e.executablePath !== bin ||
            e.commandLine.length !== 2 ||
            e.commandLine[0] !== bin ||
            e.ppid !== loop ||
            e.userId !== '0' ||
            e.platformMetadata?.detectedBy !== 'ebpf',
        );
        expect(wrong.slice(0, 5)).toEqual([]);
        const markers = new Set(execs.map((e) => e.commandLine[1]));
        expect(markers.size).toBe(5000);
        expect(execs).toHaveLength(5000);
        expect(tx.losses).toEqual([]);
        await stop();
        expect(auditState()).toBe(before);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    90_000,
  );

  it('fork and exit events with exit codes and signals, from the kernel', async () => {
    const { tx } = await startLive({ backend: 'ebpf' });
    const { pid, code } = await run('/bin/sh', ['-c', '/bin/true; exit 7']);
    expect(code).toBe(7);
    const killed = spawn('/bin/sleep', ['30'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 200));
    killed.kill('SIGKILL');
    await new Promise((r) => killed.on('exit', r));
    await tx.waitFor(
      (t) => t.process('exit').some((e) => e.pid === pid) && t.process('exit').some((e) => e.pid === killed.pid),
      5000,
    );
    const start = tx.process('start').find((e) => e.pid === pid);
    const exit = tx.process('exit').find((e) => e.pid === pid);
    expect([start?.ppid, start?.platformMetadata?.detectedBy]).toEqual([process.pid, 'ebpf']);
    expect([exit?.exitCode, exit?.name, exit?.ppid, exit?.platformMetadata?.detectedBy]).toEqual([
      7,
      'sh',
      process.pid,
      'ebpf',
    ]);
    // The child /bin/true of the shell: its own fork, exec and exit 0. It is gone before /proc can be read,
    // so the path comes from the kernel's filename, its symbolic links resolved as /proc/PID/exe would
    // show them (on a merged /usr, /usr/bin/true); the path as given stays in the metadata.
    const real = realpathSync('/bin/true');
    const child = tx.process('exec').find((e) => e.ppid === pid && e.commandLine[0] === '/bin/true');
    expect(child?.executablePath).toBe(real);
    expect(child?.platformMetadata?.execFilename).toBe(real === '/bin/true' ? undefined : '/bin/true');
    expect(tx.process('exit').find((e) => e.pid === child?.pid)?.exitCode).toBe(0);
    const k = tx.process('exit').find((e) => e.pid === killed.pid);
    expect([k?.exitCode, k?.platformMetadata?.termSignal]).toEqual([128 + 9, 9]);
  }, 20_000);

  it("a forked child's start time and cgroup come from the kernel's fork record: /proc's own, also for a child gone at once", async () => {
    const { tx } = await startLive({ backend: 'ebpf' });
    const ownCgroups = readFileSync('/proc/self/cgroup', 'utf8');
    const ownCgroup = /^0::(.*)$/m.exec(ownCgroups)?.[1];
    // Only on a pure cgroup v2 host does one v2 cgroup id say all of a process's cgroups.
    const pureV2 = ownCgroups.trim().split('\n').length === 1;
    const sleeper = spawn('/bin/sleep', ['5'], { stdio: 'ignore' });
    open.push(async () => void sleeper.kill('SIGKILL'));
    const pid = sleeper.pid ?? -1;
    await tx.waitFor((t) => t.process('exec').some((e) => e.pid === pid), 5000);
    // /proc's view of the same process, read now from outside the source.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const uptimeS = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    const procStartMs = Date.now() - uptimeS * 1000 + ticks * 10;
    const start = tx.process('start').find((e) => e.pid === pid);
    const exec = tx.process('exec').find((e) => e.pid === pid);
    // The fork event, read before the child exec'd, and the exec event, read from /proc after it,
    // give one start time; both are /proc's (its boot time is known to 10 ms, the ticks to 10 ms).
    expect(start?.startTime).toBe(exec?.startTime);
    expect(Math.abs((start?.startTime ?? 0) - procStartMs)).toBeLessThanOrEqual(30);
    expect(start?.cgroup).toBe(/^0::(.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[1]);
    // A subshell that forks and exits without an exec: gone before any /proc read, it still has the
    // kernel's start time (within its parent's life) and, on a pure cgroup v2 host, the cgroup it was
    // forked into (a hybrid host has it only when /proc could still be read).
    const before = Date.now();
    const { pid: sh, code } = await run('/bin/sh', ['-c', '(exit 0); exit 3']);
    const after = Date.now();
    expect(code).toBe(3);
    await tx.waitFor((t) => t.process('exit').some((e) => e.pid === sh), 5000);
    const sub = tx.process('start').find((e) => e.ppid === sh);
    expect(sub?.platformMetadata?.detectedBy).toBe('ebpf');
    expect(sub?.startTime).toBeGreaterThanOrEqual(before - 30);
    expect(sub?.startTime).toBeLessThanOrEqual(after + 30);
    if (pureV2) expect(sub?.cgroup).toBe(ownCgroup);
    else expect([undefined, ownCgroup]).toContain(sub?.cgroup);
    expect(tx.process('exit').find((e) => e.pid === sub?.pid)?.exitCode).toBe(0);
  }, 20_000);

  it(`an argument block over ${EBPF_ARGV_MAX} bytes arrives cut there and flagged; the cut is reported as loss with its reason`, async () => {
    const { tx } = await startLive({ backend: 'ebpf' });
    const long = 'a'.repeat(3000);
    const { pid } = await run('/bin/echo', [long, long, 'end']);
    const { pid: short } = await run('/bin/echo', ['short']);
    await tx.waitFor((t) => t.process('exec').some((e) => e.pid === short), 5000);
    await new Promise((r) => setTimeout(r, 300));
    const exec = tx.process('exec').find((e) => e.pid === pid);
    expect(exec?.platformMetadata?.argvTruncated).toBe(true);
    // The NUL-separated block: '/bin/echo\0' + 3000 + '\0' + the rest of the second argument.
    const bytes = exec?.commandLine.join('\0').length;
    expect(bytes).toBe(EBPF_ARGV_MAX);
    expect(exec?.commandLine.slice(0, 2)).toEqual(['/bin/echo', long]);
    expect(exec?.commandLine[2]).toBe('a'.repeat(EBPF_ARGV_MAX - 10 - 3001));
    expect(tx.process('exec').find((e) => e.pid === short)?.platformMetadata?.argvTruncated).toBeUndefined();
    await tx.waitFor((t) => t.losses.some((l) => l.reason === 'ebpf_argv_truncated'), 3000);
  }, 20_000);

  it.skipIf(!connector.available)(
    'forced off eBPF by the option, the source runs the proc connector (with audit when it opens)',
    async () => {
      const { source } = await startLive({ backend: 'proc-connector' });
      expect(source.backend()).toMatch(/^proc-connector/);
      expect(source.ebpfFallbackReason()).toBeUndefined();
    },
    20_000,
  );

  it('refused eBPF (no CAP_BPF/CAP_PERFMON/CAP_SYS_ADMIN, no capability, another user namespace): proc connector + audit, then polling, saying why', async () => {
    const script = fileURLToPath(new URL('../test/backend-probe.mjs', import.meta.url));
    const runProbe = (wrapper: string[]): { backend: string; health?: { status: string; reason?: string } } => {
      const [cmd = 'env', ...args] = wrapper;
      const out = execFileSync(cmd, [...args, process.execPath, script], { encoding: 'utf8', timeout: 20_000 });
      return JSON.parse(out.trim().split('\n').at(-1) ?? '{}');
    };
    const partial = runProbe([
      'setpriv',
      '--inh-caps=-bpf,-perfmon,-sys_admin',
      '--bounding-set=-bpf,-perfmon,-sys_admin',
    ]);
    expect(partial.backend).toBe('proc-connector+audit');
    expect(partial.health?.reason).toMatch(/eBPF: missing CAP_BPF and CAP_PERFMON \(or CAP_SYS_ADMIN\)/);
    // No capability at all: never eBPF; whether the proc connector takes unprivileged listeners depends on the kernel.
    const none = runProbe(['setpriv', '--inh-caps=-all', '--bounding-set=-all']);
    expect(none.backend).not.toBe('ebpf');
    expect(none.health?.reason).toMatch(/eBPF: missing CAP_BPF and CAP_PERFMON/);
    // Root of a new user namespace: neither eBPF nor the proc connector; polling, and the health report says both why.
    const userns = runProbe(['unshare', '--user', '--map-root-user']);
    expect(userns.backend).toBe('poll');
    expect(userns.health?.status).toBe('degraded');
    expect(userns.health?.reason).toMatch(/eBPF: not in the initial user namespace.*; proc connector unavailable/);
  }, 60_000);
});
