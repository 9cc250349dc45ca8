import { execFileSync } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { fdTarget } from './__test__/fd.ts';
import { isNativeError } from './native-error.ts';
import { probeSockDiag } from './probes.ts';
import { type InetDiagSocket, openSockDiag, sockDiagDump, type UnixDiagSocket } from './sock-diag.ts';
import { inetDiagSockets } from './sock-diag-columns.ts';

const probe = await probeSockDiag();
if (!probe.available) process.stderr.write(`skipping sock_diag tests: ${probe.reason}\n`);

async function listen(host: string): Promise<net.Server> {
  const srv = net.createServer((s) => s.resume());
  await new Promise<void>((r) => srv.listen(0, host, r));
  return srv;
}
const portOf = (s: net.Server): number => {
  const a = s.address();
  return typeof a === 'object' && a !== null ? a.port : -1;
};

describe.skipIf(!probe.available)('sockDiagDump (kernel)', () => {
  it('lists exactly the listening TCP sockets we opened, v4 and v6', async () => {
    const v4 = await Promise.all([listen('127.0.0.1'), listen('127.0.0.1'), listen('127.0.0.1')]);
    const v6 = await Promise.all([listen('::1'), listen('::1')]);
    try {
      const ports4 = new Set(v4.map(portOf));
      const ports6 = new Set(v6.map(portOf));
      const l4 = (await sockDiagDump({ family: 4, protocol: 'tcp' })).filter(
        (s) => s.stateName === 'LISTEN' && ports4.has(s.srcPort),
      );
      const l6 = (await sockDiagDump({ family: 6, protocol: 'tcp' })).filter(
        (s) => s.stateName === 'LISTEN' && ports6.has(s.srcPort),
      );
      expect(l4.length).toBe(3);
      expect(l6.length).toBe(2);
      expect(new Set(l4.map((s) => s.srcPort))).toEqual(ports4);
      expect(
        l4.every((s) => s.srcAddr === '127.0.0.1' && s.family === 4 && s.uid === process.getuid?.() && s.inode > 0),
      ).toBe(true);
      expect(l6.every((s) => s.srcAddr === '::1' && s.dstAddr === '::' && s.family === 6)).toBe(true);
    } finally {
      for (const s of [...v4, ...v6]) s.close();
    }
  });

  it('reports tcp_info byte counters for a connection we drive', async () => {
    const srv = await listen('127.0.0.1');
    const client = net.connect(portOf(srv), '127.0.0.1');
    await new Promise((r) => client.on('connect', r));
    client.write(Buffer.alloc(4321));
    await sleep(100);
    try {
      const mine = (await sockDiagDump({ family: 4, protocol: 'tcp', withInfo: true })).find(
        (s) => s.srcPort === client.localPort && s.dstPort === portOf(srv),
      );
      expect(mine).toMatchObject({ stateName: 'ESTABLISHED', bytesSent: 4321n, bytesReceived: 0n });
      const plain = (await sockDiagDump({ family: 4, protocol: 'tcp' })).find((s) => s.srcPort === client.localPort);
      expect(plain?.bytesSent).toBeUndefined();
    } finally {
      client.destroy();
      srv.close();
    }
  });

  it('lists bound UDP sockets as UNCONN', async () => {
    const socks: UdpSocket[] = [createSocket('udp4'), createSocket('udp4')];
    await Promise.all(socks.map((s) => new Promise<void>((r) => s.bind(0, '127.0.0.1', r))));
    try {
      const ports = new Set(socks.map((s) => s.address().port));
      const found = (await sockDiagDump({ family: 4, protocol: 'udp' })).filter((s) => ports.has(s.srcPort));
      expect(found.map((s) => s.stateName)).toEqual(['UNCONN', 'UNCONN']);
    } finally {
      for (const s of socks) s.close();
    }
  });

  it('handles multi-part dumps (more sockets than fit one reply datagram)', async () => {
    const srv = await listen('127.0.0.1');
    const clients: net.Socket[] = [];
    for (let i = 0; i < 400; i++) clients.push(net.connect(portOf(srv), '127.0.0.1'));
    await Promise.all(clients.map((c) => new Promise((r) => c.on('connect', r))));
    try {
      const port = portOf(srv);
      const dump = await sockDiagDump({ family: 4, protocol: 'tcp', withInfo: true });
      expect(dump.filter((s) => s.dstPort === port && s.stateName === 'ESTABLISHED').length).toBe(400);
      expect(dump.filter((s) => s.srcPort === port && s.stateName === 'ESTABLISHED').length).toBe(400);
    } finally {
      for (const c of clients) c.destroy();
      srv.close();
    }
  });

  it('rejects bad options with ERR_NATIVE_INVALID_ARGUMENT naming the option and the value', async () => {
    const reader = await openSockDiag();
    try {
      for (const [opts, message] of [
        [{ family: 5, protocol: 'tcp' }, 'family must be 4 or 6, got 5'],
        [{ family: 4, protocol: 'sctp' }, `protocol must be 'tcp' or 'udp', got "sctp"`],
        [{ family: 4, protocol: 'tcp', withInfo: 1 }, 'withInfo must be a boolean, got 1'],
      ] as const) {
        for (const call of [() => sockDiagDump(opts as never), () => reader.dump(opts as never)]) {
          const err = await call().catch((e: unknown) => e);
          expect(isNativeError(err, 'ERR_NATIVE_INVALID_ARGUMENT')).toBe(true);
          expect((err as Error).message).toBe(message);
        }
      }
      expect(reader.stats()).toMatchObject({ dumps: 0, errors: 0 });
    } finally {
      await reader.close();
    }
  });
});

