/**
 * The one place that touches the FFI: loads koffi and libc lazily on first use (never at import
 * time, so importing the package off Linux does not throw) and exposes typed wrappers for the few
 * system calls this package needs. Every wrapper returns the kernel's result, or `-errno` on failure,
 * like a raw system call; turning failures into errors is the caller's business.
 */
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { NativeError } from '../native-error.ts';

type Koffi = typeof import('koffi');

/** Typed system call wrappers; each returns a non-negative result or `-errno`. */
export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Buffer): number;
  send(fd: number, buf: Buffer, flags: number): number;
  recv(fd: number, buf: Buffer, flags: number): number;
  read(fd: number, buf: Buffer): number;
  /** pread(2) into `buf` from file offset `offset`. */
  pread(fd: number, buf: Buffer, offset: number): number;
  /** open(2) of `path` for reading with `flags` added to O_RDONLY; returns the fd or `-errno`. */
  openRead(path: string, flags: number): number;
  close(fd: number): number;
  /** close_range(2) of `first`..`last` inclusive; returns 0 or `-errno`. */
  closeRange(first: number, last: number): number;
  /** poll(2) on one fd for POLLIN; returns the revents bits, 0 on timeout, or `-errno`. */
  pollIn(fd: number, timeoutMs: number): number;
  /**
   * poll(2) for input on `fd` and on the wake-up `wakeFd` together: the revents of `fd`, plus
   * {@link WOKEN} when `wakeFd` became readable (its counter is then drained); `-errno` on failure.
   */
  pollWake(fd: number, wakeFd: number, timeoutMs: number): number;
  /** eventfd(2); returns the fd or `-errno`. */
  eventfd(initval: number, flags: number): number;
  /** Adds 1 to an eventfd's counter, waking a poller. */
  wake(fd: number): number;
  setsockoptInt(fd: number, level: number, name: number, value: number): number;
  getsockoptInt(fd: number, level: number, name: number): number;
  /** getsockopt(2) into `out`; returns the length the kernel wrote or `-errno`. */
  getsockopt(fd: number, level: number, name: number, out: Buffer): number;
  inotifyInit1(flags: number): number;
  inotifyAddWatch(fd: number, path: string, mask: number): number;
  inotifyRmWatch(fd: number, wd: number): number;
  fanotifyInit(flags: number, eventFlags: number): number;
  fanotifyMark(fd: number, flags: number, mask: bigint, path: string): number;
  /** open_by_handle_at(2) of a `struct file_handle` (handle_bytes, handle_type, f_handle) under `mountFd`; returns the fd or `-errno`. */
  openByHandleAt(mountFd: number, handle: Buffer, flags: number): number;
  /** fstatfs(2): the filesystem id (`f_fsid`, 8 bytes) of the filesystem `fd` is on, as hex, or `-errno`. */
  fsid(fd: number): string | number;
  /** readlink(2) of `path`, or undefined when it fails. */
  readlink(path: string): string | undefined;
  /** readlink(2) of `path` into `out`; returns the target's length in bytes or `-errno`. */
  readlinkInto(path: string, out: Buffer): number;
  /** prctl(2) with one argument (the others 0); returns its result or `-errno`. */
  prctl(option: number, arg: number): number;
  /** capget(2) of the calling thread: the effective, permitted and inheritable sets as bit masks, or `-errno`. */
  capget(): { effective: bigint; permitted: bigint; inheritable: bigint } | number;
  /** capset(2) of the calling thread; returns 0 or `-errno`. */
  capset(effective: bigint, permitted: bigint, inheritable: bigint): number;
  /**
   * The raw setresuid(2)/setresgid(2) system calls for the calling thread only (glibc's wrappers
   * change every thread of the process); return 0 or `-errno`.
   */
  setresuidThread(uid: number): number;
  setresgidThread(gid: number): number;
  /**
   * execve(2): replaces the process image with `path` run with `argv` and the `NAME=value` strings of
   * `env`. Returns only on failure, with `-errno`.
   */
  execve(path: string, argv: readonly string[], env: readonly string[]): number;
  /** Clears FD_CLOEXEC of `fd` (fcntl F_SETFD), so an execve keeps it open; returns 0 or `-errno`. */
  keepOnExec(fd: number): number;
  /** The password database entry of a user name or uid (NSS included), or undefined when there is none. */
  getpw(user: string | number): { name: string; uid: number; gid: number; dir: string } | undefined;
}

