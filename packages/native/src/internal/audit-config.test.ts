import { describe, expect, it } from 'vitest';
import { decodeAuditStatus } from './audit-config.ts';

/** A struct audit_status of `size` bytes with each u32 field set to its index + 1. */
function status(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let off = 0; off + 4 <= size; off += 4) b.writeUInt32LE(off / 4 + 1, off);
  return b;
}

describe('decodeAuditStatus', () => {
  it('reads every field of a 5.9+ kernel, the total backlog wait included', () => {
    expect(decodeAuditStatus(status(44))).toEqual({
      enabled: 2,
      failure: 3,
      pid: 4,
      backlogLimit: 6,
      lost: 7,
      backlog: 8,
      backlogWaitTime: 10,
      backlogWaitTimeActual: 11,
    });
  });

  it('leaves out what an older kernel does not send, and refuses a reply shorter than the backlog field', () => {
    expect(decodeAuditStatus(status(40))).toMatchObject({ backlogWaitTime: 10 });
    expect(decodeAuditStatus(status(40))).not.toHaveProperty('backlogWaitTimeActual');
    expect(decodeAuditStatus(status(32))).not.toHaveProperty('backlogWaitTime');
    expect(decodeAuditStatus(status(28))).toBeUndefined();
  });
});
