import { appendFileSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { afterEach, describe, expect, it } from 'vitest';
import { frameRecord, Spool, type SpoolEntry, spoolBytesOnDisk } from './spool.ts';

const opened: Spool[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

function open(dir: string, extra: Partial<Parameters<typeof Spool.open>[0]> = {}): Spool {
  const s = Spool.open({ dir, ...extra });
  opened.push(s);
  return s;
}

const tmp = () => mkdtempSync(join(tmpdir(), 'de-spool-'));

/** Entry `i`: 10 events, a 200-byte payload that carries `i`. */
function entry(i: number): SpoolEntry {
  const payload = Buffer.alloc(200, 0x61);
  payload.writeUInt32LE(i, 0);
  return { subject: 'daemoneye.events.h.process', msgId: `h:${i}`, events: 10, payload };
}
const indexOf = (e: { payload: Uint8Array }) => Buffer.from(e.payload).readUInt32LE(0);

function drain(s: Spool): number[] {
  const out: number[] = [];
  for (let r = s.take(); r !== undefined; r = s.take()) out.push(indexOf(r));
  return out;
}

/** Walks a segment file's framing independently of the spool: record count, and where the good part ends. */
function scan(file: string): { records: number; goodBytes: number } {
  const d = readFileSync(file);
  let o = 0;
  let records = 0;
  while (o + 8 <= d.length) {
    const len = d.readUInt32LE(o);
    if (o + 8 + len > d.length || crc32c(d.subarray(o + 8, o + 8 + len)) !== d.readUInt32LE(o + 4)) break;
    o += 8 + len;
    records++;
  }
  return { records, goodBytes: o };
}

describe('the spool', () => {
  it('keeps what was not acknowledged across a reopen, in order, and forgets what was', () => {
    const dir = tmp();
    const a = open(dir, { fsync: 'always' });
    a.append([entry(0), entry(1), entry(2)]);
    a.append([entry(3), entry(4)]);
    const taken = a.takeMany(3);
    expect(taken.map(indexOf)).toEqual([0, 1, 2]);
    a.ack(taken[0]?.ordinal as number);
    a.ack(taken[1]?.ordinal as number);
    expect(a.stats()).toMatchObject({ pendingRecords: 3, pendingEvents: 30 });
    a.close();
    const b = open(dir);
    expect(b.recovery).toMatchObject({ records: 3, events: 30, tornRecords: 0 });
    expect(drain(b)).toEqual([2, 3, 4]);
    b.rewind();
    expect(drain(b)).toEqual([2, 3, 4]);
  });

  it('over its bound drops the oldest segment and counts exactly the events that were never sent', () => {
    const dir = tmp();
    const s = open(dir, { maxBytes: 64 * 1024, segmentBytes: 16 * 1024 });
    const n = 1000;
    for (let i = 0; i < n; i++) s.append([entry(i)]);
    const st = s.stats();
    expect(spoolBytesOnDisk(dir)).toBeLessThanOrEqual(64 * 1024);
    expect(st.bytes).toBe(spoolBytesOnDisk(dir));
    // What the files hold, counted from outside, plus what was counted as dropped, is what went in.
    const onDisk = readdirSync(dir)
      .filter((f) => f.startsWith('seg-'))
      .reduce((k, f) => k + scan(join(dir, f)).records, 0);
    expect(st.droppedRecords).toBeGreaterThan(0);
    expect(st.droppedRecords + onDisk).toBe(n);
    expect(st.droppedEvents).toBe(st.droppedRecords * 10);
    expect(st.pendingRecords).toBe(onDisk);
    // And the ones kept are the newest, in order.
    const kept = drain(s);
    expect(kept).toEqual(Array.from({ length: onDisk }, (_, i) => n - onDisk + i));
  });

  it('counts a record in flight when its segment was dropped as delivered if acked, else as dropped', () => {
    const dir = tmp();
    const s = open(dir, { maxBytes: 16 * 1024, segmentBytes: 4096 });
    const perSeg = Math.floor(4096 / frameRecord(entry(0)).length);
    for (let i = 0; i < perSeg; i++) s.append([entry(i)]);
    const inFlight = s.takeMany(perSeg);
    // Fill until the bound drops the first segment, whose records are all in flight.
    let i = perSeg;
    while (s.pending() === i) s.append([entry(i++)]);
    expect(s.pending()).toBe(i - perSeg);
    expect(s.stats().droppedRecords).toBe(0);
    s.ack(inFlight[0]?.ordinal as number);
    s.ack(inFlight[1]?.ordinal as number);
    s.rewind();
    expect(s.stats().droppedRecords).toBe(perSeg - 2);
    expect(s.stats().droppedEvents).toBe((perSeg - 2) * 10);
  });

  it('cuts a torn last record on open and keeps every whole one', () => {
    const dir = tmp();
    const a = open(dir);
    for (let i = 0; i < 20; i++) a.append([entry(i)]);
    a.close();
    const seg = join(dir, readdirSync(dir).find((f) => f.startsWith('seg-')) as string);
    const whole = statSync(seg).size;
    // A crash in the middle of a write: the header and part of the body of record 20.
    const torn = frameRecord(entry(20)).subarray(0, 90);
    appendFileSync(seg, torn);
    const b = open(dir);
    expect(b.recovery).toMatchObject({ records: 20, tornRecords: 1, bytesCut: 90 });
    expect(statSync(seg).size).toBe(whole);
    expect(scan(seg)).toEqual({ records: 20, goodBytes: whole });
    expect(drain(b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    // New records after the repair follow on and survive another reopen.
    b.append([entry(21)]);
    b.close();
    const c = open(dir);
    expect(c.recovery.tornRecords).toBe(0);
    expect(drain(c)).toEqual([...Array.from({ length: 20 }, (_, i) => i), 21]);
  });

  it('cuts a last record whose checksum does not match', () => {
    const dir = tmp();
    const a = open(dir);
    for (let i = 0; i < 5; i++) a.append([entry(i)]);
    a.close();
    const seg = join(dir, readdirSync(dir).find((f) => f.startsWith('seg-')) as string);
    const d = readFileSync(seg);
    d[d.length - 5] = (d[d.length - 5] as number) ^ 0xff;
    writeFileSync(seg, d);
    const b = open(dir);
    expect(b.recovery).toMatchObject({ records: 4, tornRecords: 1, bytesCut: frameRecord(entry(4)).length });
    expect(drain(b)).toEqual([0, 1, 2, 3]);
  });
});
