/**
 * DaemonEye's frame format: `u32 LE length N | u32 LE CRC32C (Castagnoli) of the N bytes | N bytes`.
 * `encodeFrame` builds one frame; `FrameDecoder` takes bytes as they arrive and hands out whole
 * payloads, rejecting a zero or oversize length from the header alone, before any of the body is
 * buffered, and a payload whose checksum does not match. It knows nothing of protobuf or sockets.
 */

import { CollectorError } from '@daemoneye/core';
import { crc32c } from '@node-rs/crc32';
import type { IpcErrorCode } from './errors.ts';

/** Bytes of a frame header: length and checksum. */
export const FRAME_HEADER_BYTES = 8;
/** The largest payload a frame may carry unless configured otherwise: 1 MiB, as DaemonEye. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

function frameError(code: IpcErrorCode, message: string, details: Record<string, number> = {}): CollectorError {
  return new CollectorError(code, message, { details });
}

/**
 * One frame around `payload`. Throws `ERR_IPC_FRAME_EMPTY` for an empty payload and
 * `ERR_IPC_FRAME_TOO_LARGE` for one above `maxFrameBytes`.
 */
export function encodeFrame(payload: Uint8Array, maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES): Buffer {
  const n = payload.length;
  if (n === 0) throw frameError('ERR_IPC_FRAME_EMPTY', 'a frame cannot carry an empty payload');
  if (n > maxFrameBytes) {
    throw frameError('ERR_IPC_FRAME_TOO_LARGE', `a ${n}-byte payload exceeds the ${maxFrameBytes}-byte frame limit`, {
      length: n,
      limit: maxFrameBytes,
    });
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + n);
  frame.writeUInt32LE(n, 0);
  frame.writeUInt32LE(crc32c(payload), 4);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/** Writes a frame header for `payload` (whose bytes follow it) into `into` at `offset`. */
export function writeFrameHeader(into: Buffer, offset: number, payload: Uint8Array): void {
  into.writeUInt32LE(payload.length, offset);
  into.writeUInt32LE(crc32c(payload), offset + 4);
}

/**
 * Reassembles frames from a byte stream. `push(chunk)` returns the payloads completed by the chunk;
 * it throws `ERR_IPC_FRAME_EMPTY` or `ERR_IPC_FRAME_TOO_LARGE` as soon as a header announces such a
 * length (the body is never read), and `ERR_IPC_CRC_MISMATCH` for a payload whose checksum differs.
 * After a throw the stream is out of step: the decoder refuses further input. `end()` throws
 * `ERR_IPC_TRUNCATED` when the stream stopped inside a frame.
 */
export class FrameDecoder {
  readonly maxFrameBytes: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #failed: CollectorError | undefined;

  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held that do not yet make a whole frame. */
  get buffered(): number {
    return this.#buffered;
  }

  push(chunk: Uint8Array): Buffer[] {
    if (this.#failed !== undefined) throw this.#failed;
    if (chunk.length === 0) return [];
    this.#chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    this.#buffered += chunk.length;
    const out: Buffer[] = [];
    while (this.#buffered >= FRAME_HEADER_BYTES) {
      const head = this.#peek(FRAME_HEADER_BYTES);
      const n = head.readUInt32LE(0);
      if (n === 0) this.#fail(frameError('ERR_IPC_FRAME_EMPTY', 'the peer sent a frame with length 0'));
      if (n > this.maxFrameBytes) {
        this.#fail(
          frameError(
            'ERR_IPC_FRAME_TOO_LARGE',
            `the peer announced a ${n}-byte frame; the limit is ${this.maxFrameBytes}`,
            {
              length: n,
              limit: this.maxFrameBytes,
            },
          ),
        );
      }
      if (this.#buffered < FRAME_HEADER_BYTES + n) break;
      const expected = head.readUInt32LE(4);
      const frame = this.#take(FRAME_HEADER_BYTES + n);
      const payload = frame.subarray(FRAME_HEADER_BYTES);
      const actual = crc32c(payload);
      if (actual !== expected) {
        this.#fail(
          frameError(
            'ERR_IPC_CRC_MISMATCH',
            `frame checksum mismatch: header says ${hex(expected)}, payload is ${hex(actual)}`,
            {
              expected,
              actual,
            },
          ),
        );
      }
      out.push(payload);
    }
    return out;
  }

  /** Checks that the stream ended on a frame boundary. */
  end(): void {
    if (this.#failed === undefined && this.#buffered > 0) {
      this.#fail(
        frameError('ERR_IPC_TRUNCATED', `the stream ended inside a frame (${this.#buffered} bytes of it arrived)`, {
          buffered: this.#buffered,
        }),
      );
    }
  }

  #fail(e: CollectorError): never {
    this.#failed = e;
    this.#chunks = [];
    this.#buffered = 0;
    throw e;
  }

  #peek(n: number): Buffer {
    const first = this.#chunks[0] as Buffer;
    if (first.length >= n) return first;
    return Buffer.concat(this.#chunks, this.#buffered).subarray(0, n);
  }

  #take(n: number): Buffer {
    let first = this.#chunks[0] as Buffer;
    if (first.length < n) {
      first = Buffer.concat(this.#chunks, this.#buffered);
      this.#chunks = [first];
    }
    const out = first.subarray(0, n);
    if (first.length === n) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(n);
    this.#buffered -= n;
    return out;
  }
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
