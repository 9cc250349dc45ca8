/**
 * `ExecutableHasher`: SHA-256 of executables, streamed from the file through `node:crypto` in small
 * chunks so the event loop keeps running, cached by file identity (device, inode, size and the change time in nanoseconds, which no
 * writer can set back the way `touch -r` sets back the mtime) so a binary is hashed once however many
 * processes run it and a rewrite in place is hashed again. It prefers `/proc/<pid>/exe`, which opens the
 * very file the process runs even when it was deleted or lives in another mount namespace. Files over
 * the size cap, hashes over the time cap, unreadable files and a full queue give an outcome with a
 * reason — never a throw. It does not decide when to hash; the source does.
 */
import { createHash } from 'node:crypto';
import { type BigIntStats, closeSync, createReadStream, fstatSync, openSync, statSync } from 'node:fs';
import { errorCode } from './proc-reader.ts';

/**
 * The cache key of a file: device, inode, size, and the inode change time and modification time in
 * nanoseconds. Every write and every `utimes` (`touch -r`) sets the change time to now, so a file
 * rewritten in place and given its old mtime back still gets a new key.
 */
function identityKey(st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.ctimeNs}:${st.mtimeNs}`;
}

/**
 * Why no hash was produced: `ERR_HASH_TOO_LARGE`, `ERR_HASH_TIMEOUT`, `ERR_PROCESS_GONE`,
 * `not_a_file`, `queue_full`, `closed`, or the file-system error code (`EACCES`, `ENOENT`, …).
 */
export type HashFailure = string;

/** A hash, or the reason there is none. */
export type HashOutcome =
  | { readonly ok: true; readonly hash: string; readonly cached: boolean }
  | { readonly ok: false; readonly reason: HashFailure };

/** Hasher limits. */
export interface ExecutableHasherOptions {
  /** Larger files are not hashed (`ERR_HASH_TOO_LARGE`). */
  readonly maxFileBytes: number;
  /** A hash taking longer is abandoned (`ERR_HASH_TIMEOUT`). */
  readonly timeoutMs: number;
  /** Files hashed at the same time (default 2). */
  readonly concurrency?: number;
  /** Hashes waiting for a slot at most; more fail with `queue_full` (default 1024). */
  readonly maxQueued?: number;
  /** Identities remembered, least recently used evicted first (default 4096). */
  readonly cacheEntries?: number;
}

/** What to hash: the process's own executable link first, else the path. */
export interface HashTarget {
  readonly pid?: number;
  readonly path?: string;
}

const CHUNK_BYTES = 256 * 1024;

/** Hashes executables with SHA-256, with a cache, a size cap, a time cap and bounded concurrency. */
export class ExecutableHasher {
  readonly #options: ExecutableHasherOptions;
  readonly #cache = new Map<string, string>();
  readonly #inflight = new Map<string, Promise<HashOutcome>>();
  readonly #waiting: Array<() => void> = [];
  #active = 0;
  #closed = false;

  constructor(options: ExecutableHasherOptions) {
    this.#options = options;
  }

  /** Number of cached identities. */
  get cacheSize(): number {
    return this.#cache.size;
  }

  /**
   * The cached hash of the target's executable, found with one synchronous `stat` (no thread-pool
   * round trip), or `undefined` when it is not cached yet. Never throws.
   */
  cached(target: HashTarget): HashOutcome | undefined {
    if (this.#closed) return undefined;
    for (const path of candidates(target)) {
      let st: BigIntStats | undefined;
      try {
        st = statSync(path, { throwIfNoEntry: false, bigint: true });
      } catch {
        continue;
      }
      if (st === undefined) continue;
      const hit = st.isFile() ? this.#cache.get(identityKey(st)) : undefined;
      return hit === undefined ? undefined : { ok: true, hash: hit, cached: true };
    }
    return undefined;
  }

  /** Hashes the target's executable. Never rejects. */
  async hash(target: HashTarget): Promise<HashOutcome> {
    if (this.#closed) return { ok: false, reason: 'closed' };
    const opened = await openFirst(target);
    if ('reason' in opened) return { ok: false, reason: opened.reason };
    const handle = opened.handle;
    let handedOff = false;
    try {
      const st = await handle.stat({ bigint: true });
      if (!st.isFile()) return { ok: false, reason: 'not_a_file' };
      const key = identityKey(st);
      const hit = this.#cache.get(key);
      if (hit !== undefined) {
        this.#cache.delete(key);
        this.#cache.set(key, hit);
        return { ok: true, hash: hit, cached: true };
      }
      if (st.size > this.#options.maxFileBytes) return { ok: false, reason: 'ERR_HASH_TOO_LARGE' };
      const running = this.#inflight.get(key);
      if (running !== undefined) return await running;
      handedOff = true;
      const job = this.#hashFile(handle, key);
      this.#inflight.set(key, job);
      try {
        return await job;
      } finally {
        this.#inflight.delete(key);
      }
    } catch (e) {
      return { ok: false, reason: errorCode(e) };
    } finally {
      if (!handedOff) await handle.close().catch(() => {});
    }
  }

  /** Stops accepting work; hashes in progress finish or time out. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const wake of this.#waiting.splice(0)) wake();
  }

  async #hashFile(handle: FileHandle, key: string): Promise<HashOutcome> {
    try {
      if (!(await this.#acquire())) return { ok: false, reason: this.#closed ? 'closed' : 'queue_full' };
      try {
        const hash = await streamHash(handle, this.#options.timeoutMs);
        if (hash === undefined) return { ok: false, reason: 'ERR_HASH_TIMEOUT' };
        this.#remember(key, hash);
        return { ok: true, hash, cached: false };
      } finally {
        this.#release();
      }
    } catch (e) {
      return { ok: false, reason: errorCode(e) };
    } finally {
      await handle.close().catch(() => {});
    }
  }

  #remember(key: string, hash: string): void {
    this.#cache.set(key, hash);
    const max = this.#options.cacheEntries ?? 4096;
    while (this.#cache.size > max) {
      const oldest = this.#cache.keys().next().value;
      if (oldest === undefined) break;
      this.#cache.delete(oldest);
    }
  }

  async #acquire(): Promise<boolean> {
    if (this.#closed) return false;
    if (this.#active < (this.#options.concurrency ?? 2)) {
      this.#active++;
      return true;
    }
    if (this.#waiting.length >= (this.#options.maxQueued ?? 1024)) return false;
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
    if (this.#closed) return false;
    this.#active++;
    return true;
  }

  #release(): void {
    this.#active--;
    this.#waiting.shift()?.();
  }
}

function candidates(target: HashTarget): string[] {
  return [
    ...(target.pid === undefined ? [] : [`/proc/${target.pid}/exe`]),
    ...(target.path === undefined ? [] : [target.path]),
  ];
}

/** An open file: its descriptor, an fstat and a close that never throws. */
interface FileHandle {
  readonly fd: number;
  stat(options: { bigint: true }): Promise<BigIntStats>;
  close(): Promise<void>;
}

/**
 * Opens `path` synchronously, on the calling thread, which keeps the collector's capabilities after a
 * privilege drop; Node's thread pool, where an asynchronous open would run, has none (another user's
 * /proc/PID/exe needs CAP_SYS_PTRACE, a root-only file CAP_DAC_READ_SEARCH). Reads of an open file need none.
 */
function openHandle(path: string): FileHandle {
  const fd = openSync(path, 'r');
  let closed = false;
  return {
    fd,
    stat: async () => fstatSync(fd, { bigint: true }),
    close: async () => {
      if (closed) return;
      closed = true;
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    },
  };
}

async function openFirst(target: HashTarget): Promise<{ handle: FileHandle } | { reason: string }> {
  let reason = 'ERR_PROCESS_GONE';
  for (const path of candidates(target)) {
    try {
      return { handle: openHandle(path) };
    } catch (e) {
      reason = errorCode(e);
    }
  }
  return { reason };
}

async function streamHash(handle: FileHandle, timeoutMs: number): Promise<string | undefined> {
  const signal = AbortSignal.timeout(timeoutMs);
  const digest = createHash('sha256');
  const stream = createReadStream('', { fd: handle.fd, start: 0, highWaterMark: CHUNK_BYTES, autoClose: false });
  const onAbort = (): void => {
    stream.destroy();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of stream) {
      if (signal.aborted) return undefined;
      digest.update(chunk as Buffer);
    }
    return signal.aborted ? undefined : digest.digest('hex');
  } catch (e) {
    if (signal.aborted) return undefined;
    throw e;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
