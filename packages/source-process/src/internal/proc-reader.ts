/**
 * The `ProcReader` port: the only way the scanner touches the file system (read a file, read a link,
 * stat a path, list a directory), synchronously, because a /proc scan runs inside a worker thread
 * where synchronous reads are several times faster than promise-based ones. Tests pass a reader over
 * recorded fixtures; production uses `loadFastProcReader()` (the native procfs reader) and falls back
 * to `nodeProcReader`. It does no parsing.
 */
import { closeSync, openSync, readdirSync, readlinkSync, readSync, statSync } from 'node:fs';
import { getSystemErrorName } from 'node:util';

/** The parts of a file's metadata the source uses. */
export interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}

/**
 * Synchronous file-system access. Every method throws an error carrying a Node `code` (`ENOENT`,
 * `EACCES`, `ESRCH`, …) on failure; callers turn those into per-field values.
 */
export interface ProcReader {
  /**
   * The file's content as latin1 text (bytes map 1:1 to chars). The scanner reads single-record
   * procfs files with it (`/proc/<pid>/stat`, `status`, `cmdline`, `cgroup`, `/proc/uptime`,
   * `/proc/stat`) and the passwd file.
   */
  readFile(path: string): string;
  /** The target of a symbolic link. */
  readlink(path: string): string;
  /** Metadata of the file at `path`, following links. */
  stat(path: string): FileIdentity;
  /** Names in a directory. */
  readdir(path: string): string[];
  /**
   * Names of the subdirectories of a directory. Optional: with it, a large scan learns every
   * process's cgroup from one walk of the cgroup file systems instead of one read per process.
   */
  listDirectories?(path: string): string[];
  /** Releases what the reader holds between reads (open files closed in batches); optional. */
  flush?(): void;
}

/** /proc files the kernel generates as one record, whole in a single read of a large enough buffer. */
const SINGLE_RECORD = new Set(['stat', 'status', 'cmdline', 'cgroup', 'uptime', 'comm', 'statm', 'io']);

/** True for `/proc/…/<name>` where the kernel produces `<name>` whole in one read. */
function singleRecord(path: string): boolean {
  return path.startsWith('/proc/') && SINGLE_RECORD.has(path.slice(path.lastIndexOf('/') + 1));
}

let scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * Reads a whole file into a reused buffer: procfs files report size 0, and open + read + close
 * without the fstat and allocations of `readFileSync` is about three times faster on /proc. The
 * kernel produces a single-record /proc file whole in one read, so for those a read that leaves the
 * buffer unfilled ends the file (one `read` less per file); other files are read to the end.
 */
function readWhole(path: string): string {
  const oneRead = singleRecord(path);
  const fd = openSync(path, 'r');
  try {
    let n = 0;
    for (;;) {
      if (n === scratch.length) {
        const bigger = Buffer.allocUnsafe(scratch.length * 2);
        scratch.copy(bigger, 0, 0, n);
        scratch = bigger;
      }
      const got = readSync(fd, scratch, n, scratch.length - n, null);
      if (got === 0) break;
      n += got;
      if (oneRead && n < scratch.length) break;
    }
    return scratch.toString('latin1', 0, n);
  } finally {
    closeSync(fd);
  }
}

/** A {@link ProcReader} over the real file system. */
export const nodeProcReader: Required<ProcReader> = {
  readFile: readWhole,
  readlink: (path) => readlinkSync(path, 'latin1'),
  stat: (path) => {
    const s = statSync(path);
    return { dev: s.dev, ino: s.ino, size: s.size, mtimeMs: s.mtimeMs };
  },
  readdir: (path) => readdirSync(path),
  listDirectories: (path) =>
    readdirSync(path, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name),
  flush: () => {},
};

/** Files a fast reader keeps open before closing them together (see `ProcfsReaderOptions`). */
const BATCH_CLOSE = 96;

/**
 * A {@link ProcReader} over `@daemoneye/native`'s procfs reader: one `open` and one `read` per file
 * through the FFI, with the files closed in batches by `close_range` (call `flush` after a scan). Falls back
 * to {@link nodeProcReader} when the native package or its FFI cannot load (off Linux, say). Failures
 * throw errors with the errno's name as `code`, as `fs` does.
 */
export async function loadFastProcReader(): Promise<ProcReader> {
  let proc: import('@daemoneye/native').ProcfsReader;
  try {
    const native = await import('@daemoneye/native');
    proc = native.createProcfsReader({ batchClose: BATCH_CLOSE });
  } catch {
    return nodeProcReader;
  }
  return {
    readFile: (path) => textOrThrow(singleRecord(path) ? proc.readWhole(path) : proc.readText(path), path),
    readlink: (path) => textOrThrow(proc.readLink(path), path),
    stat: nodeProcReader.stat,
    readdir: nodeProcReader.readdir,
    listDirectories: nodeProcReader.listDirectories,
    flush: () => proc.flush(),
  };
}

/** `result` when it is text; for `-errno`, throws an error with the errno's name as `code`, as `fs` does. */
function textOrThrow(result: string | number, path: string): string {
  if (typeof result === 'string') return result;
  const code = getSystemErrorName(result);
  throw Object.assign(new Error(`${code}: ${path}`), { code });
}

/**
 * A reader that answers `<dir><name>` from `captured` (files read earlier: text, or `-errno` when
 * that read failed, thrown here as an error with the errno's name as `code`) and reads everything
 * else through `base`.
 */
export function capturedProcReader(
  base: ProcReader,
  dir: string,
  captured: Readonly<Record<string, string | number>>,
): ProcReader {
  const answer = (path: string, read: (path: string) => string): string => {
    const value = path.startsWith(dir) ? captured[path.slice(dir.length)] : undefined;
    return value === undefined ? read(path) : textOrThrow(value, path);
  };
  return {
    readFile: (path) => answer(path, (p) => base.readFile(p)),
    readlink: (path) => answer(path, (p) => base.readlink(p)),
    stat: (path) => base.stat(path),
    readdir: (path) => base.readdir(path),
    flush: () => base.flush?.(),
  };
}

/** The `code` of a thrown file-system error (`'EUNKNOWN'` when it has none). */
export function errorCode(e: unknown): string {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string') return e.code;
  return 'EUNKNOWN';
}

/** Text read as latin1 back to UTF-8 (paths and arguments are bytes; most are UTF-8). */
export function latin1ToUtf8(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII fast path
  return /^[\x00-\x7f]*$/.test(text) ? text : Buffer.from(text, 'latin1').toString('utf8');
}
