import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { describe, expect, it, vi } from 'vitest';
import { psPids } from '../test/ps.ts';
import type { ProcessSnapshot } from './index.ts';
import { buildCgroupIndex } from './internal/cgroup-index.ts';
import { parseCgroup } from './internal/proc-parse.ts';
import { loadFastProcReader, nodeProcReader } from './internal/proc-reader.ts';
import { ProcScanner } from './internal/proc-scan.ts';
import { SnapshotWorkerClient, snapshotWorkerUrl } from './internal/snapshot-client.ts';
import { scanProcesses } from './scan-processes.ts';

const onLinux = process.platform === 'linux';
if (!onLinux) console.log(`skipping /proc snapshot tests: platform is ${process.platform}`);

const psRows = (): Map<number, { ppid: number; uid: number }> => {
  const rows = new Map<number, { ppid: number; uid: number }>();
  for (const line of execFileSync('ps', ['-e', '-o', 'pid=,ppid=,ruid='], { encoding: 'utf8' }).split('\n')) {
    const [pid, ppid, uid] = line.trim().split(/\s+/).map(Number);
    if (pid !== undefined && ppid !== undefined && uid !== undefined && Number.isFinite(pid))
      rows.set(pid, { ppid, uid });
  }
  return rows;
};

describe.skipIf(!onLinux)('scanProcesses against ps', () => {
  it('finds exactly the pids ps finds, allowing only for processes that raced', async () => {
    const startedAt = Date.now();
    const before = psPids();
    const scan = await scanProcesses({ includeKernelThreads: true });
    const after = psPids();
    const scanned = new Set(scan.map((p) => p.pid));
    const stable = [...before].filter((p) => after.has(p));
    expect(stable.filter((p) => !scanned.has(p))).toEqual([]);
    // A pid neither ps saw lived only between the two: it must have started after the first ps
    // (start times come from clock ticks against a boot time in whole seconds, hence the slack).
    const between = scan.filter((p) => !before.has(p.pid) && !after.has(p.pid));
    expect(between.filter((p) => p.startTime < startedAt - 1500).map((p) => p.pid)).toEqual([]);
    expect(scan.length).toBeGreaterThan(10);
  });

  it('agrees with ps on ppid and real uid, and leaves kernel threads out by default', async () => {
    const rows = psRows();
    const scan = await scanProcesses();
    const again = psRows();
    let compared = 0;
    for (const p of scan) {
      expect(p.kernelThread).toBe(false);
      const a = rows.get(p.pid);
      const b = again.get(p.pid);
      if (a === undefined || b === undefined || a.ppid !== b.ppid) continue;
      expect({ pid: p.pid, ppid: p.ppid, uid: p.userId }).toEqual({ pid: p.pid, ppid: a.ppid, uid: a.uid });
      compared++;
    }
    expect(compared).toBeGreaterThan(5);
    expect(scan.some((p) => p.pid === 2)).toBe(false);
  });

  it('describes this very process correctly', async () => {
    const me = (await scanProcesses({ thread: 'current' })).find((p) => p.pid === process.pid);
    expect(me?.ppid).toBe(process.ppid);
    expect(me?.executablePath).toBe(process.execPath);
    expect(me?.fileExists).toBe(true);
    expect(me?.accessible).toBe(true);
    expect(me?.commandLine).toEqual(
      execFileSync('cat', [`/proc/${process.pid}/cmdline`], { encoding: 'latin1' })
        .split('\0')
        .slice(0, -1),
    );
    expect(me?.userId).toBe(process.getuid?.());
    // Full scans leave the working directory out (exec events carry it).
    expect(me?.cwd).toBeUndefined();
    const uptimeStart = Date.now() - process.uptime() * 1000;
    expect(Math.abs((me?.startTime ?? 0) - uptimeStart)).toBeLessThan(1000);
    expect(me?.memoryUsage).toBeGreaterThan(10 * 1024 * 1024);
    expect(me?.threadCount).toBeGreaterThan(1);
  });
});

