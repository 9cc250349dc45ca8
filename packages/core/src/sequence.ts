/**
 * Sequence numbers that stay unique on a host across restarts. With a data directory, the allocator
 * keeps a persisted high-water mark in `<dataDir>/sequence.json`: it reserves numbers in blocks,
 * writing the end of a block (to a temporary file, fsync, rename) before handing out any number in
 * it, so a restart — even after a crash or `kill -9` — resumes above every number ever used. Without a
 * data directory numbers start at 1 and are unique within the run's id. It hands out numbers; it does
 * not know about events.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CollectorError } from './errors.ts';

/** Numbers reserved per write of the high-water mark. */
export const SEQUENCE_BLOCK = 1_000_000;

/** The file, inside the data directory, that holds the high-water mark. */
export const SEQUENCE_FILE = 'sequence.json';

/** Hands out consecutive sequence numbers. */
export class SequenceAllocator {
  readonly runId: string = randomUUID();
  readonly #file: string | undefined;
  #next: number;
  #reserved: number;
  #persistError: string | undefined;

  /**
   * Opens the high-water mark in `dataDir` (created if missing). Throws `ERR_DATA_DIR` when the
   * directory or the file cannot be read or written, or the file does not hold a high-water mark.
   */
  constructor(dataDir?: string) {
    if (dataDir === undefined) {
      this.#file = undefined;
      this.#next = 1;
      this.#reserved = Number.MAX_SAFE_INTEGER;
      return;
    }
    this.#file = join(dataDir, SEQUENCE_FILE);
    try {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    } catch (cause) {
      throw new CollectorError('ERR_DATA_DIR', `cannot create data directory ${dataDir}: ${(cause as Error).message}`, {
        cause,
        details: { dataDir },
      });
    }
    this.#next = this.#readMark();
    this.#reserved = this.#next;
    this.#reserve(this.#next + SEQUENCE_BLOCK, true);
  }

  #readMark(): number {
    const file = this.#file as string;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return 1;
      throw new CollectorError('ERR_DATA_DIR', `cannot read ${file}: ${(cause as Error).message}`, { cause });
    }
    let next: unknown;
    try {
      next = (JSON.parse(text) as { next?: unknown }).next;
    } catch {
      next = undefined;
    }
    if (typeof next !== 'number' || !Number.isSafeInteger(next) || next < 1) {
      throw new CollectorError('ERR_DATA_DIR', `${file} does not hold a sequence high-water mark`, {
        details: { file },
      });
    }
    return next;
  }

  #reserve(end: number, fatal: boolean): void {
    const file = this.#file as string;
    const tmp = `${file}.tmp`;
    try {
      const fd = openSync(tmp, 'w', 0o600);
      try {
        writeSync(fd, `${JSON.stringify({ next: end })}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, file);
      this.#reserved = end;
      this.#persistError = undefined;
    } catch (cause) {
      const message = `cannot write ${file}: ${(cause as Error).message}`;
      if (fatal) throw new CollectorError('ERR_DATA_DIR', message, { cause, details: { file } });
      // Keep numbering in memory; the numbers stay unique for this run (runId) and health says why.
      this.#persistError = message;
      this.#reserved = Math.max(this.#reserved, this.#next + SEQUENCE_BLOCK);
    }
  }

  /** Reserves `n` consecutive numbers and returns the first. */
  take(n: number): number {
    const first = this.#next;
    this.#next += n;
    if (this.#next > this.#reserved) this.#reserve(this.#next + SEQUENCE_BLOCK, false);
    return first;
  }

  /** The next number that will be handed out. */
  get next(): number {
    return this.#next;
  }

  /** Why the high-water mark could not be persisted last time, if it could not. */
  get persistError(): string | undefined {
    return this.#persistError;
  }

  /** True when numbers are unique across restarts (a data directory is in use). */
  get persistent(): boolean {
    return this.#file !== undefined;
  }
}
