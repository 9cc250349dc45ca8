import { describe, expect, it } from 'vitest';
import {
  decodeFanotifyEvents,
  decodeFanotifyFidEvents,
  decodeInotifyEvents,
  fanotifyMaskNames,
  inotifyMaskNames,
  type RawFanotifyEvent,
  type RawFanotifyFidEvent,
  type RawInotifyEvent,
} from './fs-notify-event.ts';

// Recorded on Linux 6.18: a watch (wd 1) on a directory for CREATE|MOVED_FROM|MOVED_TO|DELETE, then
// write d.txt, rename it to e.txt, rmdir sub.
const INOTIFY =
  '01000000000100000000000010000000642e747874000000000000000000000001000000400000007e04000010000000642e747874000000000000000000000001000000800000007e04000010000000652e74787400000000000000000000000100000000020040000000001000000073756200000000000000000000000000';
// Recorded on Linux 6.18: one fanotify_event_metadata (MODIFY|CLOSE_WRITE merged, fd 19, pid 14183).
const FANOTIFY = '18000000030018000a000000000000001300000067370000';

// Recorded on Linux 6.18 (ext4): a FAN_REPORT_DFID_NAME group, CREATE of `x` in a directory: the
// metadata (fd FAN_NOFD, pid 13458) and one DFID_NAME record (fsid, an 8-byte handle of type 1, name).
const FANOTIFY_FID =
  '38000000030018000001000000000000ffffffff9234000002002000e54d96a45a823c3a0800000001000000b9a22100cf64e56f7800000000000000';

describe('decodeFanotifyFidEvents', () => {
  it('decodes a recorded record with its directory handle and name', () => {
    const b = Buffer.from(FANOTIFY_FID, 'hex');
    const out: RawFanotifyFidEvent[] = [];
    decodeFanotifyFidEvents(b, b.length, out);
    expect(out).toEqual([
      {
        mask: 0x100n,
        pid: 13458,
        fids: [
          {
            type: 2,
            fsid: 'e54d96a45a823c3a',
            handle: Buffer.from('0800000001000000b9a22100cf64e56f', 'hex'),
            name: 'x',
          },
        ],
      },
    ]);
  });

  it('reads two info records (RENAME: old and new) and stops at a truncated record', () => {
    const meta = Buffer.from('00000000030018000000001000000000ffffffff01000000', 'hex');
    const rec = (type: number, name: string): Buffer => {
      const handle = Buffer.from('0800000001000000b9a22100cf64e56f', 'hex');
      const body = Buffer.concat([Buffer.from('e54d96a45a823c3a', 'hex'), handle, Buffer.from(`${name}\0`)]);
      const len = (4 + body.length + 3) & ~3;
      const out = Buffer.alloc(len);
      out.writeUInt8(type, 0);
      out.writeUInt16LE(len, 2);
      body.copy(out, 4);
      return out;
    };
    const event = Buffer.concat([meta, rec(10, 'old.txt'), rec(12, 'new.txt')]);
    event.writeUInt32LE(event.length, 0);
    const two = Buffer.concat([event, event.subarray(0, 30)]);
    const out: RawFanotifyFidEvent[] = [];
    decodeFanotifyFidEvents(two, two.length, out);
    expect(out).toHaveLength(1);
    expect(out[0]?.mask).toBe(0x10000000n);
    expect(out[0]?.fids.map((f) => [f.type, f.name])).toEqual([
      [10, 'old.txt'],
      [12, 'new.txt'],
    ]);
  });
});

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
