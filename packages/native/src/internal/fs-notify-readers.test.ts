import { describe, expect, it } from 'vitest';
import type { FsNotifyEvent, RawInotifyEvent } from '../fs-notify-event.ts';
import type { LossInfo } from '../reader-options.ts';
import { fanotifyReaderOver, inotifyReaderOver } from './fs-notify-readers.ts';
import { createListeners } from './listeners.ts';
import type { ReaderHost } from './reader-host.ts';

/** A reader host whose batches, loss and errors the test pushes by hand. */
function fakeHost<T>(): ReaderHost<T> & {
  push(items: T[]): void;
  fail(err: Error): void;
  closes: number;
} {
  const items = createListeners<readonly T[]>();
  const loss = createListeners<LossInfo>();
  const errors = createListeners<Error>();
  let closed = false;
  const host = {
    ready: { type: 'ready', fd: 42, receiveBufferBytes: 0 } as const,
    closes: 0,
    onItems: (cb: (v: readonly T[]) => void) => items.add(cb),
    onLoss: (cb: (v: LossInfo) => void) => loss.add(cb),
    onError: (cb: (v: Error) => void) => errors.add(cb),
    request: () => Promise.reject(new Error('no requests')),
    delivered: () => 0,
    closed: () => closed,
    async close() {
      closed = true;
      host.closes++;
    },
    push: (batch: T[]) => items.emit(batch),
    fail: (err: Error) => errors.emit(err),
  };
  return host;
}

const OVERFLOW = 0x4000;
const raw = (name: string, mask = 0x100): RawInotifyEvent => ({ wd: -1, mask, cookie: 0, name });
const silent = { logger: { debug() {}, info() {}, warn() {}, error() {} } };

describe('inotify reader over a host', () => {
  it('reports IN_Q_OVERFLOW as overflow loss (and onOverflow), after the events before it', () => {
    const host = fakeHost<RawInotifyEvent>();
    const reader = inotifyReaderOver(host, silent);
    const seen: string[] = [];
    reader.onEvents((batch) => seen.push(...batch.map((e) => `event ${e.path}`)));
    reader.onLoss((info) => seen.push(`loss ${info.reason} ${info.count}`));
    reader.onOverflow(() => seen.push('overflow'));
    host.push([raw('a'), raw('', OVERFLOW), raw('b')]);
    expect(seen).toEqual(['event /a', 'event /b', 'loss overflow 1', 'overflow']);
    expect(reader.stats()).toEqual({ received: 2, lost: 1, fd: 42 });
  });

  it('passes host failures and throwing callbacks to onError', () => {
    const host = fakeHost<RawInotifyEvent>();
    const reader = inotifyReaderOver(host, silent);
    const errors: string[] = [];
    reader.onError((e) => errors.push(e.message));
    reader.onEvents(() => {
      throw new Error('callback broke');
    });
    host.push([raw('a')]);
    host.fail(new Error('read failed: EIO'));
    expect(errors).toEqual(['callback broke', 'read failed: EIO']);
  });

  it('stops calling a callback once it unsubscribed, and keeps the others', () => {
    const host = fakeHost<RawInotifyEvent>();
    const reader = inotifyReaderOver(host, silent);
    const a: string[] = [];
    const b: string[] = [];
    const offA = reader.onEvents((batch) => a.push(...batch.map((e) => e.path)));
    reader.onEvents((batch) => b.push(...batch.map((e) => e.path)));
    const offLoss = reader.onLoss(() => a.push('loss'));
    const offOverflow = reader.onOverflow(() => a.push('overflow'));
    host.push([raw('1')]);
    offA();
    offA();
    offLoss();
    offOverflow();
    host.push([raw('2'), raw('', OVERFLOW)]);
    expect(a).toEqual(['/1']);
    expect(b).toEqual(['/1', '/2']);
  });

  it('keeps batches that came before the first onEvents, then delivers them to it', async () => {
    const host = fakeHost<RawInotifyEvent>();
    const reader = inotifyReaderOver(host, silent);
    host.push([raw('early')]);
    const seen: string[] = [];
    reader.onEvents((batch) => seen.push(...batch.map((e) => e.path)));
    await Promise.resolve();
    expect(seen).toEqual(['/early']);
  });

  it('closes the host when the signal aborts, once', async () => {
    const host = fakeHost<RawInotifyEvent>();
    const ac = new AbortController();
    const reader = inotifyReaderOver(host, { ...silent, signal: ac.signal });
    ac.abort();
    await reader.close();
    expect(host.closes).toBe(1);
    expect(reader.stats().fd).toBe(-1);
    expect(() => reader.addWatch('/tmp', 0x100)).toThrow('inotify instance is closed');
  });
});

describe('fanotify reader over a host', () => {
  it('reports FAN_Q_OVERFLOW as overflow loss and passes failures to onError', () => {
    const host = fakeHost<FsNotifyEvent>();
    const reader = fanotifyReaderOver(host, silent);
    const seen: string[] = [];
    reader.onEvents((batch) => seen.push(...batch.map((e) => `event ${e.path}`)));
    reader.onLoss((info) => seen.push(`loss ${info.reason} ${info.count}`));
    reader.onError((e) => seen.push(`error ${e.message}`));
    host.push([
      { path: '/x', mask: 2, names: ['MODIFY'], pid: 1 },
      { path: '', mask: OVERFLOW, names: ['Q_OVERFLOW'], pid: 0 },
    ]);
    host.fail(new Error('read failed: EIO'));
    expect(seen).toEqual(['event /x', 'loss overflow 1', 'error read failed: EIO']);
    expect(reader.stats()).toEqual({ received: 1, lost: 1, fd: 42 });
  });
});