describe.skipIf(!onLinux)('snapshot worker', () => {
  it('resolves the compiled worker script from source', () => {
    expect(snapshotWorkerUrl('file:///x/pkg/src/internal/snapshot-client.ts').href).toBe(
      'file:///x/pkg/dist/internal/snapshot-worker.js',
    );
    expect(snapshotWorkerUrl('file:///x/pkg/dist/internal/snapshot-client.js').href).toBe(
      'file:///x/pkg/dist/internal/snapshot-worker.js',
    );
  });

  it('merges the batches both workers post while they scan into one list in pid order', async () => {
    const client = new SnapshotWorkerClient({ workers: 2, batchSize: 4 });
    try {
      const before = psPids();
      const { processes } = await client.scan(true);
      const after = psPids();
      const pids = processes.map((p) => p.pid);
      expect(pids).toEqual([...pids].sort((a, b) => a - b));
      expect(new Set(pids).size).toBe(pids.length);
      const scanned = new Set(pids);
      expect([...before].filter((p) => after.has(p) && !scanned.has(p))).toEqual([]);
      expect(pids.length).toBeGreaterThan(8);
    } finally {
      await client.close();
    }
  });

  it('lets its workers end by themselves on close, even while they are starting', async () => {
    // Terminating a worker inside a native call (binding the FFI at start-up) aborts the process.
    const terminate = vi.spyOn(Worker.prototype, 'terminate');
    try {
      const starting = new SnapshotWorkerClient();
      const rejected = expect(starting.scan(false)).rejects.toThrow('snapshot worker is closed');
      await starting.close();
      await rejected;
      const used = new SnapshotWorkerClient();
      expect((await used.scan(false)).processes.length).toBeGreaterThan(0);
      await used.close();
      expect(terminate).not.toHaveBeenCalled();
    } finally {
      terminate.mockRestore();
    }
  });

  it('an idle client, scanned once and never closed, does not keep the process alive', () => {
    const entry = new URL('../dist/internal/snapshot-client.js', import.meta.url).href;
    const script = `const { SnapshotWorkerClient } = await import(${JSON.stringify(entry)});
const client = new SnapshotWorkerClient({ workers: 2 });
const { processes } = await client.scan(false);
process.on('exit', () => console.log(JSON.stringify({ scanned: processes.length > 0 })));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '--eval', script], {
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(JSON.parse(out)).toEqual({ scanned: true });
  });

  it('reports a failing scan as a failure reason, and clears it after a good one', async () => {
    const bad = new SnapshotWorkerClient({ procRoot: '/nonexistent-proc' });
    await expect(bad.scan(false)).rejects.toThrow(/scan failed: ENOENT/);
    expect(bad.failure()).toMatch(/scan failed: ENOENT/);
    await bad.close();
    const good = new SnapshotWorkerClient();
    const r = await good.scan(false);
    expect(r.processes.length).toBeGreaterThan(0);
    expect(good.failure()).toBeUndefined();
    await good.close();
    await good.close();
    await expect(good.scan(false)).rejects.toThrow('snapshot worker is closed');
  });
});

describe.skipIf(!onLinux)('scans from a process started with node options', () => {
  it('works under V8 flags and in an --input-type=module --eval script', () => {
    const dist = new URL('../dist/index.js', import.meta.url).href;
    const script = `import { scanProcesses } from ${JSON.stringify(dist)};
const mine = (await scanProcesses()).find((p) => p.pid === process.pid);
console.log(JSON.stringify({ pid: process.pid, found: mine?.pid }));`;
    const out = execFileSync(
      process.execPath,
      ['--max-old-space-size=256', '--expose-gc', '--input-type=module', '--eval', script],
      { encoding: 'utf8' },
    );
    const { pid, found } = JSON.parse(out) as { pid: number; found: number };
    expect(found).toBe(pid);
  });
});

describe.skipIf(!onLinux)('fast reads (kernel)', () => {
  const stable = (p: ProcessSnapshot) => ({
    pid: p.pid,
    ppid: p.ppid,
    name: p.name,
    executablePath: p.executablePath,
    executableDeleted: p.executableDeleted,
    commandLine: p.commandLine,
    userId: p.userId,
    userName: p.userName,
    accessible: p.accessible,
    fileExists: p.fileExists,
    cgroup: p.cgroup,
    containerId: p.containerId,
    kernelThread: p.kernelThread,
    fieldErrors: p.fieldErrors,
  });

  it('the FFI reader with the cgroup walk sees what Node fs with per-process reads sees', async () => {
    const fast = new ProcScanner(await loadFastProcReader(), { withCwd: false, cgroupWalkFrom: 0 });
    const plain = new ProcScanner(nodeProcReader, { withCwd: false, cgroupWalkFrom: Number.POSITIVE_INFINITY });
    const a = fast.scan(true);
    const b = new Map(plain.scan(true).map((p) => [p.pid, p]));
    let compared = 0;
    for (const p of a) {
      const q = b.get(p.pid);
      // The same process in both scans (not replaced, not exec'd in between). Start times are
      // compared as ticks: each scanner estimates boot time from /proc/uptime to 10 ms.
      if (q === undefined || q.startTicks !== p.startTicks || q.name !== p.name) continue;
      // A process caught while it exits or execs (a zombie's exe and cmdline are gone) reads
      // differently a millisecond later; only settled processes must agree field for field.
      const inTransition = (r: typeof p): boolean =>
        !r.kernelThread && Object.values(r.fieldErrors ?? {}).some((code) => code === 'ENOENT' || code === 'ESRCH');
      if (inTransition(p) || inTransition(q)) continue;
      expect(stable(p)).toEqual(stable(q));
      compared++;
    }
    expect(compared).toBeGreaterThan(a.length * 0.9);
  });

  it("falls back to Node's fs where the FFI cannot load", () => {
    // A separate process that believes it runs on macOS loads the built reader module.
    const entry = new URL('../dist/internal/proc-reader.js', import.meta.url).href;
    const script = `
      Object.defineProperty(process, 'platform', { value: 'darwin' });
      const m = await import(${JSON.stringify(entry)});
      const reader = await m.loadFastProcReader();
      process.stdout.write(String(reader === m.nodeProcReader));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(out).toBe('true');
  });

  it("learns this host's cgroups from one walk, matching /proc/self/cgroup", async ({ skip }) => {
    const index = buildCgroupIndex(await loadFastProcReader(), '/proc', 100_000);
    if (index === undefined) {
      // Only where a cgroup hierarchy of this process is not mounted whole (some containers).
      const reason = 'a cgroup hierarchy of this process is not mounted whole';
      console.log(`skipping the cgroup walk check: ${reason}`);
      return skip(reason);
    }
    expect(index.lookup(process.pid)).toEqual(parseCgroup(readFileSync('/proc/self/cgroup', 'latin1')));
    expect(index.lookup(1)).toEqual(parseCgroup(readFileSync('/proc/1/cgroup', 'latin1')));
  });
});
