/**
 * Filesystem notification events shared by the inotify and fanotify readers: the public event shape,
 * the named mask bits, mask-to-names decoding, and pure decoders for the kernel's inotify_event and
 * fanotify_event_metadata records (tested against recorded bytes). Resolving fanotify event fds to
 * paths needs system calls and lives in the fanotify worker.
 */
import { Fanotify, FanotifyMaskBits, InotifyMaskBits } from './internal/constants.ts';
import { FanotifyEventMetadata, InotifyEvent } from './internal/structs.ts';

/** One filesystem event. */
export interface FsNotifyEvent {
  /** Absolute path of the object (inotify: watched path joined with the entry name). */
  path: string;
  /** The kernel's event mask (fanotify masks fit 32 bits for every event bit). */
  mask: number;
  /** The names of the single-bit flags set in `mask` (`CREATE`, `ISDIR`, ...), in bit order. */
  names: string[];
  /** fanotify: pid of the process that caused the event. */
  pid?: number;
  /** inotify: the cookie that pairs MOVED_FROM with MOVED_TO (absent when 0). */
  cookie?: number;
  /** inotify: the event is about the watched object itself (the kernel gave no entry name). */
  self?: boolean;
  /** fanotify with names reported: the old path of a RENAME event (`path` is the new one). */
  oldPath?: string;
  /** fanotify with `actors`: the effective uid of `pid`, read from /proc/PID/status as the event was read. */
  uid?: number;
  /** fanotify with `actors`: the name (comm) of `pid`, read with `uid`. */
  processName?: string;
}

/** inotify mask bits by name, for `addWatch` and for reading `FsNotifyEvent.mask`. */
export const InotifyMask: Readonly<Record<string, number>> = InotifyMaskBits;

/**
 * fanotify mask bits by name (64-bit, as BigInt), for `openFanotify({ mask })`. Without a FID
 * reporting group (`reportNames: false`, a plain notification group) the kernel rejects CREATE, DELETE,
 * MOVED_*, *_SELF and RENAME marks with EINVAL; permission events need a content class group.
 */
export const FanotifyMask: Readonly<Record<string, bigint>> = FanotifyMaskBits;

const isSingleBit = (v: number): boolean => v !== 0 && (v & (v - 1)) === 0;

const INOTIFY_SINGLE = Object.entries(InotifyMaskBits).filter(([, v]) => isSingleBit(v >>> 0));
const FANOTIFY_SINGLE = Object.entries(FanotifyMaskBits as Readonly<Record<string, bigint>>).filter(
  ([, v]) => v !== 0n && (v & (v - 1n)) === 0n,
);

/** The names of the single-bit inotify flags set in `mask`. */
export function inotifyMaskNames(mask: number): string[] {
  return INOTIFY_SINGLE.filter(([, v]) => (mask & v) >>> 0 === v >>> 0).map(([k]) => k);
}

/** The names of the single-bit fanotify flags set in `mask`. */
export function fanotifyMaskNames(mask: bigint): string[] {
  return FANOTIFY_SINGLE.filter(([, v]) => (mask & v) === v).map(([k]) => k);
}

/** One raw inotify_event. */
export interface RawInotifyEvent {
  readonly wd: number;
  readonly mask: number;
  readonly cookie: number;
  /** The entry name inside the watched directory ('' for events on the watched object itself). */
  readonly name: string;
}

/** Decodes the inotify_event records in `buf[0..n)`; stops at a truncated record. */
export function decodeInotifyEvents(buf: Buffer, n: number, out: RawInotifyEvent[]): void {
  let off = 0;
  while (off + InotifyEvent.SIZE <= n) {
    const len = buf.readUInt32LE(off + InotifyEvent.LEN);
    if (off + InotifyEvent.SIZE + len > n) break;
    const raw = buf.subarray(off + InotifyEvent.SIZE, off + InotifyEvent.SIZE + len);
    const nul = raw.indexOf(0);
    out.push({
      wd: buf.readInt32LE(off + InotifyEvent.WD),
      mask: buf.readUInt32LE(off + InotifyEvent.MASK),
      cookie: buf.readUInt32LE(off + InotifyEvent.COOKIE),
      name: raw.toString('utf8', 0, nul < 0 ? raw.length : nul),
    });
    off += InotifyEvent.SIZE + len;
  }
}

