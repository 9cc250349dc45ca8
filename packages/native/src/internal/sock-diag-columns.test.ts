import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isNativeError } from '../native-error.ts';
import { columnAddress, columnStateName, inetDiagSocketAt, inetDiagSockets } from '../sock-diag-columns.ts';
import { Netlink, SockDiag } from './constants.ts';
import { columnBuffers, InetColumnsBuilder, readDumpDatagram } from './inet-diag-columns-codec.ts';
import { decodeInetDiagMessage } from './sock-diag-codec.ts';
import { encodeNlMsg } from './structs.ts';
import { decodeUnixDiagMessage, encodeUnixDiagRequest } from './unix-diag-codec.ts';

const load = (name: string) =>
  JSON.parse(readFileSync(new URL(`../__fixtures__/${name}`, import.meta.url), 'utf8')) as {
    payloads: string[];
    ss?: string[];
  };
const inet = load('sock-diag.json').payloads.map((h) => Buffer.from(h, 'hex'));
const unix = load('unix-diag.json');

/** One datagram as the kernel sends a dump part: the recorded payloads as messages of `seq`, then (optionally) NLMSG_DONE. */
function datagram(payloads: Buffer[], seq: number, done: boolean): Buffer {
  const msgs = payloads.map((p) =>
    encodeNlMsg({ type: SockDiag.SOCK_DIAG_BY_FAMILY, flags: Netlink.NLM_F_MULTI, seq }, p),
  );
  if (done) msgs.push(encodeNlMsg({ type: Netlink.NLMSG_DONE, flags: Netlink.NLM_F_MULTI, seq }, Buffer.alloc(4)));
  return Buffer.concat(msgs);
}

function decodeColumns(datagrams: Buffer[], seq: number, builder = new InetColumnsBuilder(1)) {
  const outcomes = datagrams.map((d) =>
    readDumpDatagram(d, d.length, seq, SockDiag.SOCK_DIAG_BY_FAMILY, (start, end) => {
      builder.push(d, start, end, 6);
    }),
  );
  return { outcomes, columns: builder.finish() };
}

describe('columnar inet dump decoding', () => {
  it('decodes recorded datagrams into columns equal to the object decoder, row by row', () => {
    // The first two payloads in one datagram, the third in the next with NLMSG_DONE; a reply to
    // another request (seq 6) in between is skipped. Capacity 1 makes the builder grow twice.
    const { outcomes, columns } = decodeColumns(
      [datagram(inet.slice(0, 2), 7, false), datagram(inet.slice(0, 1), 6, false), datagram(inet.slice(2), 7, true)],
      7,
    );
    expect(outcomes).toEqual(['more', 'more', 'done']);
    expect(columns.length).toBe(inet.length);
    expect(inetDiagSockets(columns)).toEqual(inet.map((p) => decodeInetDiagMessage(p, 'tcp')));
    expect([...columns.srcPort]).toEqual([33001, 33001, 34564, 45015]);
    expect([...columns.inode]).toEqual([45140, 45143, 45142, 45141].slice(0, inet.length));
    expect([...columns.bytesSent]).toEqual([0n, 777n, 1234n, 0n].slice(0, inet.length));
    expect([...columns.hasInfo]).toEqual([1, 1, 1, 0].slice(0, inet.length));
    expect(columnAddress(columns, 1, 'dst')).toBe('127.0.0.1');
    expect(columnStateName(columns, 0)).toBe('LISTEN');
  });

  it('keeps IPv4 rows zero-padded after an IPv6 row reused the builder and hands out transferable buffers', () => {
    const v6 = inet[inet.length - 1] as Buffer;
    const v4 = inet[1] as Buffer;
    const { columns } = decodeColumns([datagram([v6, v4], 1, true)], 1);
    expect(columns.family[0]).toBe(6);
    expect(inetDiagSocketAt(columns, 0).srcAddr).toBe('::1');
    expect([...columns.addresses.subarray(32, 64)].filter((b, k) => k % 16 >= 4 && b !== 0)).toEqual([]);
    const buffers = columnBuffers(columns);
    expect(buffers.length).toBeGreaterThan(0);
    const copy = structuredClone(columns, { transfer: buffers });
    expect(columns.length === 2 && columns.inode.byteLength).toBe(0);
    expect(inetDiagSockets(copy).map((s) => s.inode)).toEqual([v6.readUInt32LE(68), 45143]);
  });

  it('rejects a truncated payload and turns a netlink error into ERR_NATIVE_CALL with the errno', () => {
    const b = new InetColumnsBuilder();
    expect(b.push(inet[0] as Buffer, 0, 40, 6)).toBe(false);
    const err = Buffer.alloc(20);
    err.writeInt32LE(-22, 0);
    const d = encodeNlMsg({ type: Netlink.NLMSG_ERROR, flags: 0, seq: 3 }, err);
    let caught: unknown;
    try {
      readDumpDatagram(d, d.length, 3, SockDiag.SOCK_DIAG_BY_FAMILY, () => {});
    } catch (e) {
      caught = e;
    }
    expect(isNativeError(caught) && [caught.code, caught.errno]).toEqual(['ERR_NATIVE_CALL', 22]);
  });
});

describe('unix_diag codec', () => {
  it('encodes a dump request for every state with name, peer, queues and uid', () => {
    expect(encodeUnixDiagRequest(0xffffffff).toString('hex')).toBe('01000000ffffffff0000000055000000ffffffffffffffff');
  });

  it('decodes recorded replies as `ss -xa` showed them', () => {
    const got = unix.payloads.map((h) => decodeUnixDiagMessage(Buffer.from(h, 'hex')));
    const asSs = got.map((s) =>
      [
        s?.type === 'stream' ? 'u_str' : s?.type,
        s?.stateName === 'ESTABLISHED' ? 'ESTAB' : s?.stateName,
        s?.recvQueue,
        s?.sendQueue,
        s?.path ?? '*',
        s?.inode,
        '*',
        s?.peerInode,
      ].join(' '),
    );
    expect(asSs).toEqual(unix.ss);
    expect(got[1]).toEqual({
      type: 'stream',
      state: 1,
      stateName: 'ESTABLISHED',
      inode: 233641,
      path: '/tmp/daemoneye-unix-fixture.sock',
      peerInode: 233640,
      recvQueue: 0,
      sendQueue: 0,
      uid: 0,
    });
    expect(decodeUnixDiagMessage(Buffer.from(unix.payloads[0] as string, 'hex').subarray(0, 12))).toBeUndefined();
  });
});
