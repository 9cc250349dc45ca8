/**
 * Test helpers: a temporary socket directory, a raw framed connection that speaks the envelope
 * protocol byte by byte (to send malformed input the client would never send), and an idle collector
 * whose view the server answers from.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CollectionEvent, Collector, type EventSource, SourceCaps } from '@daemoneye/core';
import { createTestConfig, MockEventSource } from '@daemoneye/core/testing';
import { Envelope, type EnvelopeBody } from '@daemoneye/proto';
import { encodeFrame, FrameDecoder } from '../framing.ts';

/** A temporary directory for sockets; `remove()` deletes it. */
export function tempDir(prefix = 'daemoneye-ipc-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An envelope body with any of its fields left out. */
type PartialBody = { readonly $case: EnvelopeBody['$case']; readonly value: object };

/** A raw connection: send bytes or envelopes, read envelopes as they arrive. */
export class RawPeer {
  readonly socket: Socket;
  readonly received: Envelope[] = [];
  closed = false;
  readonly #decoder = new FrameDecoder(16 * 1024 * 1024);
  #waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk) => {
      for (const p of this.#decoder.push(chunk)) this.received.push(Envelope.decode(p));
      this.#wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    socket.on('error', () => {});
  }

  static open(path: string): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(new RawPeer(s)));
      s.once('error', reject);
    });
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Sends an envelope; fields left out take their protobuf defaults. */
  send(requestId: number, body: PartialBody): void {
    this.socket.write(encodeFrame(Envelope.encode(Envelope.fromPartial({ requestId, body } as never)).finish()));
  }

  /** Waits until `test` holds over what arrived (or the connection closed), at most `timeoutMs`. */
  async until(test: (received: Envelope[], closed: boolean) => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!test(this.received, this.closed)) {
      if (Date.now() > deadline)
        throw new Error(`timed out; received ${JSON.stringify(this.received.map((e) => e.body?.$case))}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  /** The first envelope with this request id, once it arrived. */
  async reply(requestId: number, timeoutMs = 5000): Promise<EnvelopeBody> {
    await this.until((r) => r.some((e) => e.requestId === requestId), timeoutMs);
    return this.received.find((e) => e.requestId === requestId)?.body as EnvelopeBody;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** An idle collector with a process and a network source whose view a server answers from. */
export function idleCollector(extra: readonly EventSource[] = []): Collector {
  const c = new Collector(createTestConfig());
  c.register(new MockEventSource({ name: 'process', capabilities: SourceCaps.PROCESS | SourceCaps.SYSTEM_WIDE }));
  for (const s of extra) c.register(s);
  return c;
}

/** `n` process events for pids `from`, `from + 1`, … */
export function processEvents(n: number, from = 1000): CollectionEvent[] {
  return Array.from({ length: n }, (_, i) =>
    CollectionEvent.process({
      subtype: 'exec',
      pid: from + i,
      name: i % 2 === 0 ? 'curl' : 'sh',
      commandLine: ['x', String(i)],
      accessible: true,
      fileExists: true,
      timestamp: 1_700_000_000_000 + i,
    }),
  );
}