type Raw = (...args: unknown[]) => unknown;

const ENOSYS = 38;

/** Flag in {@link Libc.pollWake}'s result: the wake-up fd fired. */
export const WOKEN = 0x10000;

let cached: Libc | undefined;
let loadError: NativeError | undefined;

function bindLibc(k: Koffi, lib: ReturnType<Koffi['load']>): Libc {
  const fn = (decl: string): Raw => lib.func(decl) as Raw;
  const call = (f: Raw, ...args: unknown[]): number => {
    const r = Number(f(...args));
    return r < 0 ? -k.errno() : r;
  };
  const socket = fn('int socket(int, int, int)');
  const bindFn = fn('int bind(int, const void *, uint32_t)');
  const send = fn('intptr_t send(int, const void *, size_t, int)');
  const recv = fn('intptr_t recv(int, void *, size_t, int)');
  const read = fn('intptr_t read(int, void *, size_t)');
  const pread = fn('intptr_t pread(int, void *, size_t, int64_t)');
  const close = fn('int close(int)');
  const open = fn('int open(const char *, int)');
  // close_range is in glibc 2.34 and later: without it, callers close one fd at a time.
  let closeRange: Raw | undefined;
  try {
    closeRange = fn('int close_range(unsigned int, unsigned int, int)');
  } catch {
    closeRange = undefined;
  }
  const poll = fn('int poll(void *, unsigned long, int)');
  const eventfd = fn('int eventfd(unsigned int, int)');
  const write = fn('intptr_t write(int, const void *, size_t)');
  const setsockopt = fn('int setsockopt(int, int, int, const void *, uint32_t)');
  const getsockopt = fn('int getsockopt(int, int, int, void *, void *)');
  const inotifyInit1 = fn('int inotify_init1(int)');
  const inotifyAddWatch = fn('int inotify_add_watch(int, const char *, uint32_t)');
  const inotifyRmWatch = fn('int inotify_rm_watch(int, int)');
  const fanotifyInit = fn('int fanotify_init(unsigned int, unsigned int)');
  const fanotifyMark = fn('int fanotify_mark(int, unsigned int, uint64_t, int, const char *)');
  const readlink = fn('intptr_t readlink(const char *, void *, size_t)');
  const openByHandleAt = fn('int open_by_handle_at(int, const void *, int)');
  const fstatfs = fn('int fstatfs(int, void *)');
  const prctl = fn('int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long)');
  const capget = fn('int capget(void *, void *)');
  const capset = fn('int capset(void *, void *)');
  const syscall = fn('long syscall(long, ...)');
  const execve = fn('int execve(const char *, const char **, const char **)');
  const fcntl = fn('int fcntl(int, int, ...)');
  const Passwd = k.struct({
    pw_name: 'const char *',
    pw_passwd: 'const char *',
    pw_uid: 'uint32_t',
    pw_gid: 'uint32_t',
    pw_gecos: 'const char *',
    pw_dir: 'const char *',
    pw_shell: 'const char *',
  });
  const getpwnam = fn('void *getpwnam(const char *)');
  const getpwuid = fn('void *getpwuid(uint32_t)');
  // _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set.
  const capHeader = (): Buffer => {
    const h = Buffer.alloc(8);
    h.writeUInt32LE(0x20080522, 0);
    return h;
  };
  const capWords = Buffer.alloc(24);
  const lo = (v: bigint): number => Number(v & 0xffffffffn);
  const hi = (v: bigint): number => Number((v >> 32n) & 0xffffffffn);
  const word = (set: number): bigint =>
    BigInt(capWords.readUInt32LE(set * 4)) | (BigInt(capWords.readUInt32LE(12 + set * 4)) << 32n);
  const SYS_SETRESUID = process.arch === 'arm64' ? 147 : 117;
  const SYS_SETRESGID = process.arch === 'arm64' ? 149 : 119;
  // struct statfs on 64-bit Linux: seven 8-byte fields, then f_fsid (two 32-bit words) at 56.
  const statfsBuf = Buffer.alloc(128);
  const getsockoptRaw = (fd: number, level: number, name: number, out: Buffer): number => {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(out.length);
    const r = call(getsockopt, fd, level, name, out, len);
    return r < 0 ? r : len.readUInt32LE(0);
  };
  const pfd = Buffer.alloc(8);
  const pfd2 = Buffer.alloc(16);
  const counter = Buffer.alloc(8);
  const one = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]);
  const linkBuf = Buffer.alloc(4096);
  return {
    socket: (d, t, p) => call(socket, d, t, p),
    bind: (fd, addr) => call(bindFn, fd, addr, addr.length),
    send: (fd, buf, flags) => call(send, fd, buf, buf.length, flags),
    recv: (fd, buf, flags) => call(recv, fd, buf, buf.length, flags),
    read: (fd, buf) => call(read, fd, buf, buf.length),
    pread: (fd, buf, offset) => call(pread, fd, buf, buf.length, offset),
    openRead: (path, flags) => call(open, path, flags),
    close: (fd) => call(close, fd),
    closeRange: (first, last) => (closeRange === undefined ? -ENOSYS : call(closeRange, first, last, 0)),
    pollIn(fd, timeoutMs) {
      pfd.writeInt32LE(fd, 0);
      pfd.writeInt16LE(1, 4);
      pfd.writeInt16LE(0, 6);
      const r = call(poll, pfd, 1, timeoutMs);
      return r <= 0 ? r : pfd.readUInt16LE(6);
    },
    pollWake(fd, wakeFd, timeoutMs) {
      pfd2.writeInt32LE(fd, 0);
      pfd2.writeInt16LE(1, 4);
      pfd2.writeInt16LE(0, 6);
      pfd2.writeInt32LE(wakeFd, 8);
      pfd2.writeInt16LE(1, 12);
      pfd2.writeInt16LE(0, 14);
      const r = call(poll, pfd2, 2, timeoutMs);
      if (r <= 0) return r;
      const woken = pfd2.readUInt16LE(14) !== 0;
      if (woken) call(read, wakeFd, counter, 8);
      return pfd2.readUInt16LE(6) | (woken ? WOKEN : 0);
    },
    eventfd: (initval, flags) => call(eventfd, initval, flags),
    wake: (fd) => call(write, fd, one, 8),
    setsockoptInt(fd, level, name, value) {
      const v = Buffer.alloc(4);
      v.writeInt32LE(value | 0);
      return call(setsockopt, fd, level, name, v, 4);
    },
    getsockoptInt(fd, level, name) {
      const v = Buffer.alloc(4);
      const r = getsockoptRaw(fd, level, name, v);
      return r < 0 ? r : v.readInt32LE(0);
    },
    getsockopt: getsockoptRaw,
    inotifyInit1: (flags) => call(inotifyInit1, flags),
    inotifyAddWatch: (fd, path, mask) => call(inotifyAddWatch, fd, path, mask >>> 0),
    inotifyRmWatch: (fd, wd) => call(inotifyRmWatch, fd, wd),
    fanotifyInit: (flags, eventFlags) => call(fanotifyInit, flags, eventFlags),
    fanotifyMark: (fd, flags, mask, path) => call(fanotifyMark, fd, flags, mask, -100, path),
    openByHandleAt: (mountFd, handle, flags) => call(openByHandleAt, mountFd, handle, flags),
    fsid(fd) {
      const r = call(fstatfs, fd, statfsBuf);
      return r < 0 ? r : statfsBuf.toString('hex', 56, 64);
    },
    readlink(path) {
      const n = call(readlink, path, linkBuf, linkBuf.length);
      return n < 0 ? undefined : linkBuf.toString('utf8', 0, n);
    },
    readlinkInto: (path, out) => call(readlink, path, out, out.length),
    prctl: (option, arg) => call(prctl, option, arg, 0, 0, 0),
    capget() {
      const r = call(capget, capHeader(), capWords);
      return r < 0 ? r : { effective: word(0), permitted: word(1), inheritable: word(2) };
    },
    capset(effective, permitted, inheritable) {
      capWords.writeUInt32LE(lo(effective), 0);
      capWords.writeUInt32LE(lo(permitted), 4);
      capWords.writeUInt32LE(lo(inheritable), 8);
      capWords.writeUInt32LE(hi(effective), 12);
      capWords.writeUInt32LE(hi(permitted), 16);
      capWords.writeUInt32LE(hi(inheritable), 20);
      return call(capset, capHeader(), capWords);
    },
    setresuidThread: (uid) => call(syscall, SYS_SETRESUID, 'uint32_t', uid, 'uint32_t', uid, 'uint32_t', uid),
    setresgidThread: (gid) => call(syscall, SYS_SETRESGID, 'uint32_t', gid, 'uint32_t', gid, 'uint32_t', gid),
    execve: (path, argv, env) => call(execve, path, [...argv, null], [...env, null]),
    keepOnExec(fd) {
      // F_GETFD = 1, F_SETFD = 2, FD_CLOEXEC = 1.
      const flags = call(fcntl, fd, 1);
      return flags < 0 ? flags : call(fcntl, fd, 2, 'int', flags & ~1);
    },
    getpw(user) {
      const p = typeof user === 'number' ? getpwuid(user >>> 0) : getpwnam(user);
      if (p === null || p === undefined) return undefined;
      const e = k.decode(p, Passwd) as { pw_name: string; pw_uid: number; pw_gid: number; pw_dir: string | null };
      return { name: e.pw_name, uid: e.pw_uid, gid: e.pw_gid, dir: e.pw_dir ?? '' };
    },
  };
}

