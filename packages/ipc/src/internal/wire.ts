/**
 * Encoding on the hot path: an Envelope carrying an EventBatch is assembled from bytes already made
 * (the batch header encoded once per connection, each record encoded once in the replay ring), so
 * streaming to several clients costs copies, not re-encoding. Everything else goes through the
 * generated `Envelope.encode`. It does no I/O.
 */
import { Envelope, type EnvelopeBody, EventBatch, type HostIdentity } from '@daemoneye/proto';
import { encodeFrame, FRAME_HEADER_BYTES, writeFrameHeader } from '../framing.ts';

/** Tag of Envelope.event_batch (field 22, length-delimited) as a varint: 178, 1. */
const EVENT_BATCH_TAG = [0xb2, 0x01] as const;
/** Tag of EventBatch.records (field 4, length-delimited). */
const RECORDS_TAG = 0x22;

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, offset: number, n: number): number {
  while (n >= 0x80) {
    buf[offset++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[offset++] = n;
  return offset;
}

/** The fields of an EventBatch other than its records, encoded once. */
export function batchHeader(host: HostIdentity, collector: string, runId: string): Uint8Array {
  return EventBatch.encode({ host, collector, runId, records: [], sentAt: 0 }).finish();
}

/** Bytes an envelope with these records takes, frame header included. */
export function batchFrameSize(header: Uint8Array, records: readonly Uint8Array[], requestId: number): number {
  let batch = header.length;
  for (const r of records) batch += 1 + varintSize(r.length) + r.length;
  return FRAME_HEADER_BYTES + 1 + varintSize(requestId) + 2 + varintSize(batch) + batch;
}

/** One frame: an Envelope with `requestId` carrying an EventBatch of `header` and `records`. */
export function encodeBatchFrame(header: Uint8Array, records: readonly Uint8Array[], requestId: number): Buffer {
  let batch = header.length;
  for (const r of records) batch += 1 + varintSize(r.length) + r.length;
  const envelope = 1 + varintSize(requestId) + 2 + varintSize(batch) + batch;
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + envelope);
  let o = FRAME_HEADER_BYTES;
  frame[o++] = 0x08;
  o = writeVarint(frame, o, requestId);
  frame[o++] = EVENT_BATCH_TAG[0];
  frame[o++] = EVENT_BATCH_TAG[1];
  o = writeVarint(frame, o, batch);
  frame.set(header, o);
  o += header.length;
  for (const r of records) {
    frame[o++] = RECORDS_TAG;
    o = writeVarint(frame, o, r.length);
    frame.set(r, o);
    o += r.length;
  }
  writeFrameHeader(frame, 0, frame.subarray(FRAME_HEADER_BYTES));
  return frame;
}

/** One frame carrying an Envelope. Throws `ERR_IPC_FRAME_TOO_LARGE` above `maxFrameBytes`. */
export function encodeEnvelopeFrame(requestId: number, body: EnvelopeBody, maxFrameBytes: number): Buffer {
  return encodeFrame(Envelope.encode({ requestId, body }).finish(), maxFrameBytes);
}
