/**
 * SO_PEERCRED through the kernel: a child process that runs as uid 65534 is refused with a typed error
 * frame, even when the file modes would let it reach the socket; allowed, it is served. Needs root (to
 * start a process as another user).
 */
import { spawn } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { idleCollector, tempDir } from './__test__/helpers.ts';
import { CollectorIpcServer } from './server.ts';

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.log('peer.integration.test.ts: skipped: starting a process as uid 65534 needs root');

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** Connects as uid 65534, sends a framed health request, prints the first frame's payload as hex. */
const CLIENT = `
const net = require('node:net');
const s = net.connect(process.argv[1]);
const payload = Buffer.from([0x08, 0x01, 0x72, 0x00]);
s.on('connect', () => {
  const h = Buffer.alloc(8);
  h.writeUInt32LE(payload.length, 0);
  h.writeUInt32LE(Number(process.argv[2]), 4);
  s.write(Buffer.concat([h, payload]));
});
let buf = Buffer.alloc(0);
s.on('data', (d) => { buf = Buffer.concat([buf, d]); });
s.on('close', () => { process.stdout.write(JSON.stringify({ uid: process.getuid(), hex: buf.toString('hex') })); });
setTimeout(() => s.destroy(), 1500);
`;

async function asNobody(socket: string): Promise<{ uid: number; frames: Buffer }> {
  const { crc32c } = await import('@node-rs/crc32');
  const crc = crc32c(Buffer.from([0x08, 0x01, 0x72, 0x00]));
  const child = spawn(process.execPath, ['-e', CLIENT, socket, String(crc)], {
    uid: 65534,
    gid: 65534,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await new Promise((r) => child.on('exit', r));
  const r = JSON.parse(out) as { uid: number; hex: string };
  return { uid: r.uid, frames: Buffer.from(r.hex, 'hex') };
}

describe.skipIf(!isRoot)('peer credentials (SO_PEERCRED)', () => {
  async function start(allowedUids?: number[]): Promise<string> {
    const t = tempDir();
    cleanups.push(() => t.remove());
    const socket = join(t.dir, 'ipc', 'collector.sock');
    const server = new CollectorIpcServer({
      socketPath: socket,
      collector: idleCollector(),
      ...(allowedUids !== undefined ? { allowedUids } : {}),
    });
    await server.start();
    cleanups.push(() => server.close());
    // Open the way on purpose: only the uid check stands between uid 65534 and the server.
    chmodSync(t.dir, 0o755);
    chmodSync(dirname(socket), 0o755);
    chmodSync(socket, 0o666);
    return socket;
  }

  it('refuses a process running as uid 65534 with ERR_IPC_PEER_REFUSED', async () => {
    const socket = await start();
    const { uid, frames } = await asNobody(socket);
    expect(uid).toBe(65534);
    const { Envelope } = await import('@daemoneye/proto');
    const env = Envelope.decode(frames.subarray(8, 8 + frames.readUInt32LE(0)));
    expect(env.body).toEqual({
      $case: 'error',
      value: { code: 'ERR_IPC_PEER_REFUSED', message: 'uid 65534 may not connect to this collector', fatal: true },
    });
  });

  it('serves uid 65534 once it is allowed', async () => {
    const socket = await start([0, 65534]);
    const { frames } = await asNobody(socket);
    const { Envelope } = await import('@daemoneye/proto');
    const env = Envelope.decode(frames.subarray(8, 8 + frames.readUInt32LE(0)));
    expect(env.requestId).toBe(1);
    expect(env.body?.$case).toBe('healthResponse');
  });
});