/**
 * Returns the libc bindings, loading koffi and libc on the first call. Throws a NativeError
 * `ERR_NATIVE_UNAVAILABLE` off Linux or when the FFI cannot load; the failure is remembered.
 */
export function libc(): Libc {
  if (cached) return cached;
  if (loadError) throw loadError;
  if (process.platform !== 'linux') {
    loadError = new NativeError(
      'ERR_NATIVE_UNAVAILABLE',
      `kernel interfaces need Linux (platform is ${process.platform})`,
    );
    throw loadError;
  }
  try {
    const k = createRequire(import.meta.url)('koffi') as Koffi;
    let lib: ReturnType<Koffi['load']>;
    try {
      lib = k.load('libc.so.6');
    } catch {
      lib = k.load(null);
    }
    cached = bindLibc(k, lib);
    return cached;
  } catch (cause) {
    loadError = new NativeError('ERR_NATIVE_UNAVAILABLE', 'cannot load the FFI (koffi) or libc', { cause });
    throw loadError;
  }
}

/** The symbolic name of an errno value (`ENOBUFS`), or `errno N` when unknown. */
export function errnoName(errno: number): string {
  return errnoNames().get(errno) ?? `errno ${errno}`;
}

let names: Map<number, string> | undefined;

/**
 * Errno names by number, from Node's own table (`os.constants.errno`). Of two names for one number
 * the first listed wins (EAGAIN over EWOULDBLOCK), except that 95 keeps its Linux name EOPNOTSUPP.
 */
function errnoNames(): Map<number, string> {
  if (names !== undefined) return names;
  const table = new Map<number, string>();
  for (const [name, value] of Object.entries(constants.errno)) {
    if (name !== 'ENOTSUP' && !table.has(value)) table.set(value, name);
  }
  names = table;
  return table;
}

/** A NativeError `ERR_NATIVE_CALL` for a failed system call (`rc` is the `-errno` it returned). */
export function callError(what: string, rc: number): NativeError {
  const errno = -rc;
  return new NativeError('ERR_NATIVE_CALL', `${what} failed: ${errnoName(errno)}`, { errno });
}