describe.skipIf(!probe.available)('openSockDiag (kernel)', () => {
  it('dumps in its worker while the main event loop keeps ticking', async () => {
    const srv = await listen('127.0.0.1');
    const clients: net.Socket[] = [];
    for (let i = 0; i < 1000; i++) clients.push(net.connect(portOf(srv), '127.0.0.1'));
    await Promise.all(clients.map((c) => new Promise((r) => c.on('connect', r))));
    const reader = await openSockDiag();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      let during = 0;
      for (let i = 0; i < 20; i++) {
        const before = ticks;
        const dump = await reader.dump({ family: 4, protocol: 'tcp', withInfo: true });
        during += ticks - before;
        expect(dump.filter((s) => s.dstPort === portOf(srv) && s.stateName === 'ESTABLISHED').length).toBe(1000);
      }
      // A dump on the main thread would hold the loop for its whole duration: no tick in between.
      expect(during).toBeGreaterThan(0);
      expect(reader.stats()).toMatchObject({ dumps: 20, errors: 0 });
      expect(reader.stats().sockets).toBeGreaterThanOrEqual(20 * 2001);
    } finally {
      clearInterval(timer);
      await reader.close();
      for (const c of clients) c.destroy();
      srv.close();
    }
  });

  it('aborting its signal closes the reader and its socket; pending and later dumps reject', async () => {
    const ac = new AbortController();
    const reader = await openSockDiag({ signal: ac.signal });
    const { fd } = reader.stats();
    const link = readlinkSync(`/proc/self/fd/${fd}`);
    expect(link).toMatch(/^socket:\[\d+\]$/);
    const pending = reader.dump({ family: 4, protocol: 'tcp' }).then(
      () => 'resolved',
      (e: unknown) => (isNativeError(e) ? e.code : 'other'),
    );
    ac.abort();
    // The dump may have finished before the stop message reached the worker.
    expect(['resolved', 'ERR_NATIVE_ABORTED']).toContain(await pending);
    await reader.close();
    expect(reader.stats().fd).toBe(-1);
    expect(fdTarget(fd)).not.toBe(link);
    const late = await reader.dump({ family: 4, protocol: 'tcp' }).catch((e: unknown) => e);
    expect(isNativeError(late, 'ERR_NATIVE_CALL')).toBe(true);
    expect((late as Error).message).toBe('sock_diag reader is closed');
  });

  it('an already-aborted signal rejects with ERR_NATIVE_ABORTED and opens nothing', async () => {
    const err = await openSockDiag({ signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(isNativeError(err, 'ERR_NATIVE_ABORTED')).toBe(true);
    expect((err as Error).message).toBe('openSockDiag: aborted');
  });

  it('dumps Unix sockets exactly as `ss -xa` lists them: names, states, queues, inodes and peers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'daemoneye-unix-'));
    const path = join(dir, 'srv.sock');
    const srv = net.createServer((s) => s.resume());
    await new Promise<void>((r) => srv.listen(path, r));
    const clients = await Promise.all(
      [0, 1, 2].map(
        () =>
          new Promise<net.Socket>((resolve) => {
            const c = net.connect(path, () => resolve(c));
          }),
      ),
    );
    const abstract = net.createServer();
    const abstractName = `daemoneye-test-${process.pid}`;
    await new Promise<void>((r) => abstract.listen(`\0${abstractName}`, r));
    await sleep(50);
    const reader = await openSockDiag();
    try {
      const sockets = await reader.dumpUnix();
      const ss = execFileSync('ss', ['-xaH'], { encoding: 'utf8' });
      const rows = ss
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f.length >= 8);
      // Ours: the listener, three accepted ends with the path, three unbound client ends, the abstract listener.
      const serverSide = sockets.filter((s) => s.path === path);
      const inodes = new Set(serverSide.map((s) => s.inode));
      for (const s of serverSide) if (s.peerInode !== 0) inodes.add(s.peerInode);
      const abstractOnes = sockets.filter((s) => s.path?.startsWith(`@${abstractName}`));
      expect(serverSide.length).toBe(4);
      expect(abstractOnes.map((s) => s.stateName)).toEqual(['LISTEN']);
      for (const s of abstractOnes) inodes.add(s.inode);
      expect(inodes.size).toBe(8);
      const asSs = (s: UnixDiagSocket) =>
        [
          { stream: 'u_str', dgram: 'u_dgr', seqpacket: 'u_seq' }[s.type],
          { ESTABLISHED: 'ESTAB', LISTEN: 'LISTEN', UNCONN: 'UNCONN', SYN_SENT: 'SYN-SENT' }[s.stateName],
          s.recvQueue,
          s.sendQueue,
          s.path ?? '*',
          s.inode,
          '*',
          s.peerInode,
        ].join(' ');
      const ours = sockets
        .filter((s) => inodes.has(s.inode))
        .map(asSs)
        .sort();
      const theirs = rows
        .filter((f) => inodes.has(Number(f[5])))
        .map((f) => f.join(' '))
        .sort();
      expect(ours).toEqual(theirs);
      expect(ours.length).toBe(8);
      // The state filter asks the kernel for listeners only.
      const listeners = await reader.dumpUnix({ states: [10] });
      expect(listeners.every((s) => s.stateName === 'LISTEN')).toBe(true);
      expect(listeners.filter((s) => inodes.has(s.inode)).length).toBe(2);
    } finally {
      await reader.close();
      for (const c of clients) c.destroy();
      srv.close();
      abstract.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('dumpColumns returns in one trip what the per-family dumps return (TCP of both families in one walk), and honours the state filter', async () => {
    const srv = await listen('127.0.0.1');
    const srv6 = await listen('::1');
    const reader = await openSockDiag();
    try {
      const cols = await reader.dumpColumns({ protocols: ['tcp'], withInfo: true });
      const objects = [
        ...(await reader.dump({ family: 4, protocol: 'tcp', withInfo: true })),
        ...(await reader.dump({ family: 6, protocol: 'tcp', withInfo: true })),
      ];
      const key = (s: InetDiagSocket) => `${s.family} ${s.srcAddr}:${s.srcPort} ${s.stateName} ${s.inode}`;
      const listenersOf = (xs: InetDiagSocket[]) =>
        xs
          .filter((s) => s.stateName === 'LISTEN')
          .map(key)
          .sort();
      expect(listenersOf(inetDiagSockets(cols))).toEqual(listenersOf(objects));
      expect(listenersOf(inetDiagSockets(cols))).toContain(
        `4 127.0.0.1:${portOf(srv)} LISTEN ${objects.find((s) => s.srcPort === portOf(srv))?.inode}`,
      );
      // Both families of TCP come from one walk of the kernel's tables (TCPDIAG_GETSOCK): v6 is there too.
      expect(listenersOf(inetDiagSockets(cols))).toContain(
        `6 ::1:${portOf(srv6)} LISTEN ${objects.find((s) => s.srcPort === portOf(srv6))?.inode}`,
      );
      const listenBoth = inetDiagSockets(await reader.dumpColumns({ states: [10], protocols: ['tcp'] }));
      expect(listenBoth.every((s) => s.stateName === 'LISTEN')).toBe(true);
      expect(
        [portOf(srv), portOf(srv6)].map((p) => listenBoth.filter((s) => s.srcPort === p).map((s) => s.family)),
      ).toEqual([[4], [6]]);
      const onlyListen = await reader.dumpColumns({ states: [10], families: [6] });
      expect(inetDiagSockets(onlyListen).every((s) => s.stateName === 'LISTEN' && s.family === 6)).toBe(true);
      expect(inetDiagSockets(onlyListen).some((s) => s.srcPort === portOf(srv6))).toBe(true);
      expect(reader.stats().errors).toBe(0);
      await expect(reader.dumpColumns({ families: [5 as 4] })).rejects.toThrow(/families/);
    } finally {
      await reader.close();
      srv.close();
      srv6.close();
    }
  });
});
