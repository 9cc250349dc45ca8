import { crc32c } from '@node-rs/crc32';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeFrame, FRAME_HEADER_BYTES, FrameDecoder } from './framing.ts';
import { CircuitBreaker, reconnectDelay } from './resilience.ts';

/** Splits `bytes` at the given cut points. */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    out.push(bytes.subarray(at, p));
    at = p;
  }
  out.push(bytes.subarray(at));
  return out;
}

describe('framing', () => {
  it('round-trips any payloads however the stream is cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (payloads, cuts) => {
          const stream = Buffer.concat(payloads.map((p) => encodeFrame(p)));
          const decoder = new FrameDecoder();
          const got = split(stream, cuts).flatMap((c) => decoder.push(c));
          expect(got.map((b) => Buffer.from(b))).toEqual(payloads.map((p) => Buffer.from(p)));
          expect(decoder.buffered).toBe(0);
          decoder.end();
        },
      ),
      { numRuns: 500 },
    );
  });

  it("writes DaemonEye's layout: u32 LE length, u32 LE CRC32C of the payload, the payload", () => {
    const frame = encodeFrame(Buffer.from('123456789'));
    expect(frame.readUInt32LE(0)).toBe(9);
    expect(frame.readUInt32LE(4)).toBe(0xe3069283);
    expect(frame.subarray(FRAME_HEADER_BYTES).toString()).toBe('123456789');
  });

  it('rejects any flipped bit of a payload with a checksum mismatch', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 200 }),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (p, at, bit) => {
          const frame = Buffer.from(encodeFrame(p));
          const i = FRAME_HEADER_BYTES + (at % p.length);
          frame[i] = (frame[i] as number) ^ (1 << bit);
          expect(() => new FrameDecoder().push(frame)).toThrow(
            expect.objectContaining({ code: 'ERR_IPC_CRC_MISMATCH' }),
          );
        },
      ),
    );
  });

  it('refuses zero and oversize lengths from the header alone, and a stream that ends inside a frame', () => {
    const header = (n: number) => {
      const b = Buffer.alloc(FRAME_HEADER_BYTES);
      b.writeUInt32LE(n, 0);
      return b;
    };
    expect(() => new FrameDecoder(1024).push(header(1025))).toThrow(
      expect.objectContaining({ code: 'ERR_IPC_FRAME_TOO_LARGE', details: { length: 1025, limit: 1024 } }),
    );
    expect(() => new FrameDecoder().push(header(0))).toThrow(expect.objectContaining({ code: 'ERR_IPC_FRAME_EMPTY' }));
    const d = new FrameDecoder();
    expect(d.push(encodeFrame(Buffer.from('abc')).subarray(0, 9))).toEqual([]);
    expect(() => d.end()).toThrow(expect.objectContaining({ code: 'ERR_IPC_TRUNCATED' }));
    expect(() => encodeFrame(new Uint8Array(0))).toThrow(expect.objectContaining({ code: 'ERR_IPC_FRAME_EMPTY' }));
    expect(() => encodeFrame(new Uint8Array(11), 10)).toThrow(
      expect.objectContaining({ code: 'ERR_IPC_FRAME_TOO_LARGE' }),
    );
    expect(crc32c(Buffer.alloc(0))).toBe(0);
  });
});

describe('resilience', () => {
  it('backs off exponentially from 100 ms to a 30 s cap, with up to 100 ms of jitter', () => {
    const none = { random: () => 0 };
    expect([0, 1, 2, 3, 8, 9, 20].map((n) => reconnectDelay(n, none))).toEqual([
      100, 200, 400, 800, 25_600, 30_000, 30_000,
    ]);
    expect(reconnectDelay(0, { random: () => 0.999 })).toBeCloseTo(199.9);
    expect(reconnectDelay(12, { random: () => 0.999 })).toBe(30_000);
  });

  it('opens after 5 failures, half-opens after 30 s, closes after 3 successes, reopens on a half-open failure', () => {
    let now = 0;
    const b = new CircuitBreaker({ now: () => now });
    for (let i = 0; i < 4; i++) b.failure();
    expect(b.state).toBe('closed');
    b.failure();
    expect(b.state).toBe('open');
    expect(b.allows()).toBe(false);
    now = 29_999;
    expect(b.retryInMs).toBe(1);
    now = 30_000;
    expect(b.state).toBe('half-open');
    b.failure();
    expect(b.state).toBe('open');
    now = 60_000;
    b.success();
    b.success();
    expect(b.state).toBe('half-open');
    b.success();
    expect(b.state).toBe('closed');
  });
});
