/**
 * eBPF process events and their decoder: turns one ring-buffer record of `bpf/process.bpf.c` into a
 * typed exec, fork or exit event. Pure (no system calls), so it is tested on hand-built records;
 * the layout below is the one `bpf/drift-check.mjs` compares with the object's BTF.
 */
import { decodeWaitStatus } from './proc-event.ts';

/** A process event from the eBPF backend. Pids are in the initial pid namespace; times are CLOCK_MONOTONIC ns. */
export type EbpfProcessEvent =
  | {
      readonly type: 'fork';
      readonly timestampNs: bigint;
      readonly parentPid: number;
      readonly parentTgid: number;
      readonly childPid: number;
      readonly childTgid: number;
      /**
       * The child's start time (`task->start_boottime`, CLOCK_BOOTTIME ns): /proc/PID/stat's
       * `starttime` is this divided by 10^9 / USER_HZ.
       */
      readonly childStartNs: bigint;
      /** The id of the child's cgroup v2 (the inode number of its directory under the cgroup2 mount); 0 when unknown. */
      readonly childCgroupId: bigint;
      /** The child is a kernel thread (`PF_KTHREAD`). */
      readonly childKernelThread: boolean;
    }
  | {
      readonly type: 'exec';
      readonly timestampNs: bigint;
      readonly pid: number;
      readonly tgid: number;
      /** The parent (`real_parent`) at the exec. */
      readonly ppid: number;
      /** Real, effective uid and real gid of the new image's credentials (after a setuid bit). */
      readonly uid: number;
      readonly euid: number;
      readonly gid: number;
      /** The thread id that called execve (differs from `pid` when a non-leader thread exec'd). */
      readonly oldPid: number;
      /** The task's comm after the exec (the file name, cut to 15 bytes). */
      readonly comm: string;
      /** The path given to execve as the kernel saw it (`/dev/fd/N` for fexecve); relative paths stay relative. */
      readonly filename: string;
      /** The arguments of the new image, from its memory at the exec. */
      readonly argv: readonly string[];
      /** The argument block was longer than {@link EBPF_ARGV_MAX} bytes and is cut there. */
      readonly argvTruncated: boolean;
      /** The file name was longer than the kernel record allows. */
      readonly filenameTruncated: boolean;
      /** The argument block or file name could not be read (for example, a page not present). */
      readonly argvUnreadable: boolean;
      readonly filenameUnreadable: boolean;
    }
  | {
      readonly type: 'exit';
      readonly timestampNs: bigint;
      readonly pid: number;
      readonly tgid: number;
      /** Decoded wait status: the exit code for a normal exit, 128 + signal when killed by a signal. */
      readonly exitCode: number;
      /** The raw wait status (`task->exit_code`). */
      readonly status: number;
      /** The signal that terminated the process, 0 when it exited normally. */
      readonly termSignal: number;
      readonly parentPid: number;
      readonly parentTgid: number;
    };

/** Bytes of the argument block an exec record carries at most; longer ones are cut and flagged. */
export const EBPF_ARGV_MAX = 4096;

/** Byte offsets of `struct de_event` (bpf/process.h), checked against the object's BTF. */
export const EBPF_EVENT_LAYOUT = Object.freeze({
  ts_ns: 0,
  type: 8,
  pid: 12,
  tgid: 16,
  ppid: 20,
  uid: 24,
  euid: 28,
  gid: 32,
  aux: 36,
  flags: 40,
  fname_len: 44,
  args_len: 46,
  comm: 48,
  start_ns: 64,
  cgroup_id: 72,
  task_flags: 80,
  reserved: 84,
});

/** Size of the record header; the file name and argument block follow it. */
export const EBPF_HEADER_BYTES = 88;

/** Byte offsets of `struct de_config` (the loader's settings in .rodata). */
export const EBPF_CONFIG_LAYOUT = Object.freeze({ wakeup_bytes: 0, latency_ns: 8 });

const L = EBPF_EVENT_LAYOUT;
const F_ARGS_TRUNC = 1;
const F_FNAME_TRUNC = 2;
const F_ARGS_ERR = 4;
const F_FNAME_ERR = 8;
const PF_KTHREAD = 0x0020_0000;

function cString(b: Uint8Array, start: number, end: number): string {
  let e = start;
  while (e < end && b[e] !== 0) e++;
  return Buffer.from(b.buffer, b.byteOffset + start, e - start).toString('utf8');
}

/**
 * Decodes one record (`b[0..size)`); `undefined` for a record too short for its lengths or of an
 * unknown type (counted by the caller as malformed). `b` may alias ring memory: nothing returned
 * refers to it.
 */
export function decodeEbpfRecord(b: Buffer, size: number): EbpfProcessEvent | undefined {
  if (size < EBPF_HEADER_BYTES) return undefined;
  const type = b.readUInt32LE(L.type);
  const timestampNs = b.readBigUInt64LE(L.ts_ns);
  const pid = b.readUInt32LE(L.pid);
  const tgid = b.readUInt32LE(L.tgid);
  const ppid = b.readUInt32LE(L.ppid);
  const aux = b.readUInt32LE(L.aux);
  if (type === 1) {
    const flags = b.readUInt32LE(L.flags);
    const fl = b.readUInt16LE(L.fname_len);
    const al = b.readUInt16LE(L.args_len);
    if (EBPF_HEADER_BYTES + fl + al > size) return undefined;
    const filename = b.toString('utf8', EBPF_HEADER_BYTES, EBPF_HEADER_BYTES + fl);
    let end = EBPF_HEADER_BYTES + fl + al;
    // The block ends with the last argument's NUL unless it was cut.
    if (al > 0 && b[end - 1] === 0) end--;
    const argv = al > 0 ? b.toString('utf8', EBPF_HEADER_BYTES + fl, end).split('\0') : [];
    return {
      type: 'exec',
      timestampNs,
      pid,
      tgid,
      ppid,
      uid: b.readUInt32LE(L.uid),
      euid: b.readUInt32LE(L.euid),
      gid: b.readUInt32LE(L.gid),
      oldPid: aux,
      comm: cString(b, L.comm, L.comm + 16),
      filename,
      argv,
      argvTruncated: (flags & F_ARGS_TRUNC) !== 0,
      filenameTruncated: (flags & F_FNAME_TRUNC) !== 0,
      argvUnreadable: (flags & F_ARGS_ERR) !== 0,
      filenameUnreadable: (flags & F_FNAME_ERR) !== 0,
    };
  }
  if (type === 2) {
    const { exitCode, termSignal } = decodeWaitStatus(aux);
    return {
      type: 'exit',
      timestampNs,
      pid,
      tgid,
      exitCode,
      status: aux,
      termSignal,
      parentPid: ppid,
      parentTgid: ppid,
    };
  }
  if (type === 3) {
    return {
      type: 'fork',
      timestampNs,
      parentPid: aux,
      parentTgid: ppid,
      childPid: pid,
      childTgid: tgid,
      childStartNs: b.readBigUInt64LE(L.start_ns),
      childCgroupId: b.readBigUInt64LE(L.cgroup_id),
      childKernelThread: (b.readUInt32LE(L.task_flags) & PF_KTHREAD) !== 0,
    };
  }
  return undefined;
}
