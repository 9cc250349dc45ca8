import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AnalysisResultEvent, batchOf, CollectionEvent, type DerivedEventSender } from '@daemoneye/core';
import { describe, expect, it } from 'vitest';
import { AnalysisCollectorProcessor } from './analysis-collector.ts';
import { BinaryHasherCollector } from './binary-hasher.ts';

const dir = mkdtempSync(join(tmpdir(), 'de-hash-'));
const file = join(dir, 'payload.bin');
writeFileSync(file, Buffer.from(Array.from({ length: 3_000_000 }, (_, i) => (i * 7) & 0xff)));

const request = (extra: Partial<Parameters<typeof CollectionEvent.triggerRequest>[0]>) =>
  CollectionEvent.triggerRequest({
    triggerId: 't',
    targetCollector: 'binary-hasher',
    analysisType: 'BinaryHash',
    priority: 2,
    correlationId: 'corr-1',
    ...extra,
  });

function run(requests: ReturnType<typeof request>[]) {
  const out: AnalysisResultEvent[] = [];
  const tx: DerivedEventSender = {
    emit: (e) => {
      out.push(e as AnalysisResultEvent);
      return true;
    },
  };
  const p = new AnalysisCollectorProcessor(new BinaryHasherCollector());
  p.process(batchOf(requests), tx);
  return p.idle().then(() => ({ out, stats: p.stats() }));
}

describe('BinaryHasherCollector', () => {
  it('answers with the SHA-256 that sha256sum computes', async () => {
    const expected = execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0];
    const { out } = await run([request({ targetPath: file })]);
    expect(out).toEqual([
      expect.objectContaining({
        kind: 'analysis_result',
        analysisType: 'BinaryHash',
        triggerId: 't',
        correlationId: 'corr-1',
        success: true,
        data: { sha256: expected, algorithm: 'sha256', path: file, size: 3_000_000 },
      }),
    ]);
  });

  it('hashes the running image through /proc/<pid>/exe when the path is gone', async () => {
    const expected = execFileSync('sha256sum', [process.execPath], { encoding: 'utf8' }).split(' ')[0];
    const { out } = await run([request({ targetPath: join(dir, 'deleted'), targetPid: process.pid })]);
    expect(out[0]?.data).toMatchObject({ sha256: expected, path: `/proc/${process.pid}/exe` });
  });

  it('answers a failure for a missing file or one over the size limit, and ignores other collectors', async () => {
    const { out, stats } = await run([
      request({ targetPath: join(dir, 'nope') }),
      request({ targetPath: file, metadata: { max_input_bytes: '1000' } }),
      request({ targetPath: file, targetCollector: 'yara' }),
    ]);
    expect(out.map((r) => [r.success, r.error?.split(':')[0]])).toEqual([
      [false, 'ERR_ANALYSIS_FAILED'],
      [false, 'ERR_ANALYSIS_FAILED'],
    ]);
    expect(out[0]?.error).toContain('ENOENT');
    expect(out[1]?.error).toContain('is 3000000 bytes, more than the limit of 1000');
    expect(stats).toMatchObject({ received: 2, succeeded: 0, failed: 2 });
  });
});

describe('AnalysisCollectorProcessor.close', () => {
  it('aborts while files are being hashed and after, without an unhandled error', async () => {
    const errors: unknown[] = [];
    const onError = (e: unknown) => errors.push(e);
    process.on('uncaughtException', onError);
    try {
      const out: AnalysisResultEvent[] = [];
      const p = new AnalysisCollectorProcessor(new BinaryHasherCollector(), { concurrency: 1 });
      const tx: DerivedEventSender = { emit: (e) => out.push(e as AnalysisResultEvent) > 0 };
      p.process(batchOf([request({ targetPath: file }), request({ targetPath: file, correlationId: 'corr-2' })]), tx);
      await p.idle();
      p.process(batchOf([request({ targetPath: file, correlationId: 'corr-3' })]), tx);
      await p.close();
      await new Promise((r) => setTimeout(r, 50));
      expect(errors).toEqual([]);
      expect(out.slice(0, 2).map((r) => r.success)).toEqual([true, true]);
      expect(p.stats().running).toBe(0);
    } finally {
      process.off('uncaughtException', onError);
    }
  });
});
