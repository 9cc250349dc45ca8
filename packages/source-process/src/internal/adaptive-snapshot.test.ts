import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { psPids } from '../../test/ps.ts';
import type { ProcessSnapshot } from '../process-snapshot.ts';
import { AdaptiveSnapshot } from './adaptive-snapshot.ts';
import type { SnapshotPort, SnapshotResult } from './snapshot-port.ts';

const onLinux = process.platform === 'linux';
if (!onLinux) console.log(`skipping adaptive snapshot tests: platform is ${process.platform}`);

/** A worker port that records its scans and answers with a fixed duration. */
class FakeWorkers implements SnapshotPort {
  scans = 0;
  closed = false;
  constructor(
    readonly durationMs: number,
    readonly processes: ProcessSnapshot[] = [],
  ) {}
  async scan(): Promise<SnapshotResult> {
    this.scans++;
    return { processes: this.processes, durationMs: this.durationMs };
  }
  failure(): string | undefined {
    return this.closed ? 'closed' : undefined;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!onLinux)('AdaptiveSnapshot', () => {
  it('scans a small host on the calling thread, starting no worker, and finds the pids ps finds', async () => {
    const made: FakeWorkers[] = [];
    const snap = new AdaptiveSnapshot({
      // The timing rule is the next test's; a loaded test host must not move this one.
      inThreadLimitMs: 500,
      createWorkers: () => {
        const w = new FakeWorkers(1);
        made.push(w);
        return w;
      },
    });
    const before = psPids();
    const first = await snap.scan(true);
    const after = psPids();
    const second = await snap.scan(true);
    await snap.close();
    expect(made).toEqual([]);
    expect(snap.where()).toBe('current');
    expect(snap.moves()).toBe(0);
    const scanned = new Set(first.processes.map((p) => p.pid));
    const stable = [...before].filter((p) => after.has(p));
    expect(stable.filter((p) => !scanned.has(p))).toEqual([]);
    expect(first.processes.find((p) => p.pid === process.pid)?.ppid).toBe(process.ppid);
    expect(second.processes.some((p) => p.pid === process.pid)).toBe(true);
  });

  it('moves to the workers after two slow scans in a row, and back (closing them) once their scans are fast', async () => {
    const made: FakeWorkers[] = [];
    const durations = [30, 2];
    const snap = new AdaptiveSnapshot({
      inThreadLimitMs: 0,
      createWorkers: () => {
        const w = new FakeWorkers(durations[made.length] ?? 2);
        made.push(w);
        return w;
      },
    });
    const own = await snap.scan(false); // in the thread, over the 0 ms limit: one slow scan stays
    expect(own.processes.some((p) => p.pid === process.pid)).toBe(true);
    expect(snap.where()).toBe('current');
    await snap.scan(false); // the second in a row moves
    expect(snap.where()).toBe('worker');
    expect(made.length).toBe(0);
    const slow = await snap.scan(false); // 30 ms in the workers: they stay
    expect(slow.durationMs).toBe(30);
    expect(made.length).toBe(1);
    expect(made[0]?.closed).toBe(false);
    expect(snap.where()).toBe('worker');
    await snap.close();
    expect(made[0]?.closed).toBe(true);

    const back = new AdaptiveSnapshot({
      inThreadLimitMs: 1e-6, // any real scan is slower; the fake workers' 0 ms is under a quarter of it
      slowScansToMove: 1,
      createWorkers: () => {
        const w = new FakeWorkers(0);
        made.push(w);
        return w;
      },
    });
    await back.scan(false);
    await back.scan(false);
    expect(made[1]?.scans).toBe(1);
    expect(made[1]?.closed).toBe(true);
    expect(back.where()).toBe('current');
    expect(back.moves()).toBe(2);
    await back.close();
  });

  it('sends the first scan to the workers when /proc lists more pids than the in-thread bound', async () => {
    const made: FakeWorkers[] = [];
    const snap = new AdaptiveSnapshot({
      inThreadMaxPids: 0,
      createWorkers: () => {
        const w = new FakeWorkers(40);
        made.push(w);
        return w;
      },
    });
    await snap.scan(false);
    expect(snap.where()).toBe('worker');
    expect(made.map((w) => w.scans)).toEqual([1]);
    await snap.close();
    expect(made[0]?.closed).toBe(true);
  });

  it('runs real snapshot workers after the move and they agree with the calling thread', async () => {
    const snap = new AdaptiveSnapshot({ inThreadLimitMs: 0, slowScansToMove: 1 });
    const own = await snap.scan(false);
    const inWorkers = await snap.scan(false);
    await snap.close();
    const mine = (r: SnapshotResult) => r.processes.find((p) => p.pid === process.pid);
    expect(mine(inWorkers)?.ppid).toBe(process.ppid);
    expect(mine(inWorkers)?.name).toBe(mine(own)?.name);
    expect(mine(inWorkers)?.startTicks).toBe(mine(own)?.startTicks);
    // Each side derives boot time from /proc/uptime (10 ms resolution) on its own.
    expect(Math.abs((mine(inWorkers)?.startTime ?? 0) - (mine(own)?.startTime ?? Number.NaN))).toBeLessThanOrEqual(20);
  });

  it('reports a failed scan on the calling thread, and a closed port refuses scans', async () => {
    const root = mkdtempSync(join(tmpdir(), 'de-adaptive-'));
    dirs.push(root);
    const snap = new AdaptiveSnapshot({ procRoot: join(root, 'missing') });
    await expect(snap.scan(false)).rejects.toThrow(/scan failed: .*ENOENT/);
    expect(snap.failure()).toMatch(/^scan failed: .*ENOENT/);
    await snap.close();
    await expect(snap.scan(false)).rejects.toThrow('snapshot is closed');
  });
});
