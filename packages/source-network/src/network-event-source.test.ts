import { isCollectorError, SourceCaps } from '@daemoneye/core';
import { checkSourceConformance } from '@daemoneye/core/testing';
import { NativeError } from '@daemoneye/native';
import { afterEach, describe, expect, it } from 'vitest';
import { RecordingSender } from '../test/recording-sender.ts';
import type { OwnerResolver } from './internal/owner-client.ts';
import { createNetworkSource, type NetworkEventSource } from './network-event-source.ts';

const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
const line = (sl: number, local: string, remote: string, st: string, uid: number, inode: number) =>
  `   ${sl}: ${local} ${remote} ${st} 00000000:00000000 00:00000000 00000000 ${uid} 0 ${inode} 1 0000000000000000 20 4 30 10 -1`;

/** /proc/net files the test edits between dumps. */
class FakeProcNet {
  files: Record<string, string[]> = { tcp: [], tcp6: [], udp: [], udp6: [] };
  reads = 0;
  read = async (path: string): Promise<string> => {
    this.reads++;
    const name = path.slice(path.lastIndexOf('/') + 1);
    return [HEADER, ...(this.files[name] ?? [])].join('\n');
  };
}

const refused = async (): Promise<never> => {
  throw new NativeError('ERR_NATIVE_UNAVAILABLE', 'sock_diag: EPERM');
};

const owners = (table: Record<number, { pid: number; name: string }>): OwnerResolver => ({
  async lookup(inodes) {
    const found = new Map(
      inodes.filter((i) => table[i] !== undefined).map((i) => [i, table[i] as { pid: number; name: string }]),
    );
    const missing = new Map(inodes.filter((i) => table[i] === undefined).map((i) => [i, 'not_found' as const]));
    return { owners: found, missing, walked: true, linksRead: inodes.length, durationMs: 0 };
  },
  close: async () => {},
});

const running: Array<{ source: NetworkEventSource; ctl: AbortController; done: Promise<void> }> = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    r.ctl.abort();
    await r.done;
  }
});

function start(source: NetworkEventSource): RecordingSender {
  const tx = new RecordingSender();
  const ctl = new AbortController();
  running.push({ source, ctl, done: source.start(tx, ctl.signal) });
  return tx;
}

