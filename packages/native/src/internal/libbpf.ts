/**
 * libbpf.so.1 through koffi, for the eBPF worker only: the handful of libbpf 1.x calls the process
 * loader makes, with opaque handles (pointers are BigInt in koffi 3, `null` for NULL). libbpf's log
 * is routed through a callback that formats its `va_list` with libc `vsnprintf`. Every call, and
 * the registration of every callback, must happen on the one thread that owns the libbpf state:
 * koffi runs a registered callback on the thread that registered it. Loading throws a NativeError
 * `ERR_NATIVE_UNAVAILABLE` naming the Debian package when the library is missing.
 */
import { createRequire } from 'node:module';
import { NativeError } from '../native-error.ts';

type Koffi = typeof import('koffi');
type Raw = (...args: unknown[]) => unknown;
/** An opaque libbpf handle; `null` for NULL. */
export type Handle = bigint | null;

/** The libbpf calls the loader makes. */
export interface Libbpf {
  readonly koffi: Koffi;
  openFile(path: string): Handle;
  load(obj: Handle): number;
  close(obj: Handle): void;
  nextProgram(obj: Handle, prev: Handle): Handle;
  programName(prog: Handle): string;
  setAutoload(prog: Handle, on: boolean): number;
  attach(prog: Handle): Handle;
  destroyLink(link: Handle): number;
  findMap(obj: Handle, name: string): Handle;
  mapFd(map: Handle): number;
  setMaxEntries(map: Handle, n: number): number;
  /** The map's initial value (for .rodata) and its size. */
  initialValue(map: Handle): { ptr: Handle; size: number };
  ringBufferNew(mapFd: number, cb: bigint): Handle;
  ringBufferConsume(rb: Handle): number;
  ringBufferEpollFd(rb: Handle): number;
  ringBufferFree(rb: Handle): void;
  lookup(fd: number, key: Buffer, value: Buffer): number;
  possibleCpus(): number;
  strerror(err: number): string;
  /** Registers a ring-buffer sample callback on the calling thread. */
  registerSample(fn: (ctx: unknown, data: bigint, size: number | bigint) => number): bigint;
  /** Sends libbpf's warnings and infos to `sink` (debug lines only when `debug`). */
  setLog(sink: (level: number, line: string) => void): void;
  unregister(cb: bigint): void;
  errno(): number;
}

/** The Debian package that provides libbpf.so.1. */
export const LIBBPF_PACKAGE = 'libbpf1';

