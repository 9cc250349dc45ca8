import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fdTarget } from './__test__/fd.ts';
import { listAuditRules, readAuditStatus } from './audit-control.ts';
import { type AuditExecMonitor, openAuditExecMonitor, recoverAuditState } from './audit-monitor.ts';
import type { AuditExecRecord } from './audit-record.ts';
import { isNativeError } from './native-error.ts';
import { probeAudit } from './probes.ts';

// Audit configuration is global: everything that changes it lives in this one sequential file.
const probe = await probeAudit();
const daemonRunning = probe.available && (await readAuditStatus()).pid !== 0;
if (!probe.available) process.stderr.write(`skipping audit tests: ${probe.reason}\n`);
if (daemonRunning)
  process.stderr.write(
    'skipping audit tests: an audit daemon is running; these tests need to register as the daemon\n',
  );

const dir = mkdtempSync(join(tmpdir(), 'audit-test-'));
const stateFile = (name: string): string => join(dir, `${name}.json`);

function run(cmd: string, args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', () => resolve(child.pid ?? -1));
  });
}

async function execsOf(
  m: AuditExecMonitor,
  pid: () => number,
  action: () => Promise<void>,
): Promise<AuditExecRecord[]> {
  const got: AuditExecRecord[] = [];
  m.onExec((recs) => got.push(...recs));
  await action();
  const end = Date.now() + 5000;
  while (!got.some((r) => r.pid === pid()) && Date.now() < end) await sleep(20);
  return got.filter((r) => r.pid === pid());
}