describe('NetworkEventSource over /proc/net when sock_diag is refused', () => {
  it('falls back, says so in health and capabilities, and reports snapshot, open, state and close events', async () => {
    const net = new FakeProcNet();
    net.files.tcp = [line(0, '0100007F:1F90', '00000000:0000', '0A', 0, 100)];
    net.files.udp6 = [
      line(0, '00000000000000000000000001000000:0035', '00000000000000000000000000000000:0000', '07', 101, 200),
    ];
    const source = createNetworkSource({
      intervalMs: 20,
      openSockDiag: refused,
      readProcNet: net.read,
      owners: owners({ 100: { pid: 42, name: 'server' }, 300: { pid: 43, name: 'client' } }),
    });
    const tx = start(source);
    await tx.waitFor((t) => t.network('snapshot').length === 2);
    expect(source.backend()).toBe('procfs');
    expect(source.capabilities()).toBe(SourceCaps.NETWORK | SourceCaps.SYSTEM_WIDE);
    const health = await source.healthCheck();
    expect(health?.status).toBe('degraded');
    expect(health?.reason).toMatch(/^procfs backend: sock_diag refused \(.*EPERM.*\); parsing \/proc\/net$/);
    expect(tx.network('snapshot')).toEqual([
      expect.objectContaining({
        sourceAddr: '127.0.0.1:8080',
        destAddr: '0.0.0.0:0',
        protocol: 'tcp',
        state: 'LISTEN',
        listening: true,
        family: 4,
        inode: 100,
        pid: 42,
        processName: 'server',
      }),
      expect.objectContaining({
        sourceAddr: '[::1]:53',
        protocol: 'udp',
        state: 'UNCONN',
        listening: true,
        uid: 101,
        pidUnknownReason: 'not_found',
      }),
    ]);
    net.files.tcp = [...net.files.tcp, line(1, '0100007F:9C40', '0100007F:1F90', '01', 0, 300)];
    await tx.waitFor((t) => t.network('open').length === 1);
    expect(tx.network('open')[0]).toMatchObject({
      sourceAddr: '127.0.0.1:40000',
      pid: 43,
      processName: 'client',
      state: 'ESTABLISHED',
    });
    net.files.tcp = [
      line(0, '0100007F:1F90', '00000000:0000', '0A', 0, 100),
      line(1, '0100007F:9C40', '0100007F:1F90', '08', 0, 300),
    ];
    await tx.waitFor((t) => t.network('state_change').length === 1);
    expect(tx.network('state_change')[0]).toMatchObject({ state: 'CLOSE_WAIT', previousState: 'ESTABLISHED', pid: 43 });
    net.files.tcp = [line(0, '0100007F:1F90', '00000000:0000', '0A', 0, 100)];
    await tx.waitFor((t) => t.network('close').length === 1);
    expect(tx.network('close')[0]).toMatchObject({
      connectionId: tx.network('open')[0]?.connectionId,
      state: 'CLOSE',
      previousState: 'CLOSE_WAIT',
    });
    const snap = await source.snapshot();
    expect(snap.map((e) => [e.subtype, e.sourceAddr, e.pid])).toEqual([
      ['snapshot', '127.0.0.1:8080', 42],
      ['snapshot', '[::1]:53', undefined],
    ]);
  });

  it('rejects a start when the configured backend cannot open', async () => {
    const source = createNetworkSource({ backend: 'netlink', openSockDiag: refused });
    const err = await source.start(new RecordingSender(), new AbortController().signal).catch((e: unknown) => e);
    expect(isCollectorError(err, 'ERR_NETWORK_BACKEND_UNAVAILABLE')).toBe(true);
    expect((err as Error).message).toMatch(/^network backend netlink cannot open: .*EPERM/);
  });

  it('applies address, port and state filters, and says when pid mapping is off', async () => {
    const net = new FakeProcNet();
    net.files.tcp = [
      line(0, '0100007F:1F90', '00000000:0000', '0A', 0, 100),
      line(1, '0100000A:0016', '0200000A:9C40', '01', 0, 101),
      line(2, '0100007F:0016', '0100007F:9C41', '01', 0, 102),
    ];
    const source = createNetworkSource({
      intervalMs: 20,
      backend: 'procfs',
      readProcNet: net.read,
      pidMapping: 'off',
      addresses: ['10.0.0.0/8'],
      ports: [22],
      states: ['ESTABLISHED'],
    });
    const tx = start(source);
    await tx.waitFor((t) => t.network('snapshot').length >= 1);
    expect(tx.network('snapshot').map((e) => [e.sourceAddr, e.destAddr, e.pidUnknownReason])).toEqual([
      ['10.0.0.1:22', '10.0.0.2:40000', 'disabled'],
    ]);
  });

  it('reports unhealthy after three failed dumps in a row and keeps running', async () => {
    const net = new FakeProcNet();
    let fail = false;
    const source = createNetworkSource({
      intervalMs: 10,
      backend: 'procfs',
      readProcNet: async (p) => {
        if (fail) throw Object.assign(new Error('EIO'), { code: 'EIO' });
        return net.read(p);
      },
    });
    start(source);
    await new Promise((r) => setTimeout(r, 30));
    fail = true;
    await expect.poll(() => source.stats().dumpErrors, { timeout: 3000 }).toBeGreaterThanOrEqual(3);
    await expect(source.healthCheck()).rejects.toThrow(/^\d+ socket dumps failed in a row: Error: EIO$/);
    fail = false;
    await expect.poll(async () => (await source.healthCheck())?.status, { timeout: 3000 }).toBe('degraded');
  });

  it('rejects bad options with ERR_CONFIG_INVALID naming the field', () => {
    const bad = [
      [{ intervalMs: 5 }, /intervalMs must be an integer >= 10, got 5/],
      [{ protocols: ['sctp'] }, /protocols must be a list of 'tcp' or 'udp'/],
      [{ families: [5] }, /families must be a list of 4 or 6/],
      [{ addresses: ['10.0.0.0/33'] }, /addresses must be an IP address or CIDR block, got "10.0.0.0\/33"/],
      [{ ports: [70000] }, /ports must be a list of ports 0-65535/],
      [{ backend: 'pcap' }, /backend must be auto, netlink, procfs, systeminformation/],
    ] as const;
    for (const [opts, message] of bad) {
      let err: unknown;
      try {
        createNetworkSource(opts as never);
      } catch (e) {
        err = e;
      }
      expect(isCollectorError(err, 'ERR_CONFIG_INVALID'), JSON.stringify(opts)).toBe(true);
      expect((err as Error).message).toMatch(message);
    }
  });

  it('passes the source conformance suite on the fallback backend', async () => {
    const net = new FakeProcNet();
    net.files.tcp = [line(0, '0100007F:1F90', '00000000:0000', '0A', 0, 100)];
    const report = await checkSourceConformance(
      () => createNetworkSource({ intervalMs: 20, backend: 'procfs', readProcNet: net.read, pidMapping: 'off' }),
      { minEvents: 1 },
    );
    expect(report.failures).toEqual([]);
  });
});
