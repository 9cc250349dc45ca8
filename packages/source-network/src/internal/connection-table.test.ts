import { describe, expect, it } from 'vitest';
import type { SocketRecord } from '../socket-record.ts';
import { ConnectionTable, connectionId } from './connection-table.ts';
import { recordBatch } from './socket-batch.ts';

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
    .update(recordBatch(records), initial)
    .changes.map((c) => [c.subtype, connectionId(c.connection), c.previousState, c.state]);
const ids = (t: ConnectionTable, records: SocketRecord[]) =>
  t.update(recordBatch(records), true).added.map(connectionId);

describe('ConnectionTable', () => {
  it('reports the first dump as added without changes, then opens, state changes and closes', () => {
    const t = new ConnectionTable();
    const first = t.update(recordBatch([tcp(80, 0, 'LISTEN', 1), tcp(80, 5000, 'ESTABLISHED', 2)]), true);
    expect(first.changes).toEqual([]);
    expect(first.added.map(connectionId)).toEqual([
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
      ['close', 'tcp4 127.0.0.1:80 127.0.0.1:5000 i2', 'CLOSE_WAIT', 'CLOSE'],
    ]);
  });

  it('closes a connection once when it enters TIME_WAIT, keeps its id and inode, and ignores unknown TIME_WAIT entries', () => {
    const t = new ConnectionTable();
    t.update(recordBatch([tcp(6000, 80, 'ESTABLISHED', 9)]), true);
    expect(summary(t, [tcp(6000, 80, 'TIME_WAIT', 0), tcp(6001, 80, 'TIME_WAIT', 0)])).toEqual([
      ['close', 'tcp4 127.0.0.1:6000 127.0.0.1:80 i9', 'ESTABLISHED', 'TIME_WAIT'],
    ]);
    const held = [...t.connections()].find((c) => c.batch.srcPort(c.row) === 6000);
    expect(held?.firstInode).toBe(9);
    expect(held?.ended).toBe(true);
    expect(summary(t, [])).toEqual([]);
    expect(t.size).toBe(0);
  });

  it('gives a reused 4-tuple with a new inode a new id: close of the old, open of the new', () => {
    const t = new ConnectionTable();
    t.update(recordBatch([tcp(7000, 80, 'ESTABLISHED', 11)]), true);
    expect(summary(t, [tcp(7000, 80, 'ESTABLISHED', 12)])).toEqual([
      ['close', 'tcp4 127.0.0.1:7000 127.0.0.1:80 i11', 'ESTABLISHED', 'CLOSE'],
      ['open', 'tcp4 127.0.0.1:7000 127.0.0.1:80 i12', undefined, 'ESTABLISHED'],
    ]);
  });

  it('keeps two listeners sharing an address (SO_REUSEPORT) apart by inode', () => {
    const t = new ConnectionTable();
    expect(ids(t, [tcp(80, 0, 'LISTEN', 1), tcp(80, 0, 'LISTEN', 2)])).toEqual([
      'tcp4 127.0.0.1:80 0.0.0.0:0 i1',
      'tcp4 127.0.0.1:80 0.0.0.0:0 i2',
    ]);
  });
});
