import { describe, expect, it } from 'vitest';
import { probeEbpf } from './ebpf.ts';
import { decodeEbpfRecord, EBPF_HEADER_BYTES as H, EBPF_EVENT_LAYOUT as L } from './ebpf-event.ts';

/** A record as bpf/process.bpf.c writes it. */
function record(type: number, fields: Partial<Record<keyof typeof L, number | bigint>>, fname = '', args = ''): Buffer {
  const f = Buffer.from(fname);
  const a = Buffer.from(args);
  const b = Buffer.alloc(H + f.length + a.length);
  b.writeBigUInt64LE(123456789n, L.ts_ns);
  b.writeUInt32LE(type, L.type);
  for (const k of ['pid', 'tgid', 'ppid', 'uid', 'euid', 'gid', 'aux', 'flags', 'task_flags'] as const)
    b.writeUInt32LE(Number(fields[k] ?? 0), L[k]);
  for (const k of ['start_ns', 'cgroup_id'] as const) b.writeBigUInt64LE(BigInt(fields[k] ?? 0), L[k]);
  b.writeUInt16LE(f.length, L.fname_len);
  b.writeUInt16LE(a.length, L.args_len);
  b.write('tinybin', L.comm);
  f.copy(b, H);
  a.copy(b, H + f.length);
  return b;
}

describe('decodeEbpfRecord', () => {
  it('decodes an exec with file name, argv, ids and flags', () => {
    const b = record(
      1,
      { pid: 10, tgid: 10, ppid: 9, uid: 65534, euid: 0, gid: 5, aux: 11, flags: 1 },
      '/x/bin',
      '/x/bin\0M1\0',
    );
    expect(decodeEbpfRecord(b, b.length)).toEqual({
      type: 'exec',
      timestampNs: 123456789n,
      pid: 10,
      tgid: 10,
      ppid: 9,
      uid: 65534,
      euid: 0,
      gid: 5,
      oldPid: 11,
      comm: 'tinybin',
      filename: '/x/bin',
      argv: ['/x/bin', 'M1'],
      argvTruncated: true,
      filenameTruncated: false,
      argvUnreadable: false,
      filenameUnreadable: false,
    });
  });

  it('keeps a cut last argument (no final NUL) and an empty argv', () => {
    const cut = record(1, { pid: 1, tgid: 1 }, '/b', '/b\0abc');
    expect(decodeEbpfRecord(cut, cut.length)).toMatchObject({ argv: ['/b', 'abc'] });
    const none = record(1, { pid: 1, tgid: 1, flags: 4 }, '/b', '');
    expect(decodeEbpfRecord(none, none.length)).toMatchObject({ argv: [], argvUnreadable: true });
  });

  it('decodes exit status (code and signal) and fork ids', () => {
    const exit = record(2, { pid: 7, tgid: 7, ppid: 3, aux: 7 << 8 });
    expect(decodeEbpfRecord(exit, exit.length)).toMatchObject({
      type: 'exit',
      exitCode: 7,
      termSignal: 0,
      parentTgid: 3,
    });
    const killed = record(2, { pid: 7, tgid: 7, aux: 9 });
    expect(decodeEbpfRecord(killed, killed.length)).toMatchObject({ exitCode: 137, termSignal: 9 });
    const fork = record(3, {
      pid: 8,
      tgid: 8,
      ppid: 3,
      aux: 4,
      start_ns: 98_765_432_101_234_567n,
      cgroup_id: 2n ** 40n + 7n,
      task_flags: 0x0040_0100,
    });
    expect(decodeEbpfRecord(fork, fork.length)).toEqual({
      type: 'fork',
      timestampNs: 123456789n,
      childPid: 8,
      childTgid: 8,
      parentTgid: 3,
      parentPid: 4,
      childStartNs: 98_765_432_101_234_567n,
      childCgroupId: 2n ** 40n + 7n,
      childKernelThread: false,
    });
    const kthread = record(3, { pid: 9, tgid: 9, ppid: 2, task_flags: 0x0020_0040 });
    expect(decodeEbpfRecord(kthread, kthread.length)).toMatchObject({ childKernelThread: true });
  });

  it('refuses short records, lengths past the end and unknown types', () => {
    const b = record(1, {}, '/a', 'b');
    expect(decodeEbpfRecord(b, H - 1)).toBeUndefined();
    expect(decodeEbpfRecord(b, b.length - 1)).toBeUndefined();
    const odd = record(9, {});
    expect(decodeEbpfRecord(odd, odd.length)).toBeUndefined();
  });
});

describe.runIf(process.platform === 'linux' && process.getuid?.() === 0)('probeEbpf', () => {
  it('names the Debian package when libbpf.so.1 cannot be loaded', () => {
    const p = probeEbpf({ libbpfPath: 'libbpf-missing.so.1' });
    expect(p.available).toBe(false);
    if (!p.available) expect(p.reason).toMatch(/install the libbpf1 package/);
  });
});
