import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  decodeInetDiagMessage,
  encodeInetDiagRequest,
  encodeTcpDiagCompatRequest,
  formatIpv6,
} from './sock-diag-codec.ts';

const fixture = JSON.parse(readFileSync(new URL('../__fixtures__/sock-diag.json', import.meta.url), 'utf8')) as {
  payloads: string[];
};

describe('decodeInetDiagMessage', () => {
  it('decodes recorded replies, with tcp_info byte counters when present', () => {
    const got = fixture.payloads.map((h) => decodeInetDiagMessage(Buffer.from(h, 'hex'), 'tcp'));
    expect(got).toEqual([
      {
        family: 4,
        protocol: 'tcp',
        state: 10,
        stateName: 'LISTEN',
        srcAddr: '127.0.0.1',
        srcPort: 33001,
        dstAddr: '0.0.0.0',
        dstPort: 0,
        uid: 0,
        inode: 45140,
        bytesSent: 0n,
        bytesReceived: 0n,
        retransmits: 0,
        rttUs: 0,
      },
      {
        family: 4,
        protocol: 'tcp',
        state: 1,
        stateName: 'ESTABLISHED',
        srcAddr: '127.0.0.1',
        srcPort: 33001,
        dstAddr: '127.0.0.1',
        dstPort: 34564,
        uid: 0,
        inode: 45143,
        bytesSent: 777n,
        bytesReceived: 1234n,
        retransmits: 0,
        rttUs: 21,
      },
      {
        family: 4,
        protocol: 'tcp',
        state: 1,
        stateName: 'ESTABLISHED',
        srcAddr: '127.0.0.1',
        srcPort: 34564,
        dstAddr: '127.0.0.1',
        dstPort: 33001,
        uid: 0,
        inode: 45142,
        bytesSent: 1234n,
        bytesReceived: 777n,
        retransmits: 0,
        rttUs: 28,
      },
      {
        family: 6,
        protocol: 'tcp',
        state: 10,
        stateName: 'LISTEN',
        srcAddr: '::1',
        srcPort: 45015,
        dstAddr: '::',
        dstPort: 0,
        uid: 0,
        inode: 45141,
      },
    ]);
  });

  it('reads tcpi_total_retrans and tcpi_rtt from where tcp_info puts them', () => {
    const b = Buffer.from(fixture.payloads[1] ?? '', 'hex');
    let at = 72; // walk the attributes after inet_diag_msg to INET_DIAG_INFO (type 2)
    while (b.readUInt16LE(at + 2) !== 2) at += (b.readUInt16LE(at) + 3) & ~3;
    const info = at + 4;
    b.writeUInt32LE(17, info + 100);
    b.writeUInt32LE(1500, info + 68);
    expect(decodeInetDiagMessage(b, 'tcp')).toMatchObject({ retransmits: 17, rttUs: 1500, bytesSent: 777n });
  });

  it('names unconnected UDP sockets UNCONN and rejects truncated payloads', () => {
    const b = Buffer.from(fixture.payloads[3] ?? '', 'hex').subarray(0, 72);
    const udp = Buffer.from(b);
    udp.writeUInt8(7, 1);
    expect(decodeInetDiagMessage(udp, 'udp')?.stateName).toBe('UNCONN');
    expect(decodeInetDiagMessage(b.subarray(0, 71), 'tcp')).toBeUndefined();
  });
});

describe('encodeInetDiagRequest', () => {
  it('asks for all states, no cookie, and INET_DIAG_INFO only when requested', () => {
    const r = encodeInetDiagRequest({ family: 6, protocol: 'udp', withInfo: false });
    expect(r.length).toBe(56);
    expect([r[0], r[1], r[2], r.readUInt32LE(4), r.readUInt32LE(48), r.readUInt32LE(52)]).toEqual([
      10, 17, 0, 0xffffffff, 0xffffffff, 0xffffffff,
    ]);
    expect(encodeInetDiagRequest({ family: 4, protocol: 'tcp', withInfo: true })[2]).toBe(2);
  });
});

describe('encodeTcpDiagCompatRequest', () => {
  it('is a 60-byte struct inet_diag_req: no family, tcp_info bit in idiag_ext, no cookie, the state mask', () => {
    const r = encodeTcpDiagCompatRequest({ withInfo: true, states: (1 << 1) | (1 << 10) });
    const want = Buffer.alloc(60);
    want[3] = 1 << 1; // INET_DIAG_INFO
    want.fill(0xff, 44, 52); // id.idiag_cookie = INET_DIAG_NOCOOKIE
    want.writeUInt32LE(0x402, 52); // idiag_states: ESTABLISHED and LISTEN
    expect(r.toString('hex')).toBe(want.toString('hex'));
    const all = encodeTcpDiagCompatRequest({ withInfo: false });
    expect([all[3], all.readUInt32LE(52), all.readUInt32LE(56)]).toEqual([0, 0xffffffff, 0]);
  });
});

describe('formatIpv6', () => {
  const text = (hex: string): string => formatIpv6(Buffer.from(hex, 'hex'));
  it('compresses the longest zero run like the WHATWG/RFC 5952 form', () => {
    const cases = [
      '00000000000000000000000000000001',
      '00000000000000000000000000000000',
      '20010db8000000000001000000000001',
      '20010db8000100000000000000000001',
      'fe800000000000000202b3fffe1e8329',
      '20010db8000000010001000100010001',
    ];
    for (const hex of cases) {
      const oracle = new URL(`http://[${(hex.match(/.{4}/g) ?? []).join(':')}]/`).hostname.slice(1, -1);
      expect(text(hex)).toBe(oracle);
    }
  });
  it('writes IPv4-mapped addresses dotted', () => {
    expect(text('00000000000000000000ffff7f000001')).toBe('::ffff:127.0.0.1');
  });
});
