/**
 * `BinaryHasherCollector`: answers `BinaryHash` trigger requests with the SHA-256 of the target file —
 * the request's `targetPath`, or, when that cannot be opened (deleted, another mount namespace), the
 * running image through `/proc/<pid>/exe`. The file is read in 1 MiB chunks, never whole; a file larger than
 * the request's `max_input_bytes` is refused, and the request's time limit aborts the read. The result
 * `data` holds `sha256`, `path` (what was hashed), `size` and `algorithm`.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { type AnalysisResultEvent, CollectionEvent, describeError, type TriggerRequestEvent } from '@daemoneye/core';
import type { TriggerableCollector } from './analysis-collector.ts';
import { DEFAULT_RESOURCE_LIMITS } from './condition.ts';

async function sha256(path: string, maxBytes: number, signal: AbortSignal): Promise<{ sha256: string; size: number }> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size > maxBytes) throw new Error(`${path} is ${size} bytes, more than the limit of ${maxBytes}`);
    const hash = createHash('sha256');
    // A plain read loop, not a stream with the signal: a stream keeps listening to the signal after it
    // ended, and an abort at shutdown would then raise an error nobody listens to.
    const buf = Buffer.allocUnsafe(1 << 20);
    let read = 0;
    for (;;) {
      signal.throwIfAborted();
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      read += bytesRead;
      if (read > maxBytes) throw new Error(`${path} grew beyond the limit of ${maxBytes} bytes`);
      hash.update(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
    }
    return { sha256: hash.digest('hex'), size: read };
  } finally {
    await handle.close();
  }
}

/** The binary hasher. */
export class BinaryHasherCollector implements TriggerableCollector {
  readonly analysisTypes = ['BinaryHash'] as const;
  readonly #name: string;

  constructor(options: { name?: string } = {}) {
    this.#name = options.name ?? 'binary-hasher';
  }

  name(): string {
    return this.#name;
  }

  async analyze(request: TriggerRequestEvent, signal: AbortSignal): Promise<AnalysisResultEvent> {
    const limit = Number(request.metadata.max_input_bytes);
    const maxBytes = Number.isInteger(limit) && limit > 0 ? limit : DEFAULT_RESOURCE_LIMITS.maxInputBytes;
    const candidates = [
      ...(request.targetPath !== undefined ? [request.targetPath] : []),
      ...(request.targetPid !== undefined ? [`/proc/${request.targetPid}/exe`] : []),
    ];
    const errors: string[] = [];
    for (const path of candidates) {
      if (signal.aborted) break;
      try {
        const { sha256: digest, size } = await sha256(path, maxBytes, signal);
        return CollectionEvent.analysisResult({
          analysisType: 'BinaryHash',
          triggerId: request.triggerId,
          correlationId: request.correlationId,
          success: true,
          data: { sha256: digest, algorithm: 'sha256', path, size },
        });
      } catch (e) {
        errors.push(`${path}: ${describeError(e)}`);
      }
    }
    const code = signal.aborted ? 'ERR_ANALYSIS_TIMEOUT' : 'ERR_ANALYSIS_FAILED';
    return CollectionEvent.analysisResult({
      analysisType: 'BinaryHash',
      triggerId: request.triggerId,
      correlationId: request.correlationId,
      success: false,
      error: `${code}: ${errors.join('; ') || 'aborted'}`,
      data: { paths: candidates },
    });
  }
}
