import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SheddingController, SheddingLevel, silentLogger } from '@daemoneye/core';
import { RecordingSender } from '@daemoneye/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { EventPublisher } from './event-publisher.ts';
import { ExecutableHasher } from './exe-hasher.ts';

const hashers: ExecutableHasher[] = [];
afterEach(() => {
  for (const h of hashers.splice(0)) h.close();
});

describe('EventPublisher.hash', () => {
  it('does not hash while the collector sheds load, and hashes again once it stops', async () => {
    const hasher = new ExecutableHasher({ maxFileBytes: 512 * 2 ** 20, timeoutMs: 10_000 });
    hashers.push(hasher);
    const shedding = new SheddingController();
    const publisher = new EventPublisher({ tx: new RecordingSender(), hasher, logger: silentLogger, shedding });
    const target = { path: '/bin/sh' };
    const expected = createHash('sha256').update(readFileSync('/bin/sh')).digest('hex');
    shedding.set(SheddingLevel.Shed, 'CPU over budget');
    expect(await publisher.hash(target)).toBeUndefined();
    shedding.set(SheddingLevel.None);
    expect(await publisher.hash(target)).toMatchObject({ ok: true, hash: expected });
  });
});