describe.skipIf(!probe.available || daemonRunning)('audit exec monitor (kernel)', { sequential: true }, () => {
  let rulesBefore: string[] = [];
  let statusBefore = { enabled: -1, pid: -1, backlogLimit: -1, backlogWaitTime: -1 as number | undefined };

  beforeAll(async () => {
    rulesBefore = await listAuditRules();
    const s = await readAuditStatus();
    statusBefore = { enabled: s.enabled, pid: s.pid, backlogLimit: s.backlogLimit, backlogWaitTime: s.backlogWaitTime };
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const expectRestored = async (): Promise<void> => {
    expect(await listAuditRules()).toEqual(rulesBefore);
    const s = await readAuditStatus();
    expect({
      enabled: s.enabled,
      pid: s.pid,
      backlogLimit: s.backlogLimit,
      backlogWaitTime: s.backlogWaitTime,
    }).toEqual(statusBefore);
  };

  it('registers as the daemon, yields exe and argv of /bin/echo hello "a b", and restores everything on close', async () => {
    const file = stateFile('unicast');
    const m = await openAuditExecMonitor({ stateFile: file });
    try {
      expect(m.mode).toBe('unicast');
      expect(existsSync(file)).toBe(true);
      expect(await readAuditStatus()).toMatchObject({ enabled: 1, pid: process.pid });
      expect(await listAuditRules()).toEqual([
        ...rulesBefore,
        '-a always,exit -F arch=b64 -S 59,322 -F key=daemoneye-exec',
        '-a always,exit -F arch=b32 -S 11,358 -F key=daemoneye-exec',
      ]);
      let pid = -1;
      const recs = await execsOf(
        m,
        () => pid,
        async () => {
          pid = await run('/bin/echo', ['hello', 'a b']);
        },
      );
      expect(recs.length).toBe(1);
      expect(recs[0]).toMatchObject({
        pid,
        ppid: process.pid,
        exe: realpathSync('/bin/echo'),
        comm: 'echo',
        argv: ['/bin/echo', 'hello', 'a b'],
        cwd: process.cwd(),
        success: true,
        exitCode: 0,
        key: 'daemoneye-exec',
        uid: process.getuid?.(),
      });
      expect(m.stats().execs).toBeGreaterThanOrEqual(1);
      expect(m.stats().lost).toBe(0);
    } finally {
      await m.close();
    }
    await m.close();
    await expectRestored();
    expect(existsSync(file)).toBe(false);
  });

  it('reads through the multicast group when asked, and restores on close', async () => {
    const m = await openAuditExecMonitor({
      stateFile: stateFile('multicast'),
      mode: 'multicast',
      key: 'daemoneye-test-mc',
    });
    try {
      expect(m.mode).toBe('multicast');
      expect((await readAuditStatus()).pid).toBe(statusBefore.pid);
      let pid = -1;
      const recs = await execsOf(
        m,
        () => pid,
        async () => {
          pid = await run('/bin/echo', ['multi']);
        },
      );
      expect(recs.map((r) => r.argv)).toEqual([['/bin/echo', 'multi']]);
      expect(recs[0]?.key).toBe('daemoneye-test-mc');
    } finally {
      await m.close();
    }
    await expectRestored();
  });

  it('refuses unicast beside a registered daemon, and auto falls back to multicast without changing anything', async () => {
    const first = await openAuditExecMonitor({ stateFile: stateFile('first') });
    try {
      const err = await openAuditExecMonitor({ stateFile: stateFile('second'), mode: 'unicast' }).catch(
        (e: unknown) => e,
      );
      expect(isNativeError(err, 'ERR_AUDIT_BUSY')).toBe(true);
      const second = await openAuditExecMonitor({ stateFile: stateFile('second') });
      expect(second.mode).toBe('multicast');
      expect(existsSync(stateFile('second'))).toBe(false);
      let pid = -1;
      const recs = await execsOf(
        second,
        () => pid,
        async () => {
          pid = await run('/bin/true', ['both']);
        },
      );
      expect(recs.map((r) => r.argv)).toEqual([['/bin/true', 'both']]);
      await second.close();
      expect(await readAuditStatus()).toMatchObject({ enabled: 1, pid: process.pid });
    } finally {
      await first.close();
    }
    await expectRestored();
  });

  it('logs at debug the privileges, status, every change and its undo', async () => {
    const lines: [string, Record<string, unknown>][] = [];
    const log = (obj: object, msg: string): void => void lines.push([msg, obj as Record<string, unknown>]);
    const m = await openAuditExecMonitor({
      stateFile: stateFile('logged'),
      logger: { debug: log, info: log, warn: log, error: log },
    });
    const { fd, receiveBufferBytes } = m.stats();
    await m.close();
    await expectRestored();
    const rules = [
      '-a always,exit -F arch=b64 -S 59,322 -F key=daemoneye-exec',
      '-a always,exit -F arch=b32 -S 11,358 -F key=daemoneye-exec',
    ];
    const enabled = statusBefore.enabled === 0;
    const backlog = statusBefore.backlogLimit < 16_384 || statusBefore.backlogWaitTime !== 0;
    expect(lines.map(([msg, obj]) => (msg.startsWith('audit rule') ? `${msg} ${String(obj.rule)}` : msg))).toEqual([
      'audit privileges found',
      'audit status found',
      'audit guardian started',
      'registered as the audit daemon',
      ...rules.map((r) => `audit rule added ${r}`),
      ...(backlog ? ['audit backlog set for bursts, never waiting'] : []),
      ...(enabled ? ['audit enabled'] : []),
      'audit exec monitor opened',
      ...rules.map((r) => `audit rule removed ${r}`),
      ...(enabled ? ['audit enabled flag restored'] : []),
      ...(backlog ? ['audit backlog settings restored'] : []),
      'unregistered as the audit daemon',
      'audit exec monitor closed',
    ]);
    const byMsg = new Map(lines);
    expect(byMsg.get('audit privileges found')).toEqual({ CAP_AUDIT_CONTROL: true, CAP_AUDIT_READ: true });
    expect(byMsg.get('audit status found')).toMatchObject({ enabled: statusBefore.enabled, daemonPid: 0 });
    expect(typeof byMsg.get('audit status found')?.backlogLimit).toBe('number');
    expect(byMsg.get('registered as the audit daemon')).toEqual({ pid: process.pid });
    expect(byMsg.get('audit exec monitor opened')).toEqual({ mode: 'unicast', fd, receiveBufferBytes });
    if (enabled) expect(byMsg.get('audit enabled flag restored')).toEqual({ enabled: 0 });
  });

  it('aborting the signal closes the monitor and restores the audit state; an aborted signal changes nothing', async () => {
    const ac = new AbortController();
    const m = await openAuditExecMonitor({ stateFile: stateFile('abort'), signal: ac.signal });
    expect((await readAuditStatus()).pid).toBe(process.pid);
    const { fd } = m.stats();
    const link = readlinkSync(`/proc/self/fd/${fd}`);
    ac.abort();
    await m.close();
    expect(m.stats().fd).toBe(-1);
    expect(fdTarget(fd)).not.toBe(link);
    await expectRestored();
    expect(existsSync(stateFile('abort'))).toBe(false);
    const err = await openAuditExecMonitor({ stateFile: stateFile('aborted'), signal: AbortSignal.abort() }).catch(
      (e: unknown) => e,
    );
    expect(isNativeError(err, 'ERR_NATIVE_ABORTED')).toBe(true);
    expect(existsSync(stateFile('aborted'))).toBe(false);
    await expectRestored();
  });

  it('an unsubscribed onExec callback gets nothing more', async () => {
    const m = await openAuditExecMonitor({ stateFile: stateFile('unsubscribe') });
    try {
      const kept: AuditExecRecord[] = [];
      let late = 0;
      let unsubscribed = false;
      m.onExec((r) => kept.push(...r));
      const off = m.onExec((r) => {
        if (unsubscribed) late += r.length;
      });
      off();
      unsubscribed = true;
      const pid = await run('/bin/echo', ['after']);
      const end = Date.now() + 5000;
      while (!kept.some((r) => r.pid === pid) && Date.now() < end) await sleep(20);
      expect(kept.filter((r) => r.pid === pid).map((r) => r.argv)).toEqual([['/bin/echo', 'after']]);
      expect(late).toBe(0);
    } finally {
      await m.close();
    }
    await expectRestored();
  });

  /** Starts a monitor in a child process (pid in `child.pid`); resolves once it is open. */
  async function monitorInChild(file: string, options: string): Promise<ChildProcess> {
    const script = [
      `const m = await import(${JSON.stringify(new URL('../dist/audit-monitor.js', import.meta.url).href)});`,
      `await m.openAuditExecMonitor({ stateFile: ${JSON.stringify(file)}, ${options} });`,
      `process.stdout.write('ready\\n'); setInterval(() => {}, 1000);`,
    ].join('\n');
    const child: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => (d.toString().includes('ready') ? resolve() : undefined));
      child.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
    });
    return child;
  }

  it('recoverAuditState undoes the changes of a process that was killed (no guardian)', async () => {
    expect(await recoverAuditState(stateFile('none'))).toEqual({ recovered: false });
    const file = stateFile('crash');
    const child = await monitorInChild(file, 'guardian: false');
    try {
      expect(await readAuditStatus()).toMatchObject({ enabled: 1, pid: child.pid, backlogWaitTime: 0 });
      // a live owner is not recovered
      expect(await recoverAuditState(file)).toEqual({ recovered: false, previousPid: child.pid, ownerRunning: true });
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((r) => child.once('exit', r));
    expect(existsSync(file)).toBe(true);
    expect((await listAuditRules()).length).toBe(rulesBefore.length + 2);
    const warned: string[] = [];
    const log = (_o: object, msg: string): void => void warned.push(msg);
    expect(await recoverAuditState(file, { debug: () => {}, info: log, warn: log, error: log })).toEqual({
      recovered: true,
      previousPid: child.pid,
    });
    expect(warned).toEqual([`audit state left by a previous run (pid ${child.pid}); restoring it`]);
    expect(existsSync(file)).toBe(false);
    await expectRestored();
  });

  it("kill -9 of the monitor's process: the guardian restores enabled flag, pid, rules and backlog within 2 s", async () => {
    const file = stateFile('guarded');
    const child = await monitorInChild(file, '');
    let killedAt = 0;
    try {
      expect(await readAuditStatus()).toMatchObject({
        enabled: 1,
        pid: child.pid,
        backlogLimit: 16_384,
        backlogWaitTime: 0,
      });
      expect((await listAuditRules()).length).toBe(rulesBefore.length + 2);
    } finally {
      child.kill('SIGKILL');
      killedAt = Date.now();
    }
    let restoredAt = 0;
    while (Date.now() - killedAt < 5000) {
      const s = await readAuditStatus();
      const same =
        s.enabled === statusBefore.enabled &&
        s.pid === statusBefore.pid &&
        s.backlogLimit === statusBefore.backlogLimit &&
        s.backlogWaitTime === statusBefore.backlogWaitTime &&
        JSON.stringify(await listAuditRules()) === JSON.stringify(rulesBefore);
      if (same) {
        restoredAt = Date.now();
        break;
      }
      await sleep(20);
    }
    expect(restoredAt, 'audit state restored after kill -9').toBeGreaterThan(0);
    expect(restoredAt - killedAt).toBeLessThanOrEqual(2000);
    await expectRestored();
    expect(existsSync(file)).toBe(false);
  });
});
