/**
 * The network source against the real kernel, checked against `ss`: loopback TCP connections (IPv4
 * and IPv6) and UDP sockets opened by the test, their close events, tcp_info byte counters, the
 * owning process of a child's connection, and the /proc/net backend forced by option. Needs `ss`
 * (iproute2); sock_diag works unprivileged.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetworkEvent } from '@daemoneye/core';
import { SourceCaps } from '@daemoneye/core';
import { checkSourceConformance } from '@daemoneye/core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RecordingSender } from '../test/recording-sender.ts';
import { createNetworkSource, type NetworkEventSource } from './network-event-source.ts';

const SS_STATES: Readonly<Record<string, string>> = {
  ESTABLISHED: 'ESTAB',
  SYN_SENT: 'SYN-SENT',
  SYN_RECV: 'SYN-RECV',
  FIN_WAIT1: 'FIN-WAIT-1',
  FIN_WAIT2: 'FIN-WAIT-2',
  TIME_WAIT: 'TIME-WAIT',
  CLOSE: 'UNCONN',
  CLOSE_WAIT: 'CLOSE-WAIT',
  LAST_ACK: 'LAST-ACK',
  LISTEN: 'LISTEN',
  CLOSING: 'CLOSING',
  UNCONN: 'UNCONN',
};

/**
 * `proto state local localPort peerPort` rows from `ss -tanuH` that involve one of `ports`. TIME-WAIT
 * rows are left out: the source reports those connections closed and does not list them again.
 */
function ssRows(ports: Set<number>): string[] {
  const out = execFileSync('ss', ['-tanuH'], { encoding: 'utf8' });
  const port = (endpoint: string): number => {
    const p = endpoint.slice(endpoint.lastIndexOf(':') + 1);
    return p === '*' ? 0 : Number(p);
  };
  const rows: string[] = [];
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || f[1] === 'TIME-WAIT') continue;
    const [proto, state, , , local = '', peer = ''] = f;
    const lp = port(local);
    const pp = port(peer);
    if (ports.has(lp) || ports.has(pp)) rows.push(`${proto} ${state} ${local.replace(/^\[::ffff:/, '[')} ${lp} ${pp}`);
  }
  return rows.sort();
}

/** tcpi_total_retrans of the TCP connection 127.0.0.1:local → :remote as `ss -ti` prints it (`retrans:C/TOTAL`; absent = 0). */
function ssTotalRetrans(local: number, remote: number): number {
  const out = execFileSync('ss', ['-tinH', 'src', `127.0.0.1:${local}`, 'dst', `127.0.0.1:${remote}`], {
    encoding: 'utf8',
  });
  const m = /\bretrans:\d+\/(\d+)/.exec(out);
  return m === null ? 0 : Number(m[1]);
}

const portOf = (endpoint: string): number => Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));
const hostOf = (endpoint: string): string => endpoint.slice(0, endpoint.lastIndexOf(':'));

/** The same rows from our events. */
function ourRows(events: readonly NetworkEvent[], ports: Set<number>): string[] {
  return events
    .filter((e) => ports.has(portOf(e.sourceAddr)) || ports.has(portOf(e.destAddr)))
    .map((e) => {
      const host = hostOf(e.sourceAddr);
      const shown = host === '0.0.0.0' || host === '[::]' ? (e.family === 6 ? '[::]' : '0.0.0.0') : host;
      return `${e.protocol} ${SS_STATES[e.state] ?? e.state} ${shown}:${portOf(e.sourceAddr)} ${portOf(e.sourceAddr)} ${portOf(e.destAddr)}`;
    })
    .sort();
}

function ssAvailable(): boolean {
  try {
    execFileSync('ss', ['-V']);
    return true;
  } catch {
    return false;
  }
}
const haveSs = ssAvailable();
if (!haveSs) console.log('skipping network source integration tests: ss (iproute2) is not installed');