/** Loads libbpf from `path` (default `libbpf.so.1`). */
export function loadLibbpf(path = 'libbpf.so.1'): Libbpf {
  const k = createRequire(import.meta.url)('koffi') as Koffi;
  let lib: ReturnType<Koffi['load']>;
  try {
    lib = k.load(path);
  } catch (cause) {
    throw new NativeError(
      'ERR_NATIVE_UNAVAILABLE',
      `${path} cannot be loaded (install the ${LIBBPF_PACKAGE} package): ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
  const libc = k.load('libc.so.6');
  for (const name of ['bpf_object', 'bpf_program', 'bpf_link', 'bpf_map', 'ring_buffer']) {
    try {
      k.opaque(name);
    } catch {
      // declared already by an earlier load on this thread
    }
  }
  let sampleProto: ReturnType<Koffi['proto']>;
  let printProto: ReturnType<Koffi['proto']>;
  try {
    sampleProto = k.proto('int de_sample_cb(void *ctx, void *data, size_t size)');
    printProto = k.proto('int de_print_cb(int level, const char *fmt, void *ap)');
  } catch {
    sampleProto = k.resolve('de_sample_cb') as ReturnType<Koffi['proto']>;
    printProto = k.resolve('de_print_cb') as ReturnType<Koffi['proto']>;
  }
  const fn = (decl: string): Raw => lib.func(decl) as Raw;
  const openFile = fn('bpf_object *bpf_object__open_file(const char *path, const void *opts)');
  const load = fn('int bpf_object__load(bpf_object *obj)');
  const close = fn('void bpf_object__close(bpf_object *obj)');
  const nextProgram = fn('bpf_program *bpf_object__next_program(bpf_object *obj, bpf_program *prev)');
  const programName = fn('const char *bpf_program__name(bpf_program *prog)');
  const setAutoload = fn('int bpf_program__set_autoload(bpf_program *prog, bool autoload)');
  const attach = fn('bpf_link *bpf_program__attach(bpf_program *prog)');
  const destroyLink = fn('int bpf_link__destroy(bpf_link *link)');
  const findMap = fn('bpf_map *bpf_object__find_map_by_name(bpf_object *obj, const char *name)');
  const mapFd = fn('int bpf_map__fd(bpf_map *map)');
  const setMaxEntries = fn('int bpf_map__set_max_entries(bpf_map *map, uint32_t n)');
  const initialValue = fn('void *bpf_map__initial_value(bpf_map *map, _Out_ size_t *psize)');
  const rbNew = fn('ring_buffer *ring_buffer__new(int map_fd, de_sample_cb *cb, void *ctx, const void *opts)');
  const rbConsume = fn('int ring_buffer__consume(ring_buffer *rb)');
  const rbEpollFd = fn('int ring_buffer__epoll_fd(ring_buffer *rb)');
  const rbFree = fn('void ring_buffer__free(ring_buffer *rb)');
  const lookup = fn('int bpf_map_lookup_elem(int fd, const void *key, void *value)');
  const possibleCpus = fn('int libbpf_num_possible_cpus(void)');
  const strerror = fn('int libbpf_strerror(int err, _Out_ char *buf, size_t size)');
  const setPrint = fn('void *libbpf_set_print(de_print_cb *fn)');
  const vsnprintf = libc.func('int vsnprintf(_Out_ char *buf, size_t size, const char *fmt, void *ap)') as Raw;
  const errBuf = Buffer.alloc(256);
  const logBuf = Buffer.alloc(4096);
  return {
    koffi: k,
    openFile: (path) => openFile(path, null) as Handle,
    load: (obj) => Number(load(obj)),
    close: (obj) => void close(obj),
    nextProgram: (obj, prev) => nextProgram(obj, prev) as Handle,
    programName: (prog) => String(programName(prog)),
    setAutoload: (prog, on) => Number(setAutoload(prog, on)),
    attach: (prog) => attach(prog) as Handle,
    destroyLink: (link) => Number(destroyLink(link)),
    findMap: (obj, name) => findMap(obj, name) as Handle,
    mapFd: (map) => Number(mapFd(map)),
    setMaxEntries: (map, n) => Number(setMaxEntries(map, n)),
    initialValue(map) {
      const size = [0];
      const ptr = initialValue(map, size) as Handle;
      return { ptr, size: Number(size[0]) };
    },
    ringBufferNew: (fd, cb) => rbNew(fd, cb, null, null) as Handle,
    ringBufferConsume: (rb) => Number(rbConsume(rb)),
    ringBufferEpollFd: (rb) => Number(rbEpollFd(rb)),
    ringBufferFree: (rb) => void rbFree(rb),
    lookup: (fd, key, value) => Number(lookup(fd, key, value)),
    possibleCpus: () => Number(possibleCpus()),
    strerror(err) {
      strerror(err, errBuf, errBuf.length);
      const end = errBuf.indexOf(0);
      return errBuf.toString('utf8', 0, end < 0 ? errBuf.length : end);
    },
    registerSample: (cb) => k.register(cb, k.pointer(sampleProto)),
    setLog(sink) {
      const cb = k.register((level: number, fmt: string, ap: unknown) => {
        const n = Number(vsnprintf(logBuf, logBuf.length, fmt, ap));
        sink(level, logBuf.toString('utf8', 0, Math.min(Math.max(n, 0), logBuf.length - 1)).trimEnd());
        return 0;
      }, k.pointer(printProto));
      setPrint(cb);
    },
    unregister: (cb) => k.unregister(cb),
    errno: () => k.errno(),
  };
}
