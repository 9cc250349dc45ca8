/**
 * The audit monitor's loss poll, with a fake reader and control: a status read that fails (a reply
 * that comes late on a starved host) is logged once, is not a failure of the monitor (the records
 * keep flowing to `onExec`), and the next read that succeeds reports all the loss in between.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AuditStatusInfo } from './audit-control.ts';
import { createMonitor } from './audit-monitor.ts';
import type { AuditExecRecord } from './audit-record.ts';
import type { AuditControl } from './internal/audit-config.ts';
import type { AuditState } from './internal/audit-state.ts';
import type { AuditWorkerItem } from './internal/audit-worker.ts';
import type { ReaderHost } from './internal/reader-host.ts';
import { NativeError } from './native-error.ts';
import { auditExecRecord } from './testing.ts';

function fakes(statusReplies: Array<number | Error>) {
  let emitItems: (items: readonly AuditWorkerItem[]) => void = () => {};
  const host = {
    ready: { type: 'ready', fd: 9, receiveBufferBytes: 1 << 20 },
    onItems: (cb: (items: readonly AuditWorkerItem[]) => void) => {
      emitItems = cb;
      return () => {};
    },
    onLoss: () => () => {},
    onError: () => () => {},
    request: () => Promise.reject(new Error('unused')),
    delivered: () => 0,
    closed: () => false,
    close: async () => {},
  } as unknown as ReaderHost<AuditWorkerItem>;
  const control = {
    status: async (): Promise<AuditStatusInfo> => {
      const next = statusReplies.shift() ?? 0;
      if (next instanceof Error) throw next;
      return { lost: next } as AuditStatusInfo;
    },
    close: async () => {},
  } as unknown as AuditControl;
  const logs: Array<[string, string]> = [];
  const log = {
    debug: () => {},
    info: (_o: object, m: string) => logs.push(['info', m]),
    warn: (_o: object, m: string) => logs.push(['warn', m]),
    error: (_o: object, m: string) => logs.push(['error', m]),
  };
  const state = {
    version: 1,
    pid: process.pid,
    startTime: '0',
    key: 'k',
    mode: 'multicast',
    enabledBefore: 1,
    enabledChanged: false,
    registered: false,
    rulesAdded: [],
    createdAt: new Date(0).toISOString(),
  } satisfies AuditState;
  const monitor = createMonitor({
    host,
    control,
    state,
    stateFile: '/nonexistent/audit-state.json',
    changes: false,
    lostBaseline: 0,
    log,
    signal: undefined,
    guardian: undefined,
  });
  return { monitor, logs, records: (rs: AuditExecRecord[]) => emitItems(rs.map((r) => ({ kind: 'exec', record: r }))) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('audit monitor loss poll', () => {
  it('a failed status read is logged once, is no monitor failure, and the next read reports the loss since', async () => {
    vi.useFakeTimers();
    const late = new NativeError('ERR_NETLINK_PROTOCOL', 'no netlink reply to type 1000 within 2000 ms');
    const { monitor, logs, records } = fakes([late, late, 7]);
    const errors: Error[] = [];
    const losses: Array<{ reason: string; count: number }> = [];
    const execs: number[] = [];
    monitor.onError((e) => errors.push(e));
    monitor.onLoss((l) => losses.push({ reason: l.reason, count: l.count }));
    monitor.onExec((rs) => execs.push(...rs.map((r) => r.pid)));
    await vi.advanceTimersByTimeAsync(5000);
    records([auditExecRecord({ pid: 10 })]);
    await vi.advanceTimersByTimeAsync(5000);
    records([auditExecRecord({ pid: 11 })]);
    expect(losses).toEqual([]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(errors).toEqual([]);
    expect(execs).toEqual([10, 11]);
    expect(losses).toEqual([{ reason: 'audit_lost', count: 7 }]);
    expect(logs).toEqual([
      ['warn', 'audit status unreadable; loss is checked again at the next poll'],
      ['info', 'audit status readable again'],
    ]);
    expect(monitor.stats().lost).toBe(7);
    vi.useRealTimers();
    await monitor.close();
  });
});
