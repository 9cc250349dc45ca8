import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isNativeError } from './native-error.ts';
import { getPeerCredentials } from './peer-credentials.ts';

const linux = process.platform === 'linux';
if (!linux) process.stderr.write('skipping SO_PEERCRED tests: not Linux\n');

/** The fd of a connected net.Socket (Node keeps it on its internal handle). */
function fdOf(s: net.Socket): number {
  const handle = (s as unknown as { _handle?: { fd?: number } })._handle;
  return handle?.fd ?? -1;
}

describe.skipIf(!linux)('getPeerCredentials (kernel)', () => {
  it('reports the pid, uid and gid of a client process on a Unix socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'peercred-'));
    const path = join(dir, 's.sock');
    const accepted = new Promise<net.Socket>((resolve) => {
      const srv = net.createServer((s) => {
        resolve(s);
        srv.close();
      });
      srv.listen(path);
    });
    await new Promise((r) => setTimeout(r, 50));
    const child = spawn(
      process.execPath,
      ['-e', `require('net').connect(${JSON.stringify(path)}).on('connect', () => setTimeout(() => {}, 5000))`],
      { stdio: 'ignore' },
    );
    try {
      const conn = await accepted;
      expect(getPeerCredentials(fdOf(conn))).toEqual({
        pid: child.pid,
        uid: process.getuid?.(),
        gid: process.getgid?.(),
      });
      conn.destroy();
    } finally {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports our own pid for a connection we make ourselves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'peercred-'));
    const path = join(dir, 's.sock');
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(path, r));
    const accepted = new Promise<net.Socket>((r) => srv.once('connection', r));
    const client = net.connect(path);
    await new Promise((r) => client.on('connect', r));
    try {
      const server = await accepted;
      expect(getPeerCredentials(fdOf(client))).toEqual({
        pid: process.pid,
        uid: process.getuid?.(),
        gid: process.getgid?.(),
      });
      expect(getPeerCredentials(fdOf(server)).pid).toBe(process.pid);
      server.destroy();
    } finally {
      client.destroy();
      srv.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('throws ERR_NATIVE_CALL with EBADF for a closed fd', () => {
    let err: unknown;
    try {
      getPeerCredentials(987654);
    } catch (e) {
      err = e;
    }
    expect(isNativeError(err, 'ERR_NATIVE_CALL')).toBe(true);
    expect((err as { errno?: number }).errno).toBe(9);
  });
});
