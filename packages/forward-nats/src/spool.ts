/**
 * The forwarder's on-disk spool: every message the sink accepts is appended here before it is
 * published, and leaves only once JetStream acknowledged it, so a broker outage or a `kill -9` of the
 * collector loses nothing that was accepted.
 *
 * - Append-only segment files `seg-<16 digits>.log` in one directory. Each record is
 *   `u32 length | u32 CRC32C(body) | body` (little-endian), the body
 *   `u8 version | u32 events | u16 subject length | subject | u16 id length | message id | payload`.
 * - `cursor.json` names the first record not yet acknowledged (segment and offset). It is written
 *   (temporary file, rename) at most every `cursorIntervalMs` and at close, so after a crash the spool
 *   replays from a little before where it was: the message ids let JetStream drop the repeats.
 * - fsync policy: `always` (each append is on disk before `append` returns), `interval` (data synced
 *   every `fsyncIntervalMs`) or `never` (left to the kernel). A process crash loses nothing under any
 *   policy; the policy decides what a power loss can take.
 * - Bounded in bytes: when the segments on disk exceed `maxBytes` the oldest segment is deleted and
 *   the events in it that were never acknowledged are counted as dropped (`spool_full`).
 * - On open every segment is read and checked; a torn or corrupt record (a crash in the middle of a
 *   write) and everything after it in that segment is cut off, and the cut is counted.
 *
 * Records are numbered by ordinal within one open spool; the publisher takes them in order
 * (`take`), acknowledges them in order (`ack`) and starts again from the oldest unacknowledged one
 * after a failure (`rewind`). It knows nothing about NATS.
 */