/** One raw fanotify_event_metadata record (the fd must be closed by whoever reads it). */
export interface RawFanotifyEvent {
  readonly mask: bigint;
  readonly fd: number;
  readonly pid: number;
}

/** Decodes the fanotify_event_metadata records in `buf[0..n)`; stops at a truncated or zero-length record. */
export function decodeFanotifyEvents(buf: Buffer, n: number, out: RawFanotifyEvent[]): void {
  let off = 0;
  while (off + FanotifyEventMetadata.SIZE <= n) {
    const len = buf.readUInt32LE(off + FanotifyEventMetadata.EVENT_LEN);
    if (len < FanotifyEventMetadata.SIZE || off + len > n) break;
    out.push({
      mask: buf.readBigUInt64LE(off + FanotifyEventMetadata.MASK),
      fd: buf.readInt32LE(off + FanotifyEventMetadata.FD),
      pid: buf.readInt32LE(off + FanotifyEventMetadata.PID),
    });
    off += len;
  }
}

/** One fanotify info record naming a directory entry: a directory's file handle and an entry name. */
export interface RawFanotifyFid {
  /** FAN_EVENT_INFO_TYPE_*: FID (1), DFID_NAME (2), DFID (3), OLD_DFID_NAME (10), NEW_DFID_NAME (12). */
  readonly type: number;
  /** The filesystem id (`__kernel_fsid_t`, 8 bytes) as hex. */
  readonly fsid: string;
  /** A copy of the `struct file_handle` (handle_bytes, handle_type, f_handle), for open_by_handle_at. */
  readonly handle: Buffer;
  /** The entry name ('' for records without one, '.' for events on the directory itself). */
  readonly name: string;
}

/** One fanotify_event_metadata record of a group reporting file handles (FAN_REPORT_DFID_NAME). */
export interface RawFanotifyFidEvent {
  readonly mask: bigint;
  readonly pid: number;
  readonly fids: readonly RawFanotifyFid[];
}

const FID_TYPES: ReadonlySet<number> = new Set([
  Fanotify.INFO_FID,
  Fanotify.INFO_DFID_NAME,
  Fanotify.INFO_DFID,
  Fanotify.INFO_OLD_DFID_NAME,
  Fanotify.INFO_NEW_DFID_NAME,
]);

/**
 * Decodes the records of a group reporting file handles in `buf[0..n)`: each metadata record with
 * its fid info records (header: info_type u8, pad u8, len u16; fsid 8 bytes; struct file_handle;
 * then, for *_NAME records, a NUL-terminated name). Other info records (pidfd, error) are skipped;
 * a truncated record ends decoding.
 */
export function decodeFanotifyFidEvents(buf: Buffer, n: number, out: RawFanotifyFidEvent[]): void {
  let off = 0;
  while (off + FanotifyEventMetadata.SIZE <= n) {
    const len = buf.readUInt32LE(off + FanotifyEventMetadata.EVENT_LEN);
    if (len < FanotifyEventMetadata.SIZE || off + len > n) break;
    const metaLen = buf.readUInt16LE(off + FanotifyEventMetadata.METADATA_LEN);
    const fids: RawFanotifyFid[] = [];
    let info = off + Math.max(metaLen, FanotifyEventMetadata.SIZE);
    const end = off + len;
    while (info + 4 <= end) {
      const type = buf.readUInt8(info);
      const infoLen = buf.readUInt16LE(info + 2);
      if (infoLen < 4 || info + infoLen > end) break;
      if (FID_TYPES.has(type) && infoLen >= 20) {
        const handleBytes = buf.readUInt32LE(info + 12);
        const handleEnd = info + 20 + handleBytes;
        if (handleEnd <= info + infoLen) {
          let name = '';
          if (handleEnd < info + infoLen) {
            const raw = buf.subarray(handleEnd, info + infoLen);
            const nul = raw.indexOf(0);
            name = raw.toString('utf8', 0, nul < 0 ? raw.length : nul);
          }
          fids.push({
            type,
            fsid: buf.toString('hex', info + 4, info + 12),
            handle: Buffer.from(buf.subarray(info + 12, handleEnd)),
            name,
          });
        }
      }
      info += infoLen;
    }
    out.push({
      mask: buf.readBigUInt64LE(off + FanotifyEventMetadata.MASK),
      pid: buf.readInt32LE(off + FanotifyEventMetadata.PID),
      fids,
    });
    off += len;
  }
}
