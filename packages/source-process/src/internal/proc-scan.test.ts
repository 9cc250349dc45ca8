import { describe, expect, it } from 'vitest';
import { fixtureProcReader, PROC_SAMPLE, PROC_SAMPLE_AT_MS } from '../../test/fixture-proc-reader.ts';
import { ProcScanner } from './proc-scan.ts';

const BOOT_MS = PROC_SAMPLE_AT_MS - 369_420;

function scanner(now = PROC_SAMPLE_AT_MS): ProcScanner {
  return new ProcScanner(fixtureProcReader(PROC_SAMPLE), { now: () => now });
}

/** The sample's reader, recording every file and link it is asked for. */
function countingReader(): { reads: string[]; reader: ReturnType<typeof fixtureProcReader> } {
  const base = fixtureProcReader(PROC_SAMPLE);
  const reads: string[] = [];
  const reader = {
    ...base,
    readFile: (p: string) => {
      reads.push(p);
      return base.readFile(p);
    },
    readlink: (p: string) => {
      reads.push(p);
      return base.readlink(p);
    },
  };
  return { reads, reader };
}

describe('ProcScanner over the recorded sample', () => {
  it('derives boot time from uptime', () => {
    expect(scanner().bootTimeMs()).toBe(BOOT_MS);
  });

  it('lists user processes and leaves kernel threads out by default', () => {
    const pids = scanner()
      .scan(false)
      .map((p) => p.pid)
      .sort((a, b) => a - b);
    expect(pids).toEqual([1, 3642, 3644, 3753, 4242]);
  });

  it('includes kernel threads on request, marked as such', () => {
    const all = scanner().scan(true);
    const k = all.filter((p) => p.kernelThread).map((p) => [p.pid, p.name, p.commandLine.length]);
    expect(k.sort()).toEqual([
      [2, 'kthreadd', 0],
      [4, 'kworker/R-rcu_gp', 0],
    ]);
    const kthreadd = all.find((p) => p.pid === 2);
    expect(kthreadd?.executablePath).toBeUndefined();
    expect(kthreadd?.fileExists).toBe(false);
    expect(kthreadd?.accessible).toBe(true);
  });

  it('reads a comm with spaces and parentheses', () => {
    const p = scanner().readOne(3642);
    expect(p).toEqual({
      pid: 3642,
      ppid: 1,
      name: 'a b) (c',
      executablePath: '/tmp/fx/a b) (c',
      executableDeleted: false,
      commandLine: ['/tmp/fx/a b) (c', '300'],
      startTime: BOOT_MS + 368_640,
      startTicks: 36864,
      cpuUsage: 0,
      memoryUsage: 424 * 4096,
      userId: 0,
      userName: 'root',
      accessible: true,
      fileExists: true,
      threadCount: 1,
      state: 'S',
      cwd: '/tmp/fx',
      cgroup: '/',
      kernelThread: false,
    });
  });

  it('strips the deleted marker and reports the file as missing', () => {
    const p = scanner().readOne(3644);
    expect(p?.executablePath).toBe('/tmp/fx/gone');
    expect(p?.executableDeleted).toBe(true);
    expect(p?.fileExists).toBe(false);
    expect(p?.userId).toBe(65534);
    expect(p?.userName).toBe('nobody');
  });

  it('keeps empty and UTF-8 arguments', () => {
    const p = scanner().readOne(3753);
    expect(p?.commandLine).toEqual(['sh', '-c', 'sleep 302; echo done', '--', '', 'héllo wörld']);
    expect(p?.ppid).toBe(3750);
    expect(p?.executablePath).toBe('/usr/bin/dash');
  });

  it('keeps a process whose exe and cwd are denied, as not accessible', () => {
    const p = scanner().readOne(1);
    expect(p?.name).toBe('init');
    expect(p?.commandLine).toEqual(['/sbin/init']);
    expect(p?.executablePath).toBeUndefined();
    expect(p?.accessible).toBe(false);
    expect(p?.fileExists).toBe(false);
    expect(p?.fieldErrors).toEqual({ exe: 'EACCES', cwd: 'EACCES' });
    expect(p?.cgroup).toBe('/init.scope');
    // 204 ticks over its 369.24 s life.
    expect(p?.cpuUsage).toBe(0.55);
  });

  it('finds the container id', () => {
    const p = scanner().readOne(4242);
    expect(p?.containerId).toBe('4f3c2a1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a');
    expect(p?.cgroup).toBe(
      '/system.slice/docker-4f3c2a1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a.scope',
    );
  });

  it('hands records over in batches while scanning and returns the rest', () => {
    const whole = scanner().scan(true);
    expect(whole).toHaveLength(7);
    const batches: number[][] = [];
    const rest = scanner().scan(true, { shard: 0, shards: 1 }, (b) => batches.push(b.map((p) => p.pid)), 2);
    expect(batches.map((b) => b.length)).toEqual([2, 2, 2]);
    expect(rest).toHaveLength(1);
    expect([...batches.flat(), ...rest.map((p) => p.pid)]).toEqual(whole.map((p) => p.pid));
  });

  it('returns undefined for a pid that is gone', () => {
    expect(scanner().readOne(99999)).toBeUndefined();
  });

  it('computes CPU % from the tick delta between two scans', () => {
    let now = PROC_SAMPLE_AT_MS;
    const s = new ProcScanner(fixtureProcReader(PROC_SAMPLE), { now: () => now });
    s.scan(false);
    now += 1000;
    const again = s.scan(false).find((p) => p.pid === 1);
    // Same tick count one second later: 0 %.
    expect(again?.cpuUsage).toBe(0);
  });
});

