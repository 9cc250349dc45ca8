import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditExecRecord } from '@daemoneye/native';
import { auditExecRecord } from '@daemoneye/native/testing';
import { describe, expect, it } from 'vitest';
import { ExecCorrelator } from './exec-correlator.ts';

const rec = (pid: number, timestampMs: number, serial = pid): AuditExecRecord =>
  auditExecRecord({ pid, timestampMs, serial, argv: [`x${serial}`] });

function correlator(waitMs = 10, maxWaitMs = 200) {
  const orphans: AuditExecRecord[] = [];
  const c = new ExecCorrelator({ waitMs, maxWaitMs, orphanMs: 100, onOrphan: (r) => orphans.push(r) });
  return { c, orphans };
}

describe('ExecCorrelator', () => {
  it('pairs a waiting exec with its record, first in first out per pid', async () => {
    const { c } = correlator(50);
    const now = Date.now();
    const a = c.connectorExec(7, now);
    const b = c.connectorExec(7, now);
    c.auditExec(rec(7, now, 1));
    c.auditExec(rec(7, now, 2));
    expect(a.skip).toBe(false);
    expect(b.skip).toBe(false);
    if (a.skip || b.skip) return;
    expect((await a.audit)?.serial).toBe(1);
    expect((await b.audit)?.serial).toBe(2);
    expect(c.waiting()).toEqual({ execs: 0, records: 0 });
  });

  it('uses a record that came first', async () => {
    const { c, orphans } = correlator();
    c.auditExec(rec(8, Date.now()));
    const plan = c.connectorExec(8);
    expect(plan.skip).toBe(false);
    if (!plan.skip) expect((await plan.audit)?.pid).toBe(8);
    await sleep(150);
    expect(orphans).toEqual([]);
  });

  it('keeps waiting while audit lags, and stops at once when audit is past the exec', async () => {
    const { c } = correlator(10, 1000);
    const at = Date.now();
    const plan = c.connectorExec(9, at);
    await sleep(60);
    expect(c.waiting().execs).toBe(1);
    c.auditExec(rec(10, at + 50));
    const t = performance.now();
    if (!plan.skip) expect(await plan.audit).toBeUndefined();
    expect(performance.now() - t).toBeLessThan(40);
  });

  it('drops a record that arrives after its exec went ahead without it: still one event', async () => {
    const { c, orphans } = correlator(10, 30);
    const plan = c.connectorExec(11, Date.now());
    if (!plan.skip) expect(await plan.audit).toBeUndefined();
    c.auditExec(rec(11, Date.now()));
    await sleep(150);
    expect(orphans).toEqual([]);
    expect(c.waiting()).toEqual({ execs: 0, records: 0 });
  });

  it('emits a record alone when no connector exec comes, and skips a late one', async () => {
    const { c, orphans } = correlator();
    c.auditExec(rec(12, Date.now()));
    await sleep(150);
    expect(orphans.map((r) => r.pid)).toEqual([12]);
    expect(c.connectorExec(12)).toEqual({ skip: true });
  });

  it('ignores failed execs and resolves waiting execs on close', async () => {
    const { c, orphans } = correlator(1000, 5000);
    c.auditExec({ ...rec(13, Date.now()), success: false });
    const plan = c.connectorExec(13, Date.now());
    c.close();
    if (!plan.skip) expect(await plan.audit).toBeUndefined();
    expect(orphans).toEqual([]);
  });

  it('once closed, pairs nothing and emits no record alone (the connector exec went without it)', async () => {
    const { c, orphans } = correlator(10, 50);
    c.close();
    const plan = c.connectorExec(15, Date.now());
    c.auditExec(rec(15, Date.now()));
    c.auditExec(rec(16, Date.now()));
    if (!plan.skip) expect(await plan.audit).toBeUndefined();
    await sleep(150);
    expect(orphans).toEqual([]);
    expect(c.waiting()).toEqual({ execs: 0, records: 0 });
  });
});

describe('ExecCorrelator without waiting', () => {
  it('goes ahead at once when told not to wait, and drops the record that follows', async () => {
    const { c, orphans } = correlator(1000, 5000);
    const plan = c.connectorExec(14, Date.now(), false);
    if (!plan.skip) expect(await plan.audit).toBeUndefined();
    c.auditExec(rec(14, Date.now()));
    await sleep(150);
    expect(orphans).toEqual([]);
  });
  it('still uses a record that is already here', async () => {
    const { c } = correlator();
    c.auditExec(rec(15, Date.now()));
    const plan = c.connectorExec(15, Date.now(), false);
    if (!plan.skip) expect((await plan.audit)?.pid).toBe(15);
  });

  it('a stall of the thread longer than the whole wait does not count: the record the audit reader delivered meanwhile still pairs', async () => {
    const { c } = correlator(10, 200);
    const now = Date.now();
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (r: AuditExecRecord) => c.auditExec(r));
    // The record reaches this thread as a message (as the audit reader's batches do) while it is
    // busy for longer than maxWaitMs, in a callback of the check phase (like a batch handled after
    // I/O): after the stall the exec's timer and the message are both due, and timers run first.
    const plan = await new Promise<ReturnType<typeof c.connectorExec>>((resolve) =>
      setImmediate(() => {
        const p = c.connectorExec(16, now);
        port2.postMessage(rec(16, now));
        const until = performance.now() + 300;
        while (performance.now() < until) {}
        resolve(p);
      }),
    );
    expect(plan.skip).toBe(false);
    if (!plan.skip) expect((await plan.audit)?.serial).toBe(16);
    port1.close();
    // Without a record, the stalled exec still goes ahead once the wait has passed.
    const lone = c.connectorExec(17, Date.now());
    const t = performance.now();
    const spin = performance.now() + 300;
    while (performance.now() < spin) {}
    if (!lone.skip) expect(await lone.audit).toBeUndefined();
    expect(performance.now() - t).toBeLessThan(1000);
  });
});
