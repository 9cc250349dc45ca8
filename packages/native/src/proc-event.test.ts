import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  decodeProcConnectorDatagram,
  decodeWaitStatus,
  encodeProcConnectorControl,
  type ProcConnectorAck,
  type ProcConnectorEvent,
} from './proc-event.ts';

const fixture = JSON.parse(readFileSync(new URL('./__fixtures__/proc-connector.json', import.meta.url), 'utf8')) as {
  datagrams: string[];
};

function decodeAll(hexes: readonly string[]): (ProcConnectorEvent | ProcConnectorAck)[] {
  const out: (ProcConnectorEvent | ProcConnectorAck)[] = [];
  for (const h of hexes) {
    const b = Buffer.from(h, 'hex');
    decodeProcConnectorDatagram(b, b.length, out);
  }
  return out;
}

describe('decodeProcConnectorDatagram', () => {
  it('decodes recorded kernel datagrams into typed events', () => {
    expect(decodeAll(fixture.datagrams)).toEqual([
      { type: 'ack', err: 0 },
      { type: 'fork', timestampNs: 510164346847n, parentPid: 6427, parentTgid: 6427, childPid: 6438, childTgid: 6438 },
      { type: 'exec', timestampNs: 510166484759n, pid: 6438, tgid: 6438 },
      { type: 'comm', timestampNs: 510168064255n, pid: 6438, tgid: 6438, comm: 'renamed\n' },
      { type: 'fork', timestampNs: 510169024681n, parentPid: 6438, parentTgid: 6438, childPid: 6439, childTgid: 6439 },
      { type: 'exec', timestampNs: 510170052373n, pid: 6439, tgid: 6439 },
      { type: 'uid', timestampNs: 510174541861n, pid: 6439, tgid: 6439, ruid: 65534, euid: 65534 },
      { type: 'exec', timestampNs: 510175653793n, pid: 6439, tgid: 6439 },
      {
        type: 'exit',
        timestampNs: 510176954622n,
        pid: 6439,
        tgid: 6439,
        exitCode: 0,
        termSignal: 0,
        exitSignal: 17,
        status: 0,
        parentPid: 6438,
        parentTgid: 6438,
      },
      {
        type: 'exit',
        timestampNs: 510177351984n,
        pid: 6438,
        tgid: 6438,
        exitCode: 137,
        termSignal: 9,
        exitSignal: 17,
        status: 9,
        parentPid: 6427,
        parentTgid: 6427,
      },
    ]);
  });

  it('decodes several messages packed in one datagram', () => {
    const joined = Buffer.concat(fixture.datagrams.slice(1, 3).map((h) => Buffer.from(h, 'hex')));
    const out: (ProcConnectorEvent | ProcConnectorAck)[] = [];
    decodeProcConnectorDatagram(joined, joined.length, out);
    expect(out.map((e) => e.type)).toEqual(['fork', 'exec']);
  });

  it('skips truncated input and foreign connector messages without throwing', () => {
    const b = Buffer.from(fixture.datagrams[1] ?? '', 'hex');
    const out: (ProcConnectorEvent | ProcConnectorAck)[] = [];
    decodeProcConnectorDatagram(b, b.length - 10, out);
    decodeProcConnectorDatagram(b, 7, out);
    const foreign = Buffer.from(b);
    foreign.writeUInt32LE(5, 16); // another connector index
    decodeProcConnectorDatagram(foreign, foreign.length, out);
    expect(out).toEqual([]);
  });

  it('skips event kinds it does not surface (gid)', () => {
    const b = Buffer.from(fixture.datagrams[6] ?? '', 'hex');
    b.writeUInt32LE(0x40, 16 + 20); // PROC_EVENT_GID
    const out: (ProcConnectorEvent | ProcConnectorAck)[] = [];
    decodeProcConnectorDatagram(b, b.length, out);
    expect(out).toEqual([]);
  });
});

describe('decodeWaitStatus', () => {
  it('decodes normal exits and signals', () => {
    expect(decodeWaitStatus(7 << 8)).toEqual({ exitCode: 7, termSignal: 0 });
    expect(decodeWaitStatus(9)).toEqual({ exitCode: 137, termSignal: 9 });
    expect(decodeWaitStatus(0x80 | 11)).toEqual({ exitCode: 139, termSignal: 11 });
  });
});

describe('encodeProcConnectorControl', () => {
  it('encodes the listen message the kernel expects', () => {
    expect(encodeProcConnectorControl('listen', 42).toString('hex')).toBe(
      '2800000003000000000000002a000000010000000100000000000000000000000400000001000000',
    );
  });
});
