import { describe, expect, it } from 'vitest';
import { decodeProcNetEndpoint, parseProcNet } from './proc-net-parse.ts';

const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';

describe('parseProcNet', () => {
  it('decodes IPv4 lines: little-endian addresses, big-endian ports, hex states', () => {
    const text = [
      HEADER,
      '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41234 1 0000000000000000 100 0 0 10 0',
      '   1: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 41240 1 0000000000000000 20 4 30 10 -1',
      '   2: 0100007F:9C41 0100007F:1F90 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000',
      '',
    ].join('\n');
    expect(parseProcNet(text, 4, 'tcp')).toEqual({
      malformed: 0,
      sockets: [
        {
          family: 4,
          protocol: 'tcp',
          state: 'LISTEN',
          srcAddr: '127.0.0.1',
          srcPort: 8080,
          dstAddr: '0.0.0.0',
          dstPort: 0,
          uid: 0,
          inode: 41234,
        },
        {
          family: 4,
          protocol: 'tcp',
          state: 'ESTABLISHED',
          srcAddr: '127.0.0.1',
          srcPort: 40000,
          dstAddr: '127.0.0.1',
          dstPort: 8080,
          uid: 1000,
          inode: 41240,
        },
        {
          family: 4,
          protocol: 'tcp',
          state: 'TIME_WAIT',
          srcAddr: '127.0.0.1',
          srcPort: 40001,
          dstAddr: '127.0.0.1',
          dstPort: 8080,
          uid: 0,
          inode: 0,
        },
      ],
    });
  });

  it('decodes IPv6 words and names unconnected UDP sockets UNCONN', () => {
    const text = [
      HEADER,
      '  10: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 777 2 0000000000000000 0',
      '  11: 0000000000000000FFFF00000100007F:D431 0000000000000000FFFF00000100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 778 2 0000000000000000 0',
    ].join('\n');
    const r = parseProcNet(text, 6, 'udp');
    expect(r.sockets.map((s) => [s.state, s.srcAddr, s.srcPort, s.dstAddr, s.dstPort, s.uid, s.inode])).toEqual([
      ['UNCONN', '::1', 53, '::', 0, 101, 777],
      ['ESTABLISHED', '::ffff:127.0.0.1', 54321, '::ffff:127.0.0.1', 53, 0, 778],
    ]);
  });

  it('counts malformed lines instead of throwing', () => {
    const text = [
      HEADER,
      '   0: 0100007F:1F9 00000000:0000 0A 0 0 0 0 0 1',
      '   1: garbage',
      '   2: 0100007F:1F90 00000000:0000 0A 0 0 0 x 0 5',
    ].join('\n');
    expect(parseProcNet(text, 4, 'tcp')).toEqual({ sockets: [], malformed: 3 });
    expect(decodeProcNetEndpoint('0100007F:1F90', 6)).toBeUndefined();
  });
});
