/**
 * Synchronous reads of the text files the kernel generates (/proc, /sys) with as few system calls as
 * the kernel allows, for scanners that read thousands of them in a row inside a worker thread. On a
 * virtual machine a system call is the dominant cost of such a scan, and Node's `fs` adds its own
 * overhead per call. Failures are returned as `-errno` rather than thrown, because a process that
 * left mid-scan is routine, not exceptional. It parses nothing.
 */
import { libc } from './internal/libc.ts';

/** A reader of kernel-generated files; each method returns text, or `-errno` on failure. */
export interface ProcfsReader {
  /** The whole file as latin1 text (one char per byte), reading until end of file. */
  readText(path: string): string | number;
  /**
   * The file as latin1 text from a single `read(2)` when it fits the buffer (64 KiB, grown as
   * needed). Only for files the kernel produces whole in one read: single-record files such as
   * `/proc/<pid>/stat`, `status`, `cgroup`, `/proc/uptime`, and `cmdline`. Multi-record files
   * (`maps`, `mounts`, `/proc/net/*`) return a page at a time: use {@link readText} for those.
   */
  readWhole(path: string): string | number;
  /** The target of a symbolic link as latin1 text. */
  readLink(path: string): string | number;
  /**
   * Like {@link readWhole}, from a descriptor held open between calls and read again from offset 0
   * with one pread(2) — one system call per read instead of three, for files re-read on every sample
   * (`/proc/<pid>/stat`). A reader created without `keepOpen` reads like `readWhole`. A held file that
   * fails (its process exited, or its pid now names another process) is closed and opened once more.
   */
  readHeld(path: string): string | number;
  /**
   * Closes the files a batching reader still holds open, and the held files not read since the
   * previous flush (processes that went away).
   */
  flush(): void;
}

/** Options of {@link createProcfsReader}. */
export interface ProcfsReaderOptions {
  /**
   * Close files in batches instead of one `close(2)` per file: up to this many stay open and are
   * then closed together, each run of consecutive descriptors by one `close_range(2)` — a third
   * fewer system calls for a reader that opens thousands of files in a row (default 0: close each
   * file at once). Call {@link ProcfsReader.flush} when done.
   */
  readonly batchClose?: number;
  /** How many files {@link ProcfsReader.readHeld} may hold open at once (default 0: none). */
  readonly keepOpen?: number;
}

const O_CLOEXEC = 0o2000000;
const EMFILE = 24;
const INITIAL_BUFFER = 64 * 1024;

/**
 * Creates a reader with its own scratch buffer (one per thread). Throws NativeError
 * `ERR_NATIVE_UNAVAILABLE` off Linux or when the FFI cannot load.
 */
export function createProcfsReader(options: ProcfsReaderOptions = {}): ProcfsReader {
  const c = libc();
  const batch = Math.max(0, Math.floor(options.batchClose ?? 0));
  let rangeClose = true;
  let open: number[] = [];
  const keepOpen = Math.max(0, Math.floor(options.keepOpen ?? 0));
  /** Held descriptors by path, and whether they were read since the last flush. */
  const held = new Map<string, { fd: number; used: boolean }>();
  const flush = (): void => {
    for (const [path, h] of held) {
      if (h.used) {
        h.used = false;
        continue;
      }
      c.close(h.fd);
      held.delete(path);
    }
    if (open.length === 0) return;
    const fds = open.sort((a, b) => a - b);
    open = [];
    // Every fd in a run of consecutive numbers is ours (still open, so no other thread holds that
    // number): one close_range per run closes nothing else.
    for (let i = 0; i < fds.length; ) {
      let j = i;
      while (j + 1 < fds.length && fds[j + 1] === (fds[j] as number) + 1) j++;
      const first = fds[i] as number;
      const last = fds[j] as number;
      i = j + 1;
      if (first < last && rangeClose) {
        if (c.closeRange(first, last) === 0) continue;
        rangeClose = false; // ENOSYS: an old kernel or libc; close one at a time from now on.
      }
      for (let fd = first; fd <= last; fd++) c.close(fd);
    }
  };
  const release = (fd: number): void => {
    if (batch === 0) {
      c.close(fd);
      return;
    }
    open.push(fd);
    if (open.length >= batch) flush();
  };
  let buf = Buffer.allocUnsafe(INITIAL_BUFFER);
  const grow = (keep: number): void => {
    const bigger = Buffer.allocUnsafe(buf.length * 2);
    buf.copy(bigger, 0, 0, keep);
    buf = bigger;
  };
  const read = (path: string, untilEof: boolean): string | number => {
    let fd = c.openRead(path, O_CLOEXEC);
    if (fd === -EMFILE && open.length > 0) {
      flush();
      fd = c.openRead(path, O_CLOEXEC);
    }
    if (fd < 0) return fd;
    let n = 0;
    try {
      for (;;) {
        if (n === buf.length) grow(n);
        const got = c.read(fd, n === 0 ? buf : buf.subarray(n));
        if (got < 0) return got;
        n += got;
        if (got === 0 || (!untilEof && n < buf.length)) break;
      }
    } finally {
      release(fd);
    }
    return buf.toString('latin1', 0, n);
  };
  const preadWhole = (fd: number): number => {
    for (;;) {
      const got = c.pread(fd, buf, 0);
      if (got < buf.length) return got;
      grow(0);
    }
  };
  const readHeld = (path: string): string | number => {
    const h = held.get(path);
    if (h !== undefined) {
      const n = preadWhole(h.fd);
      if (n >= 0) {
        h.used = true;
        return buf.toString('latin1', 0, n);
      }
      c.close(h.fd);
      held.delete(path);
    }
    if (held.size >= keepOpen) return read(path, false);
    const fd = c.openRead(path, O_CLOEXEC);
    if (fd < 0) return fd;
    const n = preadWhole(fd);
    if (n < 0) {
      c.close(fd);
      return n;
    }
    held.set(path, { fd, used: true });
    return buf.toString('latin1', 0, n);
  };
  return {
    readText: (path) => read(path, true),
    readWhole: (path) => read(path, false),
    readHeld,
    readLink(path) {
      for (;;) {
        const n = c.readlinkInto(path, buf);
        if (n < 0) return n;
        // A target that fills the buffer may be cut short: retry with a bigger one.
        if (n < buf.length) return buf.toString('latin1', 0, n);
        grow(0);
      }
    },
    flush,
  };
}
