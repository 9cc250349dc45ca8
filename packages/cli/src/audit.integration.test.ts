/**
 * The kernel's audit state is never left behind by the built command: `kill -9` of a running
 * collector is followed within 2 s by the host's audit state read back as it was before (enabled
 * flag, daemon pid, rules, backlog settings); a collector whose guardian died too leaves a state
 * that the next start reports at warn level with the previous pid, and that `audit restore`
 * restores. Ground truth is the kernel's own answer (AUDIT_GET, AUDIT_LIST_RULES).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type AuditStatusInfo, listAuditRules, probeAudit, readAuditStatus } from '@daemoneye/native';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, type RunningCommand, startRun } from './__test__/built-command.ts';

const probe = await probeAudit();
const daemonRunning = probe.available && (await readAuditStatus()).pid !== 0;
if (!probe.available) console.log(`skipping audit command tests: ${probe.reason}`);
if (daemonRunning) console.log('skipping audit command tests: an audit daemon is registered; these need to be it');

const dir = mkdtempSync(join(tmpdir(), 'de-cli-audit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Snapshot {
  readonly enabled: number;
  readonly pid: number;
  readonly backlogLimit: number;
  readonly backlogWaitTime: number | undefined;
  readonly rules: string[];
}

async function auditState(): Promise<Snapshot> {
  const s: AuditStatusInfo = await readAuditStatus();
  return {
    enabled: s.enabled,
    pid: s.pid,
    backlogLimit: s.backlogLimit,
    backlogWaitTime: s.backlogWaitTime,
    rules: await listAuditRules(),
  };
}

function startCollector(stateFile: string): RunningCommand<unknown> {
  // Audit is the proc connector backend's (the eBPF backend never touches it).
  return startRun([
    '-o',
    'none',
    '--set',
    'sources.process.backend=proc-connector',
    '--set',
    `sources.process.audit_state_file=${stateFile}`,
    '--log-level',
    'warn',
  ]);
}

/** Waits until the collector `pid` is the registered audit daemon. */
async function registered(pid: number | undefined): Promise<void> {
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    if ((await readAuditStatus()).pid === pid) return;
    await sleep(50);
  }
  throw new Error(`collector ${pid} never registered as the audit daemon`);
}

/** The pid of the guardian watching `stateFile`, found in /proc. */
function guardianOf(stateFile: string): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (argv.some((a) => a.endsWith('audit-guardian.js')) && argv.includes(stateFile)) return Number(name);
    } catch {
      // gone
    }
  }
  return undefined;
}

async function killed(r: RunningCommand<unknown>): Promise<void> {
  const exited = new Promise((resolve) => r.child.once('exit', resolve));
  r.child.kill('SIGKILL');
  await exited;
}

describe.skipIf(!probe.available || daemonRunning)(
  'the audit state after the collector dies',
  { sequential: true },
  () => {
    it('kill -9 of a running collector: enabled flag, pid, rules and backlog read back as before within 2 s', async () => {
      const before = await auditState();
      const stateFile = join(dir, 'kill9.json');
      const r = startCollector(stateFile);
      let killedAt = 0;
      try {
        await registered(r.child.pid);
        const during = await auditState();
        expect(during).toMatchObject({ enabled: 1, backlogWaitTime: 0 });
        expect(during.rules.length).toBe(before.rules.length + 2);
        expect(guardianOf(stateFile)).toBeDefined();
      } finally {
        await killed(r);
        killedAt = Date.now();
      }
      let restoredAfter = -1;
      while (Date.now() - killedAt < 5000) {
        if (JSON.stringify(await auditState()) === JSON.stringify(before)) {
          restoredAfter = Date.now() - killedAt;
          break;
        }
        await sleep(20);
      }
      console.log(`audit state restored ${restoredAfter} ms after kill -9`);
      expect(await auditState()).toEqual(before);
      expect(restoredAfter).toBeGreaterThanOrEqual(0);
      expect(restoredAfter).toBeLessThanOrEqual(2000);
      expect(existsSync(stateFile)).toBe(false);
    }, 60_000);

    it('with its guardian dead too: the next start warns with the previous pid; `audit restore` restores by hand', async () => {
      const before = await auditState();
      const stateFile = join(dir, 'left.json');
      const crash = async (): Promise<number> => {
        const r = startCollector(stateFile);
        try {
          await registered(r.child.pid);
          const guardian = guardianOf(stateFile);
          expect(guardian).toBeDefined();
          process.kill(guardian ?? -1, 'SIGKILL');
        } finally {
          await killed(r);
        }
        expect(existsSync(stateFile)).toBe(true);
        return r.child.pid ?? -1;
      };

      // 1. The next start finds the leftover state, says so at warn level naming the pid, and restores it.
      const first = await crash();
      expect((await auditState()).rules.length).toBe(before.rules.length + 2);
      const next = startCollector(stateFile);
      try {
        await registered(next.child.pid);
        const end = Date.now() + 5000;
        while (!next.stderr().includes('previous run') && Date.now() < end) await sleep(50);
        const warn = next
          .stderr()
          .split('\n')
          .filter((l) => l.includes('audit state left by a previous run'));
        expect(warn).toHaveLength(1);
        expect(JSON.parse(warn[0] ?? '{}')).toMatchObject({ level: 40, previousPid: first });
      } finally {
        const exited = new Promise((resolve) => next.child.once('exit', resolve));
        next.child.kill('SIGTERM');
        await exited;
      }
      expect(await auditState()).toEqual(before);

      // 2. `audit restore` refuses nothing when there is nothing, and restores a leftover state.
      const nothing = spawnSync(process.execPath, [BIN, 'audit', 'restore', '--state-file', stateFile], {
        encoding: 'utf8',
      });
      expect([nothing.status, nothing.stdout]).toEqual([
        0,
        `no audit state to restore (${stateFile} does not exist)\n`,
      ]);
      const second = await crash();
      const restore = spawnSync(process.execPath, [BIN, 'audit', 'restore', '--state-file', stateFile], {
        encoding: 'utf8',
      });
      expect(restore.stderr).toBe('');
      expect(restore.status).toBe(0);
      expect(restore.stdout).toContain(`restored the audit state left by pid ${second}`);
      expect(await auditState()).toEqual(before);
      expect(existsSync(stateFile)).toBe(false);
    }, 90_000);

    it('`audit restore` refuses while the collector that wrote the state runs', async () => {
      const before = await auditState();
      const stateFile = join(dir, 'running.json');
      const r = startCollector(stateFile);
      try {
        await registered(r.child.pid);
        const refused = spawnSync(process.execPath, [BIN, 'audit', 'restore', '--state-file', stateFile], {
          encoding: 'utf8',
        });
        expect(refused.status).toBe(1);
        expect(refused.stderr).toContain(`still running (pid ${r.child.pid})`);
      } finally {
        const exited = new Promise((resolve) => r.child.once('exit', resolve));
        r.child.kill('SIGTERM');
        await exited;
      }
      expect(await auditState()).toEqual(before);
    }, 60_000);
  },
);
