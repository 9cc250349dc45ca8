import { execFileSync, spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { type Logger, SourceCaps } from '@daemoneye/core';
import { checkSourceConformance } from '@daemoneye/core/testing';
import { listAuditRules, probeAudit, probeProcConnector, readAuditStatus } from '@daemoneye/native';
import { afterEach, describe, expect, it } from 'vitest';
import { RecordingSender } from '../test/fakes.ts';
import { createProcessSource, type ProcessEventSource } from './process-event-source.ts';

const connector = await probeProcConnector();
const audit = await probeAudit();
if (!connector.available) console.log(`skipping real-time process tests: ${connector.reason}`);
if (connector.available && !audit.available) console.log(`audit-dependent checks skipped: ${audit.reason}`);

const open: Array<{ source: ProcessEventSource; ctl: AbortController; done: Promise<void> }> = [];
afterEach(async () => {
  for (const r of open.splice(0)) {
    r.ctl.abort();
    await r.source.stop();
    await r.done;
  }
});

/** What the sources logged (reasons a backend was unavailable show up here). */
const logged: string[] = [];
const noop = (): void => {};
const record = (obj: object | string, msg?: string): void => {
  logged.push(typeof obj === 'string' ? obj : `${msg ?? ''} ${JSON.stringify(obj)}`);
};
const logger: Logger = {
  trace: noop,
  debug: noop,
  info: record,
  warn: record,
  error: record,
  fatal: record,
  child: () => logger,
};

async function startLive(): Promise<{ source: ProcessEventSource; tx: RecordingSender; stop: () => Promise<void> }> {
  // The proc connector backend (with audit): the eBPF backend has tests of its own.
  const source = createProcessSource({ backend: 'proc-connector', scanIntervalMs: 60_000, logger });
  const tx = new RecordingSender();
  const ctl = new AbortController();
  const done = source.start(tx, ctl.signal);
  const entry = { source, ctl, done };
  open.push(entry);
  await tx.waitFor((t) => t.readyCalled, 10_000);
  let last = -1;
  while (last !== tx.process('snapshot').length) {
    last = tx.process('snapshot').length;
    await new Promise((r) => setTimeout(r, 300));
  }
  const stop = async (): Promise<void> => {
    open.splice(open.indexOf(entry), 1);
    ctl.abort();
    await source.stop();
    await done;
  };
  return { source, tx, stop };
}

function run(cmd: string, args: string[]): Promise<{ pid: number; code: number | null; spawnedAt: number }> {
  const spawnedAt = Date.now();
  const child = spawn(cmd, args, { stdio: 'ignore' });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ pid: child.pid ?? -1, code, spawnedAt })));
}