describe('ProcScanner reads only what the kernel did not say', () => {
  const counting = () => {
    const { reads, reader } = countingReader();
    return { reads, scanner: new ProcScanner(reader, { now: () => PROC_SAMPLE_AT_MS, reuseMs: 10_000 }) };
  };

  it('with an exec from the kernel, reads neither cmdline nor status and carries the kernel argv and uid', () => {
    const { reads, scanner: s } = counting();
    s.readOne(3642);
    reads.length = 0;
    const p = s.readOne(3642, undefined, { argv: ['from', 'kernel'], uid: 65534 });
    expect(reads.filter((r) => r.startsWith('/proc/3642/'))).toEqual([
      '/proc/3642/stat',
      '/proc/3642/exe',
      '/proc/3642/cwd',
      '/proc/3642/cgroup',
    ]);
    expect(p).toMatchObject({
      pid: 3642,
      name: 'a b) (c',
      executablePath: '/tmp/fx/a b) (c',
      commandLine: ['from', 'kernel'],
      userId: 65534,
      userName: 'nobody',
      accessible: true,
      cgroup: '/',
    });
    expect(p?.fieldErrors).toBeUndefined();
    // What it read without `status` is not kept: a later plain read reads status and has /proc's uid.
    const fresh = counting();
    expect(fresh.scanner.readOne(3642, undefined, { argv: ['x'], uid: 65534 })?.userId).toBe(65534);
    fresh.reads.length = 0;
    expect(fresh.scanner.readOne(3642)?.userId).toBe(0);
    expect(fresh.reads).toContain('/proc/3642/status');
  });

  it('reads where a forked child is (stat and cgroup only), and nothing more of a kernel thread', () => {
    const { reads, scanner: s } = counting();
    expect(s.readPlace(4242)).toEqual({
      startTime: (s.readOne(4242)?.startTime ?? 0) as number,
      startTicks: s.readOne(4242)?.startTicks,
      kernelThread: false,
      cgroup: '/system.slice/docker-4f3c2a1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a.scope',
      containerId: '4f3c2a1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a',
      containerRuntime: 'docker',
    });
    reads.length = 0;
    s.readPlace(4242);
    expect(reads).toEqual(['/proc/4242/stat', '/proc/4242/cgroup']);
    reads.length = 0;
    expect(s.readPlace(2)).toMatchObject({ kernelThread: true });
    expect(reads).toEqual(['/proc/2/stat']);
    expect(s.readPlace(99999)).toBeUndefined();
  });
});

describe('ProcScanner reuse of slow fields', () => {
  it('reuses uid, exe and cgroup while pid, start, comm and argv are unchanged, and rereads after reuseMs', () => {
    const { reads, reader } = countingReader();
    let now = PROC_SAMPLE_AT_MS;
    const s = new ProcScanner(reader, { now: () => now, reuseMs: 10_000, withCwd: false });
    const first = s.scan(false);
    const slowReads = (): number => reads.filter((p) => /\/(status|exe|cgroup|cwd)$/.test(p)).length;
    expect(slowReads()).toBe(15);
    reads.length = 0;
    now += 1000;
    const second = s.scan(false);
    expect(slowReads()).toBe(0);
    expect(second.map((p) => [p.pid, p.userId, p.executablePath, p.containerId])).toEqual(
      first.map((p) => [p.pid, p.userId, p.executablePath, p.containerId]),
    );
    expect(second.every((p) => p.cwd === undefined)).toBe(true);
    now += 10_000;
    s.scan(false);
    expect(slowReads()).toBe(15);
  });

  it('walks the cgroup file systems when enough processes need their cgroup: first, and once reuse expires', () => {
    const base = fixtureProcReader(PROC_SAMPLE);
    let walks = 0;
    const reader = {
      ...base,
      // The sample has no cgroup file systems: the walk starts (reads /proc/self/cgroup), finds no
      // mount and leaves every process to its own cgroup file.
      listDirectories: () => [],
      readFile: (p: string) => {
        if (p === '/proc/self/cgroup') walks++;
        return base.readFile(p);
      },
    };
    let now = PROC_SAMPLE_AT_MS;
    const s = new ProcScanner(reader, { now: () => now, reuseMs: 10_000, cgroupWalkFrom: 2 });
    const first = s.scan(true);
    expect(walks).toBe(1);
    expect(first.find((p) => p.pid === 1)?.cgroup).toBe('/init.scope');
    now += 1000;
    s.scan(true);
    expect(walks).toBe(1); // every cgroup is reused
    now += 10_000;
    s.scan(true);
    expect(walks).toBe(2);
    const never = new ProcScanner(reader, { now: () => now, cgroupWalkFrom: Number.POSITIVE_INFINITY });
    never.scan(true);
    expect(walks).toBe(2);
  });
});
