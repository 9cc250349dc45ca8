import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ACK_COUNTER_KEY, InFlight } from './worker-protocol.ts';

describe('InFlight', () => {
  it('counts batches in flight from the shared counter the host adds to, from another thread too', async () => {
    const acks = new Int32Array(new SharedArrayBuffer(4));
    const f = new InFlight({ [ACK_COUNTER_KEY]: acks.buffer, other: 1 });
    for (let i = 0; i < 3; i++) f.posted();
    expect(f.count()).toBe(3);
    f.acked(); // an `ack` message is not counted twice when the shared counter is there
    expect(f.count()).toBe(3);
    const host = new Worker(
      `const { workerData } = require('node:worker_threads'); Atomics.add(new Int32Array(workerData), 0, 2);`,
      { eval: true, workerData: acks.buffer },
    );
    await new Promise((r) => host.once('exit', r));
    expect(f.count()).toBe(1);
  });

  it('falls back to ack messages without a shared counter, and never counts below zero', () => {
    for (const data of [undefined, null, {}, { [ACK_COUNTER_KEY]: new ArrayBuffer(4) }]) {
      const f = new InFlight(data);
      f.posted();
      f.posted();
      f.acked();
      expect(f.count()).toBe(1);
      f.acked();
      f.acked();
      expect(f.count()).toBe(0);
    }
  });
});