const listen = (server: Server, host: string): Promise<number> =>
  new Promise((resolve) => server.listen(0, host, () => resolve((server.address() as { port: number }).port)));
const connectTo = (port: number, host: string): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const s = connect(port, host, () => resolve(s));
    s.once('error', reject);
  });

const running: Array<{ ctl: AbortController; done: Promise<void> }> = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    r.ctl.abort();
    await r.done;
  }
});
function start(source: NetworkEventSource): RecordingSender {
  const tx = new RecordingSender();
  const ctl = new AbortController();
  running.push({ ctl, done: source.start(tx, ctl.signal) });
  return tx;
}

describe.skipIf(!haveSs)('NetworkEventSource on the real kernel', () => {
  const server = createServer((s) => {
    accepted.push(s);
    s.on('data', (d) => {
      received += d.length;
    });
  });
  const server6 = createServer((s) => accepted.push(s));
  const accepted: Socket[] = [];
  const clients: Socket[] = [];
  const udp: UdpSocket[] = [];
  let received = 0;
  let port = 0;
  let port6 = 0;
  const myName = readFileSync('/proc/self/comm', 'utf8').trim();

  beforeAll(async () => {
    port = await listen(server, '127.0.0.1');
    port6 = await listen(server6, '::1');
  });
  afterAll(async () => {
    for (const s of [...clients, ...accepted]) s.destroy();
    for (const u of udp) u.close();
    await new Promise((r) => server.close(r));
    await new Promise((r) => server6.close(r));
  });

  it('reports 100 loopback TCP connections, IPv6 ones and UDP sockets exactly as ss shows them, then their closes', async () => {
    const source = createNetworkSource({ intervalMs: 100 });
    const tx = start(source);
    await tx.waitFor((t) => t.readyCalled);
    expect(source.backend()).toBe('netlink');
    expect(source.capabilities()).toBe(SourceCaps.NETWORK | SourceCaps.SYSTEM_WIDE | SourceCaps.KERNEL_LEVEL);
    await expect(source.healthCheck()).resolves.toBeUndefined();

    for (let i = 0; i < 100; i++) clients.push(await connectTo(port, '127.0.0.1'));
    const v6 = [await connectTo(port6, '::1'), await connectTo(port6, '::1')];
    clients.push(...v6);
    const ports = new Set([port, port6]);
    for (let i = 0; i < 3; i++) {
      const u = createSocket(i === 2 ? 'udp6' : 'udp4');
      await new Promise<void>((r) => u.bind(0, i === 2 ? '::1' : '127.0.0.1', () => r()));
      udp.push(u);
      ports.add(u.address().port);
    }
    const connected = createSocket('udp4');
    await new Promise<void>((r) => connected.connect(udp[0]?.address().port ?? 0, '127.0.0.1', () => r()));
    udp.push(connected);

    // 102 client ends and 102 server ends, plus the 3 bound UDP sockets and the connected one.
    const opened = (t: RecordingSender) =>
      t.network('open').filter((e) => ports.has(portOf(e.sourceAddr)) || ports.has(portOf(e.destAddr)));
    await tx.waitFor((t) => opened(t).length === 208, 10_000);
    const snapshot = await source.snapshot();
    expect(ourRows(snapshot, ports)).toEqual(ssRows(ports));
    expect(ourRows(opened(tx), ports)).toEqual(ssRows(ports).filter((r) => !r.includes(' LISTEN ')));
    expect(ourRows(tx.network('snapshot'), new Set([port, port6]))).toEqual([
      `tcp LISTEN 127.0.0.1:${port} ${port} 0`,
      `tcp LISTEN [::1]:${port6} ${port6} 0`,
    ]);
    const mine = opened(tx);
    expect(mine.filter((e) => e.pid === process.pid && e.processName === myName).length).toBe(208);
    expect(mine.filter((e) => e.family === 6).map((e) => hostOf(e.sourceAddr))).toEqual(
      expect.arrayContaining(['[::1]']),
    );
    expect(mine.filter((e) => e.family === 6 && e.protocol === 'tcp').length).toBe(4);
    expect(new Set(mine.map((e) => e.connectionId)).size).toBe(208);

    for (const c of clients.splice(0)) c.destroy();
    const closed = (t: RecordingSender) => new Set(t.network('close').map((e) => e.connectionId));
    const tcpIds = mine.filter((e) => e.protocol === 'tcp').map((e) => e.connectionId);
    await tx.waitFor((t) => tcpIds.every((id) => closed(t).has(id)), 10_000);
    const closes = tx.network('close').filter((e) => tcpIds.includes(e.connectionId));
    expect(closes.length).toBe(204);
    // The side that closed first keeps a TIME_WAIT entry; the other side leaves the table.
    expect(closes.filter((e) => e.state === 'TIME_WAIT').length).toBe(102);
    expect(closes.filter((e) => e.state === 'CLOSE').length).toBe(102);
  }, 60_000);

  it('counts 1 MiB sent on one connection in its tcp_info byte counters', async () => {
    const source = createNetworkSource({ intervalMs: 1000 });
    const client = await connectTo(port, '127.0.0.1');
    clients.push(client);
    const local = client.localPort ?? 0;
    const find = (events: NetworkEvent[], src: number, dst: number) =>
      events.find((e) => portOf(e.sourceAddr) === src && portOf(e.destAddr) === dst && e.protocol === 'tcp');
    const before = await source.snapshot();
    const sentBefore = find(before, local, port)?.bytesSent ?? Number.NaN;
    const receivedBefore = find(before, port, local)?.bytesReceived ?? Number.NaN;
    const start = received;
    client.write(Buffer.alloc(1 << 20, 7));
    await expect.poll(() => received - start, { timeout: 10_000 }).toBe(1 << 20);
    const after = await source.snapshot();
    expect((find(after, local, port)?.bytesSent ?? 0) - sentBefore).toBeGreaterThanOrEqual(1 << 20);
    expect((find(after, port, local)?.bytesReceived ?? 0) - receivedBefore).toBeGreaterThanOrEqual(1 << 20);
    // Loopback under load may retransmit (tail loss probes): the count must be what `ss -ti` says.
    expect(find(after, local, port)?.retransmits).toBe(ssTotalRetrans(local, port));
    expect(find(after, local, port)?.rttUs).toBeGreaterThan(0);
  });

  it("credits a child process's connection to the child, by pid and name", async () => {
    const source = createNetworkSource({ intervalMs: 100 });
    const tx = start(source);
    await tx.waitFor((t) => t.readyCalled);
    const child: ChildProcess = spawn(
      'bash',
      ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}; echo up; read -t 30 -u 3 line`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
      await tx.waitFor((t) => t.network('open').some((e) => portOf(e.destAddr) === port && e.pid === child.pid), 5000);
      const event = tx.network('open').find((e) => portOf(e.destAddr) === port && e.pid === child.pid);
      expect(event).toMatchObject({ pid: child.pid, processName: 'bash', state: 'ESTABLISHED', protocol: 'tcp' });
    } finally {
      child.kill();
    }
  });

  it('forced onto /proc/net, matches ss and reports Degraded', async () => {
    const client = await connectTo(port6, '::1');
    clients.push(client);
    const source = createNetworkSource({ backend: 'procfs', intervalMs: 100 });
    const tx = start(source);
    await tx.waitFor((t) => t.readyCalled);
    expect(source.backend()).toBe('procfs');
    expect(source.capabilities()).toBe(SourceCaps.NETWORK | SourceCaps.SYSTEM_WIDE);
    expect((await source.healthCheck())?.status).toBe('degraded');
    const ports = new Set([port, port6]);
    const snap = await source.snapshot();
    expect(ourRows(snap, ports)).toEqual(ssRows(ports));
    expect(snap.find((e) => portOf(e.sourceAddr) === client.localPort)).toMatchObject({
      pid: process.pid,
      family: 6,
      destAddr: `[::1]:${port6}`,
    });
  });

  it('reports Unix sockets when asked, as `ss -xa` lists them, with their owner, then their closes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'daemoneye-net-unix-'));
    const path = join(dir, 'srv.sock');
    const ends: Socket[] = [];
    const unixServer = createServer((s) => ends.push(s));
    await new Promise<void>((r) => unixServer.listen(path, r));
    const unixClients = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<Socket>((resolve) => {
            const c = connect(path, () => resolve(c));
          }),
      ),
    );
    try {
      await new Promise((r) => setTimeout(r, 50));
      const off = await createNetworkSource().snapshot();
      expect(off.filter((e) => e.protocol.startsWith('unix_'))).toEqual([]);
      const source = createNetworkSource({ unix: true, intervalMs: 100 });
      const tx = start(source);
      await tx.waitFor((t) => t.network('snapshot').length > 0);
      const snap = tx.network('snapshot').filter((e) => e.protocol.startsWith('unix_'));
      // The listener and the two accepted ends carry the path; the client ends are unbound, their peers are not.
      const ours = new Set(snap.filter((e) => e.sourceAddr === path).map((e) => e.inode));
      for (const e of snap) if (e.sourceAddr === path && e.peerInode) ours.add(e.peerInode);
      expect(ours.size).toBe(5);
      const ssRowsUnix = execFileSync('ss', ['-xaH'], { encoding: 'utf8' })
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f.length >= 8 && ours.has(Number(f[5])))
        .map((f) => [f[0], f[1], f[4], Number(f[5]), Number(f[7])].join(' '))
        .sort();
      const SS_UNIX: Readonly<Record<string, string>> = {
        unix_stream: 'u_str',
        unix_dgram: 'u_dgr',
        unix_seqpacket: 'u_seq',
      };
      const mine = snap
        .filter((e) => ours.has(e.inode ?? 0))
        .map((e) => [SS_UNIX[e.protocol], SS_STATES[e.state], e.sourceAddr, e.inode, e.peerInode].join(' '))
        .sort();
      expect(mine).toEqual(ssRowsUnix);
      expect(mine.length).toBe(5);
      const mineEvents = snap.filter((e) => ours.has(e.inode ?? 0));
      expect(mineEvents.every((e) => e.pid === process.pid && e.processName === myName)).toBe(true);
      expect(mineEvents.filter((e) => e.listening).map((e) => e.state)).toEqual(['LISTEN']);
      // A client end's destination is the peer's name, as ss resolves it.
      const client = mineEvents.find((e) => e.sourceAddr === '*');
      expect(client?.destAddr).toBe(path);
      const gone = unixClients[0];
      // The inode of the client end we close, from its fd's link.
      const goneFd = (gone as unknown as { _handle: { fd: number } })._handle.fd;
      const goneInode = Number(/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${goneFd}`))?.[1]);
      expect(ours.has(goneInode)).toBe(true);
      gone?.destroy();
      await tx.waitFor(
        (t) => t.network('close').filter((e) => e.protocol === 'unix_stream' && ours.has(e.inode ?? 0)).length >= 2,
      );
      const closed = tx.network('close').filter((e) => ours.has(e.inode ?? 0));
      expect(closed.map((e) => e.state)).toEqual(['CLOSE', 'CLOSE']);
      // Both ends of that connection: the client end and the server end whose peer it was.
      expect(
        closed.map((e) => (e.inode === goneInode ? 'client' : e.peerInode === goneInode ? 'server' : 'other')).sort(),
      ).toEqual(['client', 'server']);
    } finally {
      for (const c of [...unixClients, ...ends]) c.destroy();
      await new Promise((r) => unixServer.close(r));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes the source conformance suite', async () => {
    const report = await checkSourceConformance(() => createNetworkSource({ intervalMs: 100 }), { minEvents: 1 });
    expect(report.failures).toEqual([]);
  }, 60_000);
});
