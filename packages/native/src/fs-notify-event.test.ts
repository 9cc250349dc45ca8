import { describe, expect, it } from 'vitest';
import {
  decodeFanotifyEvents,
  decodeInotifyEvents,
  fanotifyMaskNames,
  inotifyMaskNames,
  type RawFanotifyEvent,
  type RawInotifyEvent,
} from './fs-notify-event.ts';

// Recorded on Linux 6.18: a watch (wd 1) on a directory for CREATE|MOVED_FROM|MOVED_TO|DELETE, then
// write d.txt, rename it to e.txt, rmdir sub.
const INOTIFY =
  '01000000000100000000000010000000642e747874000000000000000000000001000000400000007e04000010000000642e747874000000000000000000000001000000800000007e04000010000000652e74787400000000000000000000000100000000020040000000001000000073756200000000000000000000000000';
// Recorded on Linux 6.18: one fanotify_event_metadata (MODIFY|CLOSE_WRITE merged, fd 19, pid 14183).
const FANOTIFY = '18000000030018000a000000000000001300000067370000';

describe('decodeInotifyEvents', () => {
  it('decodes recorded inotify_event records', () => {
    const b = Buffer.from(INOTIFY, 'hex');
    const out: RawInotifyEvent[] = [];
    decodeInotifyEvents(b, b.length, out);
    expect(out).toEqual([
      { wd: 1, mask: 0x100, cookie: 0, name: 'd.txt' },
      { wd: 1, mask: 0x40, cookie: 1150, name: 'd.txt' },
      { wd: 1, mask: 0x80, cookie: 1150, name: 'e.txt' },
      { wd: 1, mask: 0x40000200, cookie: 0, name: 'sub' },
    ]);
  });

  it('stops at a truncated record', () => {
    const b = Buffer.from(INOTIFY, 'hex');
    const out: RawInotifyEvent[] = [];
    decodeInotifyEvents(b, 40, out);
    expect(out.length).toBe(1);
  });
});

describe('decodeFanotifyEvents', () => {
  it('decodes a recorded fanotify_event_metadata record', () => {
    const b = Buffer.from(FANOTIFY, 'hex');
    const out: RawFanotifyEvent[] = [];
    decodeFanotifyEvents(b, b.length, out);
    expect(out).toEqual([{ mask: 0xan, fd: 19, pid: 14183 }]);
    decodeFanotifyEvents(b, 23, out);
    expect(out.length).toBe(1);
  });
});

describe('mask names', () => {
  it('names single bits only, including bit 31', () => {
    expect(inotifyMaskNames(0x40000100)).toEqual(['CREATE', 'ISDIR']);
    expect(inotifyMaskNames(0x80000000)).toEqual(['ONESHOT']);
    expect(inotifyMaskNames(0x18)).toEqual(['CLOSE_WRITE', 'CLOSE_NOWRITE']);
    expect(fanotifyMaskNames(0xan)).toEqual(['MODIFY', 'CLOSE_WRITE']);
    expect(fanotifyMaskNames(0x40000020n)).toEqual(['OPEN', 'ONDIR']);
  });
});