describe.skipIf(!connector.available)('ProcessEventSource on the real kernel', () => {
  it('passes the source conformance suite', async () => {
    const report = await checkSourceConformance(() => createProcessSource({ hashing: { enabled: false } }), {
      minEvents: 1,
      eventTimeoutMs: 10_000,
    });
    expect(report.failures).toEqual([]);
  }, 60_000);

  it('scans /proc on the main thread of a small host: no snapshot worker, every process ps lists', async () => {
    // User-space processes: everything but kthreadd (pid 2) and its children.
    const ps = (): number[] =>
      execFileSync('ps', ['--ppid', '2', '-N', '-o', 'pid='], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map(Number)
        .filter((pid) => pid !== 2);
    const before = ps();
    const { source, tx } = await startLive();
    const after = new Set(ps());
    const pids = new Set(tx.process('snapshot').map((e) => e.pid));
    const stable = before.filter((pid) => after.has(pid));
    expect(stable.length).toBeGreaterThan(3);
    expect(stable.filter((pid) => !pids.has(pid))).toEqual([]);
    expect(source.stats().snapshotThread).toBe('current');
    // The scan's duration is reported (how fast it is, is the benchmark's business).
    expect(source.stats().lastScanMs).toBeGreaterThan(0);
  });

  it("reports sh -c 'sleep 2': start and exec with pid, ppid, argv, path, uid, start time; exit 0", async () => {
    const { source, tx } = await startLive();
    expect(source.capabilities()).toBe(
      SourceCaps.PROCESS | SourceCaps.SYSTEM_WIDE | SourceCaps.REALTIME | SourceCaps.KERNEL_LEVEL,
    );
    const { pid, spawnedAt } = await run('sh', ['-c', 'sleep 2']);
    await tx.waitFor((t) => t.process('exit').some((e) => e.pid === pid), 5000);
    const mine = tx.process().filter((e) => e.pid === pid);
    const start = mine.find((e) => e.subtype === 'start');
    const exec = mine.find((e) => e.subtype === 'exec');
    const exit = mine.find((e) => e.subtype === 'exit');
    expect(start?.ppid).toBe(process.pid);
    expect(exec?.ppid).toBe(process.pid);
    expect(exec?.commandLine).toEqual(['sh', '-c', 'sleep 2']);
    expect(exec?.executablePath).toBe(realpathSync('/bin/sh'));
    expect(exec?.userId).toBe(String(process.getuid?.()));
    expect(exec?.userName).toBe('root');
    expect(Math.abs((exec?.startTime ?? 0) - spawnedAt)).toBeLessThan(1000);
    expect(Math.abs((start?.startTime ?? 0) - spawnedAt)).toBeLessThan(1000);
    expect(exec?.executableHash).toMatch(/^[0-9a-f]{64}$/);
    expect(exec?.hashAlgorithm).toBe('sha256');
    expect(exit?.exitCode).toBe(0);
    expect(mine.filter((e) => e.subtype === 'exec' && e.commandLine[0] === 'sh')).toHaveLength(1);
  }, 20_000);

  it('reports a non-zero exit code', async () => {
    const { tx } = await startLive();
    const { pid, code } = await run('sh', ['-c', 'sleep 0.3; exit 3']);
    expect(code).toBe(3);
    await tx.waitFor((t) => t.process('exit').some((e) => e.pid === pid), 5000);
    const exit = tx.process('exit').find((e) => e.pid === pid);
    expect([exit?.exitCode, exit?.name, exit?.ppid]).toEqual([3, 'sh', process.pid]);
  }, 20_000);

  it.skipIf(!audit.available)(
    'reports >= 999 of 1,000 /bin/true execs with path and argv, and restores audit as found',
    async () => {
      const statusBefore = await readAuditStatus();
      const rulesBefore = await listAuditRules();
      const { source, tx, stop } = await startLive();
      expect(source.backend(), logged.join('\n')).toBe('proc-connector+audit');
      const { pid: shell } = await run('sh', ['-c', 'i=0; while [ $i -lt 1000 ]; do /bin/true; i=$((i+1)); done']);
      const isTrue = (e: { subtype: string; ppid?: number; commandLine: readonly string[] }): boolean =>
        e.subtype === 'exec' && e.ppid === shell && e.commandLine[0] === '/bin/true';
      await tx.waitFor((t) => t.process().filter(isTrue).length >= 1000, 15_000).catch(() => {});
      await new Promise((r) => setTimeout(r, 1500));
      const execs = tx.process().filter(isTrue);
      const lost = tx.losses.reduce((n, l) => n + l.count, 0);
      expect(execs.length).toBeGreaterThanOrEqual(999);
      expect(execs.length).toBeLessThanOrEqual(1000);
      if (execs.length < 1000) expect(lost).toBeGreaterThan(0);
      expect(new Set(execs.map((e) => e.pid)).size).toBe(execs.length);
      expect(execs.every((e) => e.executablePath === realpathSync('/bin/true') && e.commandLine.length === 1)).toBe(
        true,
      );
      await stop();
      const statusAfter = await readAuditStatus();
      expect(await listAuditRules()).toEqual(rulesBefore);
      expect({ enabled: statusAfter.enabled, pid: statusAfter.pid }).toEqual({
        enabled: statusBefore.enabled,
        pid: statusBefore.pid,
      });
    },
    40_000,
  );
});