import {
  closeSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { natsErrors } from './errors.ts';

/** When appended data is forced to disk. */
export type FsyncPolicy = 'always' | 'interval' | 'never';

/** One message as the spool keeps it. */
export interface SpoolEntry {
  readonly subject: string;
  readonly msgId: string;
  /** Events inside the payload (for the counters). */
  readonly events: number;
  readonly payload: Uint8Array;
}

/** A taken record: its ordinal and its entry. */
export interface SpooledRecord extends SpoolEntry {
  readonly ordinal: number;
}

/** Options of {@link Spool.open}. */
export interface SpoolOptions {
  readonly dir: string;
  /** Bytes the segments may take on disk; above it the oldest segment goes (default 256 MiB). */
  readonly maxBytes?: number;
  /** A segment is closed and a new one started past this size (default 16 MiB, at most maxBytes / 4). */
  readonly segmentBytes?: number;
  readonly fsync?: FsyncPolicy;
  /** With `interval`: how often appended data is synced, ms (default 1000). */
  readonly fsyncIntervalMs?: number;
  /** How often the cursor is written when it moved, ms (default 100). */
  readonly cursorIntervalMs?: number;
}

/** What opening the spool found. */
export interface SpoolRecovery {
  readonly segments: number;
  /** Records not yet acknowledged, to be replayed. */
  readonly records: number;
  readonly events: number;
  /** Torn or corrupt records cut off. */
  readonly tornRecords: number;
  readonly bytesCut: number;
}

/** The spool's counters. */
export interface SpoolStats {
  readonly bytes: number;
  readonly segments: number;
  /** Records (and their events) appended and not yet acknowledged. */
  readonly pendingRecords: number;
  readonly pendingEvents: number;
  /** Events dropped because the spool was at its bound. */
  readonly droppedEvents: number;
  readonly droppedRecords: number;
  readonly appendedRecords: number;
  readonly appendedBytes: number;
  readonly tornRecords: number;
  readonly bytesCut: number;
}

interface Segment {
  readonly id: number;
  readonly path: string;
  /** Ordinal of its first record. */
  first: number;
  size: number;
  readonly offsets: number[];
  readonly events: number[];
}

const HEADER = 8;
const VERSION = 1;
const SEGMENT_RE = /^seg-(\d{16})\.log$/;
const CURSOR_FILE = 'cursor.json';
const MAX_RECORD = 0x7fff_ffff;

const segmentName = (id: number) => `seg-${String(id).padStart(16, '0')}.log`;

function encodeBody(e: SpoolEntry): Buffer {
  const subject = Buffer.from(e.subject, 'utf8');
  const id = Buffer.from(e.msgId, 'utf8');
  if (subject.length > 0xffff || id.length > 0xffff) {
    throw natsErrors.error('ERR_NATS_SPOOL', 'a subject or message id longer than 65,535 bytes cannot be spooled');
  }
  const body = Buffer.allocUnsafe(1 + 4 + 2 + subject.length + 2 + id.length + e.payload.length);
  let o = body.writeUInt8(VERSION, 0);
  o = body.writeUInt32LE(e.events, o);
  o = body.writeUInt16LE(subject.length, o);
  o += subject.copy(body, o);
  o = body.writeUInt16LE(id.length, o);
  o += id.copy(body, o);
  body.set(e.payload, o);
  return body;
}

/** Parses a record body; undefined when it is not one this version wrote. */
function decodeBody(body: Buffer): SpoolEntry | undefined {
  if (body.length < 9 || body[0] !== VERSION) return undefined;
  const events = body.readUInt32LE(1);
  const sl = body.readUInt16LE(5);
  if (7 + sl + 2 > body.length) return undefined;
  const subject = body.toString('utf8', 7, 7 + sl);
  const il = body.readUInt16LE(7 + sl);
  const start = 9 + sl + il;
  if (start > body.length) return undefined;
  const msgId = body.toString('utf8', 9 + sl, start);
  return { subject, msgId, events, payload: body.subarray(start) };
}

/** Frames one entry as it is written to a segment (exported for the tests and the benchmark). */
export function frameRecord(e: SpoolEntry): Buffer {
  const body = encodeBody(e);
  const head = Buffer.allocUnsafe(HEADER);
  head.writeUInt32LE(body.length, 0);
  head.writeUInt32LE(crc32c(body), 4);
  return Buffer.concat([head, body]);
}

/** The append-only, checksummed, bounded spool. */
export class Spool {
  readonly dir: string;
  readonly #maxBytes: number;
  readonly #segmentBytes: number;
  readonly #fsync: FsyncPolicy;
  readonly #segments: Segment[] = [];
  #fd: number | undefined;
  #dirty = false;
  #cursor = 0;
  #send = 0;
  #end = 0;
  #bytes = 0;
  /** In flight when their segment was deleted: ordinal → events. */
  readonly #orphans = new Map<number, number>();
  #droppedEvents = 0;
  #droppedRecords = 0;
  #appendedRecords = 0;
  #appendedBytes = 0;
  #tornRecords = 0;
  #bytesCut = 0;
  #cursorWritten = '';
  #timers: NodeJS.Timeout[] = [];
  #closed = false;
  /** What opening found. */
  readonly recovery: SpoolRecovery;

  private constructor(options: SpoolOptions) {
    this.dir = options.dir;
    this.#maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    this.#segmentBytes = Math.max(
      4096,
      Math.min(options.segmentBytes ?? 16 * 1024 * 1024, Math.floor(this.#maxBytes / 4)),
    );
    this.#fsync = options.fsync ?? 'interval';
    try {
      mkdirSync(this.dir, { recursive: true });
      this.recovery = this.#recover();
    } catch (e) {
      if (natsErrors.is(e)) throw e;
      throw natsErrors.error('ERR_NATS_SPOOL', `cannot open the spool in ${this.dir}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    if (this.#fsync === 'interval') {
      const t = setInterval(() => this.sync(), options.fsyncIntervalMs ?? 1000);
      t.unref();
      this.#timers.push(t);
    }
    const c = setInterval(() => this.#writeCursor(false), options.cursorIntervalMs ?? 100);
    c.unref();
    this.#timers.push(c);
  }

  /** Opens (or creates) the spool in `options.dir`, repairing a torn tail. Throws `ERR_NATS_SPOOL`. */
  static open(options: SpoolOptions): Spool {
    return new Spool(options);
  }

  #recover(): SpoolRecovery {
    const ids = readdirSync(this.dir)
      .map((n) => SEGMENT_RE.exec(n)?.[1])
      .filter((m): m is string => m !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    let ordinal = 0;
    for (const id of ids) {
      const path = join(this.dir, segmentName(id));
      const data = readFileSync(path);
      const seg: Segment = { id, path, first: ordinal, size: 0, offsets: [], events: [] };
      let o = 0;
      while (o < data.length) {
        const ok = o + HEADER <= data.length && this.#validAt(data, o);
        if (!ok) {
          this.#tornRecords++;
          this.#bytesCut += data.length - o;
          const fd = openSync(path, 'r+');
          try {
            ftruncateSync(fd, o);
            fsyncSync(fd);
          } finally {
            closeSync(fd);
          }
          break;
        }
        const len = data.readUInt32LE(o);
        seg.offsets.push(o);
        seg.events.push(data.readUInt32LE(o + HEADER + 1));
        o += HEADER + len;
      }
      seg.size = o;
      ordinal += seg.offsets.length;
      if (seg.size === 0) {
        unlinkSync(path);
        continue;
      }
      this.#segments.push(seg);
      this.#bytes += seg.size;
    }
    this.#end = ordinal;
    this.#cursor = this.#readCursor();
    this.#send = this.#cursor;
    this.#deleteAcked();
    this.#cursorWritten = this.#cursorText();
    let events = 0;
    for (const s of this.#segments) {
      for (let i = 0; i < s.offsets.length; i++) if (s.first + i >= this.#cursor) events += s.events[i] ?? 0;
    }
    return {
      segments: this.#segments.length,
      records: this.#end - this.#cursor,
      events,
      tornRecords: this.#tornRecords,
      bytesCut: this.#bytesCut,
    };
  }

  #validAt(data: Buffer, o: number): boolean {
    const len = data.readUInt32LE(o);
    if (len > MAX_RECORD || o + HEADER + len > data.length) return false;
    const body = data.subarray(o + HEADER, o + HEADER + len);
    return crc32c(body) === data.readUInt32LE(o + 4) && decodeBody(body) !== undefined;
  }

  /** The ordinal the cursor file names (the first record at or after its offset), or the oldest. */
  #readCursor(): number {
    const first = this.#segments[0]?.first ?? 0;
    let text: string;
    try {
      text = readFileSync(join(this.dir, CURSOR_FILE), 'utf8');
    } catch {
      return first;
    }
    let c: { segment?: unknown; offset?: unknown };
    try {
      c = JSON.parse(text) as typeof c;
    } catch {
      return first;
    }
    if (typeof c.segment !== 'number' || typeof c.offset !== 'number') return first;
    for (const s of this.#segments) {
      if (s.id < c.segment) continue;
      if (s.id > c.segment) return s.first;
      const i = s.offsets.findIndex((off) => off >= (c.offset as number));
      return i < 0 ? s.first + s.offsets.length : s.first + i;
    }
    return this.#end;
  }

  #cursorText(): string {
    const seg = this.#segmentOf(this.#cursor);
    if (seg === undefined) {
      const last = this.#segments.at(-1);
      return JSON.stringify({ segment: last?.id ?? 0, offset: last?.size ?? 0 });
    }
    return JSON.stringify({ segment: seg.id, offset: seg.offsets[this.#cursor - seg.first] });
  }

  #writeCursor(force: boolean): void {
    if (this.#closed && !force) return;
    const text = this.#cursorText();
    if (text === this.#cursorWritten) return;
    const tmp = join(this.dir, `${CURSOR_FILE}.tmp`);
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, text);
      if (this.#fsync !== 'never') fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.dir, CURSOR_FILE));
    this.#cursorWritten = text;
  }

  #segmentOf(ordinal: number): Segment | undefined {
    for (const s of this.#segments) {
      if (ordinal < s.first) return undefined;
      if (ordinal < s.first + s.offsets.length) return s;
    }
    return undefined;
  }

  /** Deletes leading segments whose records are all acknowledged, except the one being written. */
  #deleteAcked(): void {
    while (this.#segments.length > 0) {
      const s = this.#segments[0] as Segment;
      const end = s.first + s.offsets.length;
      if (this.#cursor < end) return;
      if (this.#fd !== undefined && s === this.#segments.at(-1)) return;
      this.#remove(s);
    }
  }

  #remove(s: Segment): void {
    this.#segments.shift();
    this.#bytes -= s.size;
    if (this.#fd !== undefined && this.#segments.length === 0) {
      closeSync(this.#fd);
      this.#fd = undefined;
    }
    try {
      unlinkSync(s.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  #current(size: number): Segment {
    let last = this.#segments.at(-1);
    if (last !== undefined && this.#fd !== undefined && last.size > 0 && last.size + size > this.#segmentBytes) {
      this.#seal();
      last = undefined;
    }
    if (last === undefined || this.#fd === undefined) {
      const id = (this.#segments.at(-1)?.id ?? this.#lastIdOnDisk()) + 1;
      const path = join(this.dir, segmentName(id));
      this.#fd = openSync(path, 'a');
      last = { id, path, first: this.#end, size: 0, offsets: [], events: [] };
      this.#segments.push(last);
    }
    return last;
  }

  #lastIdOnDisk(): number {
    let max = 0;
    for (const n of readdirSync(this.dir)) {
      const m = SEGMENT_RE.exec(n)?.[1];
      if (m !== undefined) max = Math.max(max, Number(m));
    }
    return max;
  }

  #seal(): void {
    if (this.#fd === undefined) return;
    if (this.#fsync !== 'never') fsyncSync(this.#fd);
    closeSync(this.#fd);
    this.#fd = undefined;
    this.#dirty = false;
  }

  /**
   * Appends entries (one write for all of them); returns their ordinals' range. Then enforces the
   * bound, dropping the oldest segments. Throws `ERR_NATS_SPOOL` on an I/O error or a record larger
   * than the bound.
   */
  append(entries: readonly SpoolEntry[]): void {
    if (this.#closed) throw natsErrors.error('ERR_NATS_CLOSED', 'the spool is closed');
    let frames = entries.map(frameRecord);
    while (frames.length > 0) {
      // Fill the current segment up to its size, then start the next one.
      const seg = this.#current(frames[0]?.length ?? 0);
      let room = this.#segmentBytes - seg.size;
      let n = 0;
      let bytes = 0;
      for (const f of frames) {
        if (n > 0 && f.length > room) break;
        room -= f.length;
        bytes += f.length;
        n++;
      }
      const batch = frames.slice(0, n);
      frames = frames.slice(n);
      if (bytes > this.#maxBytes) {
        throw natsErrors.error(
          'ERR_NATS_SPOOL',
          `a ${bytes}-byte record does not fit a spool of ${this.#maxBytes} bytes`,
        );
      }
      try {
        const buf = n === 1 ? (batch[0] as Buffer) : Buffer.concat(batch, bytes);
        let written = 0;
        while (written < buf.length) written += writeSync(this.#fd as number, buf, written);
        if (this.#fsync === 'always') fsyncSync(this.#fd as number);
        else this.#dirty = true;
      } catch (e) {
        throw natsErrors.error('ERR_NATS_SPOOL', `spool write failed in ${this.dir}: ${(e as Error).message}`, {
          cause: e,
          details: { code: (e as NodeJS.ErrnoException).code },
        });
      }
      for (const f of batch) {
        seg.offsets.push(seg.size);
        seg.events.push(f.readUInt32LE(HEADER + 1));
        seg.size += f.length;
      }
      this.#end += n;
      this.#bytes += bytes;
      this.#appendedRecords += n;
      this.#appendedBytes += bytes;
      this.#enforceBound();
    }
  }

  #enforceBound(): void {
    while (this.#bytes > this.#maxBytes && this.#segments.length > 0) {
      if (this.#segments.length === 1) this.#seal();
      const s = this.#segments[0] as Segment;
      for (let i = 0; i < s.offsets.length; i++) {
        const ord = s.first + i;
        const ev = s.events[i] ?? 0;
        if (ord < this.#cursor) continue;
        if (ord < this.#send) this.#orphans.set(ord, ev);
        else {
          this.#droppedEvents += ev;
          this.#droppedRecords++;
        }
      }
      const end = s.first + s.offsets.length;
      this.#cursor = Math.max(this.#cursor, end);
      this.#send = Math.max(this.#send, end);
      this.#remove(s);
    }
  }

  /** Whether a record is waiting to be taken. */
  hasNext(): boolean {
    return this.#send < this.#end;
  }

  /** Takes the next record to publish (undefined when none waits). */
  take(): SpooledRecord | undefined {
    if (this.#send >= this.#end) return undefined;
    const ordinal = this.#send;
    const seg = this.#segmentOf(ordinal) as Segment;
    const i = ordinal - seg.first;
    const off = seg.offsets[i] as number;
    const end = i + 1 < seg.offsets.length ? (seg.offsets[i + 1] as number) : seg.size;
    const buf = Buffer.allocUnsafe(end - off);
    const fd = openSync(seg.path, 'r');
    try {
      let got = 0;
      while (got < buf.length) {
        const r = readSync(fd, buf, got, buf.length - got, off + got);
        if (r === 0) break;
        got += r;
      }
    } finally {
      closeSync(fd);
    }
    const entry = decodeBody(buf.subarray(HEADER));
    if (entry === undefined) throw natsErrors.error('ERR_NATS_SPOOL', `spool record ${ordinal} cannot be read back`);
    this.#send++;
    return { ordinal, ...entry };
  }

  /** Takes up to `max` records in order, reading each segment once. */
  takeMany(max: number): SpooledRecord[] {
    const out: SpooledRecord[] = [];
    while (out.length < max && this.#send < this.#end) {
      const seg = this.#segmentOf(this.#send) as Segment;
      const i0 = this.#send - seg.first;
      const i1 = Math.min(seg.offsets.length, i0 + (max - out.length));
      const off = seg.offsets[i0] as number;
      const end = i1 < seg.offsets.length ? (seg.offsets[i1] as number) : seg.size;
      const buf = Buffer.allocUnsafe(end - off);
      const fd = openSync(seg.path, 'r');
      try {
        let got = 0;
        while (got < buf.length) {
          const r = readSync(fd, buf, got, buf.length - got, off + got);
          if (r === 0) throw new Error('short read');
          got += r;
        }
      } catch (e) {
        throw natsErrors.error('ERR_NATS_SPOOL', `spool read failed in ${seg.path}: ${(e as Error).message}`, {
          cause: e,
        });
      } finally {
        closeSync(fd);
      }
      for (let i = i0; i < i1; i++) {
        const a = (seg.offsets[i] as number) - off;
        const b = (i + 1 < seg.offsets.length ? (seg.offsets[i + 1] as number) : seg.size) - off;
        const entry = decodeBody(buf.subarray(a + HEADER, b));
        if (entry === undefined) throw natsErrors.error('ERR_NATS_SPOOL', `spool record in ${seg.path} is unreadable`);
        out.push({ ordinal: seg.first + i, ...entry });
      }
      this.#send = seg.first + i1;
    }
    return out;
  }

  /**
   * Acknowledges a taken record. Records are acknowledged in the order they were taken; a record
   * whose segment was dropped while it was in flight counts as delivered.
   */
  ack(ordinal: number): void {
    if (this.#orphans.delete(ordinal)) return;
    if (ordinal !== this.#cursor) return;
    this.#cursor++;
    this.#deleteAcked();
  }

  /**
   * Starts again from the oldest unacknowledged record (after a failed publish). Records that were
   * in flight when the bound dropped their segment cannot be sent again: they count as dropped.
   */
  rewind(): void {
    for (const ev of this.#orphans.values()) {
      this.#droppedEvents += ev;
      this.#droppedRecords++;
    }
    this.#orphans.clear();
    this.#send = this.#cursor;
  }

  /** Records taken and not acknowledged. */
  inFlight(): number {
    return this.#send - this.#cursor + this.#orphans.size;
  }

  /** The ordinal the next appended record gets. */
  endOrdinal(): number {
    return this.#end;
  }

  /** Records appended and not acknowledged. */
  pending(): number {
    return this.#end - this.#cursor;
  }

  stats(): SpoolStats {
    let pendingEvents = 0;
    for (const s of this.#segments) {
      if (s.first + s.offsets.length <= this.#cursor) continue;
      for (let i = Math.max(0, this.#cursor - s.first); i < s.offsets.length; i++) pendingEvents += s.events[i] ?? 0;
    }
    return {
      bytes: this.#bytes,
      segments: this.#segments.length,
      pendingRecords: this.pending(),
      pendingEvents,
      droppedEvents: this.#droppedEvents,
      droppedRecords: this.#droppedRecords,
      appendedRecords: this.#appendedRecords,
      appendedBytes: this.#appendedBytes,
      tornRecords: this.#tornRecords,
      bytesCut: this.#bytesCut,
    };
  }

  /** Forces appended data to disk (the `interval` policy calls it on its timer). */
  sync(): void {
    if (!this.#dirty || this.#fd === undefined) return;
    fsyncSync(this.#fd);
    this.#dirty = false;
  }

  /** Syncs, writes the cursor and closes the segment; idempotent. */
  close(): void {
    if (this.#closed) return;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    this.#writeCursor(true);
    this.#closed = true;
    if (this.#fd !== undefined) {
      if (this.#fsync !== 'never') fsyncSync(this.#fd);
      closeSync(this.#fd);
      this.#fd = undefined;
    }
  }
}

/** Bytes of segment files in a spool directory (for tests and tools that look from outside). */
export function spoolBytesOnDisk(dir: string): number {
  let n = 0;
  for (const name of readdirSync(dir)) if (SEGMENT_RE.test(name)) n += statSync(join(dir, name)).size;
  return n;
}
