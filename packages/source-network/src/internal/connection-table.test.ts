import { describe, expect, it } from 'vitest';
import type { SocketRecord } from '../socket-record.ts';
import { ConnectionTable } from './connection-table.ts';

const tcp = (srcPort: number, dstPort: number, state: string, inode: number): SocketRecord => ({
  family: 4,
  protocol: 'tcp',
  state,
  srcAddr: '127.0.0.1',
  srcPort,
  dstAddr: dstPort === 0 ? '0.0.0.0' : '127.0.0.1',
  dstPort,
  inode,
});

const summary = (t: ConnectionTable, records: SocketRecord[], initial = false) =>
  t
    .update(records, initial)
    .changes.map((c) => [c.subtype, c.connection.id, c.previousState, c.connection.record.state]);

describe('ConnectionTable', () => {
  it('reports the first dump as added without changes, then opens, state changes and closes', () => {
    const t = new ConnectionTable();
    const first = t.update([tcp(80, 0, 'LISTEN', 1), tcp(80, 5000, 'ESTABLISHED', 2)], true);
    expect(first.changes).toEqual([]);
    expect(first.added.map((c) => c.id)).toEqual([
      'tcp4 127.0.0.1:80 0.0.0.0:0 i1',
      'tcp4 127.0.0.1:80 127.0.0.1:5000 i2',
    ]);
    expect(
      summary(t, [tcp(80, 0, 'LISTEN', 1), tcp(80, 5000, 'CLOSE_WAIT', 2), tcp(80, 5001, 'ESTABLISHED', 3)]),
    ).toEqual([
      ['state_change', 'tcp4 127.0.0.1:80 127.0.0.1:5000 i2', 'ESTABLISHED', 'CLOSE_WAIT'],
      ['open', 'tcp4 127.0.0.1:80 127.0.0.1:5001 i3', undefined, 'ESTABLISHED'],
    ]);
    expect(summary(t, [tcp(80, 0, 'LISTEN', 1), tcp(80, 5001, 'ESTABLISHED', 3)])).toEqual([
      ['close', 'tcp4 127.0.0.1:80 127.0.0.1:5000 i2', 'CLOSE_WAIT', 'CLOSE_WAIT'],
    ]);
  });

  it('closes a connection once when it enters TIME_WAIT, keeps its id and inode, and ignores unknown TIME_WAIT entries', () => {
    const t = new ConnectionTable();
    t.update([tcp(6000, 80, 'ESTABLISHED', 9)], true);
    expect(summary(t, [tcp(6000, 80, 'TIME_WAIT', 0), tcp(6001, 80, 'TIME_WAIT', 0)])).toEqual([
      ['close', 'tcp4 127.0.0.1:6000 127.0.0.1:80 i9', 'ESTABLISHED', 'TIME_WAIT'],
    ]);
    const held = [...t.connections()].find((c) => c.record.srcPort === 6000);
    expect(held?.record.inode).toBe(9);
    expect(summary(t, [])).toEqual([]);
    expect(t.size).toBe(0);
  });

  it('gives a reused 4-tuple with a new inode a new id: close of the old, open of the new', () => {
    const t = new ConnectionTable();
    t.update([tcp(7000, 80, 'ESTABLISHED', 11)], true);
    expect(summary(t, [tcp(7000, 80, 'ESTABLISHED', 12)])).toEqual([
      ['close', 'tcp4 127.0.0.1:7000 127.0.0.1:80 i11', 'ESTABLISHED', 'ESTABLISHED'],
      ['open', 'tcp4 127.0.0.1:7000 127.0.0.1:80 i12', undefined, 'ESTABLISHED'],
    ]);
  });

  it('keeps two listeners sharing an address (SO_REUSEPORT) apart by inode', () => {
    const t = new ConnectionTable();
    const added = t.update([tcp(80, 0, 'LISTEN', 1), tcp(80, 0, 'LISTEN', 2)], true).added;
    expect(added.map((c) => c.id)).toEqual(['tcp4 127.0.0.1:80 0.0.0.0:0 i1', 'tcp4 127.0.0.1:80 0.0.0.0:0 i2']);
  });
});
