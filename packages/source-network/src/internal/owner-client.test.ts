import { readdirSync, readlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { OwnerWorkerClient } from './owner-client.ts';

/** Inodes of the sockets this process holds, from /proc/self/fd (ground truth from outside the client). */
function ownSocketInodes(): number[] {
  const inodes: number[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m?.[1] !== undefined) inodes.push(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

const until = async (check: () => boolean, ms: number): Promise<boolean> => {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return check();
};

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

describe.runIf(process.platform === 'linux')('OwnerWorkerClient', () => {
  it('finds this process as the owner of its listening socket, ends its worker once idle, and starts another for the next lookup', async () => {
    const server: Server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => server.close(() => r())));
    const client = new OwnerWorkerClient({ idleMs: 100 });
    cleanup.push(() => client.close());
    const inodes = ownSocketInodes();
    expect(inodes.length).toBeGreaterThan(0);

    const first = await client.lookup(inodes);
    expect(client.workerRunning()).toBe(true);
    expect([...first.owners.values()].map((o) => o.pid)).toContain(process.pid);
    expect(await until(() => !client.workerRunning(), 3000)).toBe(true);

    const second = await client.lookup(inodes);
    expect([...second.owners.keys()].sort()).toEqual([...first.owners.keys()].sort());
    expect(client.workerRunning()).toBe(true);
    await client.close();
    expect(client.workerRunning()).toBe(false);
    await expect(client.lookup(inodes)).rejects.toThrow('owner worker is closed');
  });

  it('keeps the worker while lookups come more often than the idle time', async () => {
    const client = new OwnerWorkerClient({ idleMs: 300 });
    cleanup.push(() => client.close());
    const inodes = ownSocketInodes();
    await client.lookup(inodes);
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 100));
      expect(client.workerRunning()).toBe(true);
      await client.lookup(inodes);
    }
  });
});
