// A locked audit configuration (enabled = 2) cannot be set up on a real kernel without locking it
// until reboot, so here the status read returns the kernel's real status marked locked; everything
// else is the real code.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { AuditControl } from './internal/audit-config.ts';

const calls: string[] = [];

vi.mock('./audit-control.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('./audit-control.ts')>();
  return {
    ...real,
    // The real status, as if locked.
    readAuditStatus: async () => {
      calls.push('status');
      return { ...(await real.readAuditStatus()), enabled: 2 };
    },
  };
});

vi.mock('./internal/audit-config.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('./internal/audit-config.ts')>();
  // The real control worker, whose status says locked. Changes are refused (and recorded); clean-up
  // calls are recorded and run for real, so a regression leaves the host's audit state as it was.
  const refuse = (what: string) => async () => {
    calls.push(what);
    throw new Error(`${what} must not be called when audit is locked`);
  };
  const lockedControl = (c: AuditControl): AuditControl => ({
    ...c,
    status: async () => {
      calls.push('status');
      return { ...(await c.status()), enabled: 2 };
    },
    setEnabled: refuse('setEnabled'),
    addRule: refuse('addRule'),
    deleteRule: async (rule) => {
      calls.push('deleteRule');
      await c.deleteRule(rule);
    },
    clearDaemon: async () => {
      calls.push('clearDaemon');
      await c.clearDaemon();
    },
  });
  return {
    ...real,
    openAuditControl: async (signal?: AbortSignal) => lockedControl(await real.openAuditControl(signal)),
    withAuditControl: <R>(fn: (c: AuditControl) => Promise<R>) => real.withAuditControl((c) => fn(lockedControl(c))),
  };
});

const { openAuditExecMonitor } = await import('./audit-monitor.ts');
const { probeAudit } = await import('./probes.ts');
const { isNativeError } = await import('./native-error.ts');

const dir = mkdtempSync(join(tmpdir(), 'audit-locked-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Why the real audit status cannot be read here (not Linux, not root), or undefined. */
async function unavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `platform is ${process.platform}`;
  const real = await vi.importActual<typeof import('./audit-control.ts')>('./audit-control.ts');
  try {
    await real.readAuditStatus();
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}
const skip = await unavailable();
if (skip !== undefined) process.stderr.write(`skipping locked-audit tests: ${skip}\n`);

describe.skipIf(skip !== undefined)('audit locked (enabled = 2)', () => {
  it('the probe says why audit cannot be used', async () => {
    expect(await probeAudit()).toEqual({
      available: false,
      code: 'no_permission',
      reason: 'audit configuration is locked (enabled=2) until reboot',
    });
  });

  it('openAuditExecMonitor refuses with ERR_AUDIT_LOCKED and changes nothing', async () => {
    calls.length = 0;
    const stateFile = join(dir, 'state.json');
    const error = await openAuditExecMonitor({ stateFile }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isNativeError(error, 'ERR_AUDIT_LOCKED')).toBe(true);
    expect((error as Error).message).toBe('audit configuration is locked (enabled=2) until reboot');
    // Only status reads happened: no rule, flag or daemon change, and no state file written.
    expect(new Set(calls)).toEqual(new Set(['status']));
    expect(existsSync(stateFile)).toBe(false);
  });
});
