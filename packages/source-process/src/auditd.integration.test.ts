/**
 * Beside a real auditd (Debian's `auditd`, started by the test with its own configuration and
 * stopped by its pid): the source reads exec records from the audit multicast group, adds only its
 * own tagged rule and removes only that rule at stop, and never touches auditd's rules, enabled flag,
 * daemon pid or backlog settings; exec capture of a 1,000-exec burst is complete. Ground truth: the
 * kernel's audit status and rule list, read with auditctl.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@daemoneye/core';
import { probeAudit, probeProcConnector, readAuditStatus } from '@daemoneye/native';
import { AUDITD_PATH as AUDITD, startTestAuditd } from '@daemoneye/native/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { RecordingSender } from '../test/fakes.ts';
import { createProcessSource } from './process-event-source.ts';

const connector = await probeProcConnector();
const audit = await probeAudit();
const free = audit.available && (await readAuditStatus()).pid === 0;
if (AUDITD === undefined) console.log('skipping auditd tests: auditd is not installed (apt-get install auditd)');
if (!audit.available) console.log(`skipping auditd tests: ${audit.reason}`);
if (audit.available && !free) console.log('skipping auditd tests: an audit daemon is already registered');

const dir = mkdtempSync(join(tmpdir(), 'de-auditd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const auditctl = (...args: string[]): string => execFileSync('auditctl', args, { encoding: 'utf8' });
const ADMIN_RULE = ['-w', '/etc/shadow', '-p', 'wa', '-k', 'de-test-admin-rule'];

interface Seen {
  enabled: string;
  pid: string;
  backlogLimit: string;
  backlogWaitTime: string;
  rules: string;
}
function seen(): Seen {
  const s = Object.fromEntries(
    auditctl('-s')
      .split('\n')
      .map((l) => l.split(' '))
      .map(([k, ...v]) => [k, v.join(' ')]),
  );
  return {
    enabled: s.enabled,
    pid: s.pid,
    backlogLimit: s.backlog_limit,
    backlogWaitTime: s.backlog_wait_time,
    rules: auditctl('-l'),
  };
}

describe.skipIf(!connector.available || !free || AUDITD === undefined)('beside a running auditd', () => {
  it('reads the multicast group, touches nothing of auditd, and captures a 1,000-exec burst completely', async () => {
    const initial = seen();
    const auditd = await startTestAuditd(dir);
    try {
      auditctl('-a', 'always,exit', '-F', 'arch=b64', '-S', 'openat', '-F', 'key=de-test-admin-syscall');
      auditctl(...ADMIN_RULE);
      const withAuditd = seen();
      expect(withAuditd.pid).toBe(String(auditd.pid));
      expect(withAuditd.enabled).toBe('1');

      const logs: string[] = [];
      const rec = (o: object | string, m?: string): void => void logs.push(`${m ?? ''} ${JSON.stringify(o)}`);
      const noop = (): void => {};
      const logger: Logger = {
        trace: noop,
        debug: rec,
        info: rec,
        warn: rec,
        error: rec,
        fatal: rec,
        child: () => logger,
      };
      const source = createProcessSource({
        backend: 'proc-connector',
        scanIntervalMs: 60_000,
        auditStateFile: join(dir, 'state.json'),
        logger,
      });
      const tx = new RecordingSender();
      const ctl = new AbortController();
      const done = source.start(tx, ctl.signal);
      try {
        await tx.waitFor((t) => t.readyCalled, 10_000);
        expect(source.backend(), logs.join('\n')).toBe('proc-connector+audit');
        const during = seen();
        // Only our tagged rules were added; auditd stays the daemon, with its own settings.
        expect(during.pid).toBe(withAuditd.pid);
        expect(during.enabled).toBe('1');
        expect([during.backlogLimit, during.backlogWaitTime]).toEqual([
          withAuditd.backlogLimit,
          withAuditd.backlogWaitTime,
        ]);
        const added = during.rules.split('\n').filter((l) => !withAuditd.rules.split('\n').includes(l));
        expect(added.length).toBeGreaterThan(0);
        expect(added.every((l) => l.includes('key=daemoneye-exec'))).toBe(true);
        expect(during.rules.startsWith(withAuditd.rules.trimEnd())).toBe(true);
        expect(logs.some((l) => l.includes('"mode":"multicast"'))).toBe(true);

        const TRUE = realpathSync('/bin/true');
        const shell = spawn('/bin/sh', ['-c', 'i=0; while [ $i -lt 1000 ]; do /bin/true; i=$((i+1)); done'], {
          stdio: 'ignore',
        });
        await new Promise((r) => shell.on('exit', r));
        const mine = (): ReturnType<typeof tx.process> =>
          tx.process('exec').filter((e) => e.ppid === shell.pid && e.executablePath === TRUE);
        await tx.waitFor(() => mine().length >= 1000, 60_000).catch(() => {});
        await sleep(500);
        const execs = mine();
        console.log(
          `beside auditd: ${execs.length} exec events; losses ${JSON.stringify(tx.losses)}; stats ${JSON.stringify(source.stats())}`,
        );
        expect(execs.length).toBe(1000);
        expect(new Set(execs.map((e) => e.pid)).size).toBe(1000);
        expect(execs.every((e) => e.commandLine.length === 1 && e.commandLine[0] === '/bin/true')).toBe(true);
        const withRecord = execs.filter((e) => e.platformMetadata?.detectedBy === 'connector+audit').length;
        const lost = tx.losses.reduce((n, l) => n + l.count, 0);
        console.log(
          `beside auditd: ${execs.length} exec events, ${withRecord} paired with their audit record, ${lost} reported lost`,
        );
        // The multicast group is best effort (auditd's small backlog makes execs wait; the kernel may skip a
        // reader): nearly all pair with their record, and those that do not still carry path and argv.
        expect(withRecord).toBeGreaterThanOrEqual(950);
      } finally {
        ctl.abort();
        await source.stop();
        await done;
      }
      // Our rules gone, auditd's rules, pid, enabled flag and settings exactly as auditd had them.
      expect(seen()).toEqual(withAuditd);
    } finally {
      await auditd.stop();
      auditctl('-d', 'always,exit', '-F', 'arch=b64', '-S', 'openat', '-F', 'key=de-test-admin-syscall');
      auditctl('-W', ...ADMIN_RULE.slice(1));
      auditctl('-e', initial.enabled);
    }
    expect(seen()).toEqual(initial);
  }, 150_000);
});
