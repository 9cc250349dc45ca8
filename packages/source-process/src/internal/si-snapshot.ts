/**
 * The portable snapshot backend: `systeminformation.processes()` mapped to `ProcessSnapshot` records,
 * for hosts without /proc (macOS, Windows, BSDs). It is slow (it spawns `ps` and more) and coarse
 * (start time to the second, no cgroup, no real access check), so the Linux path never uses it. CPU %
 * is systeminformation's own figure; `startTicks` is the start time in ms, good enough to tell a
 * reused pid apart.
 */
import si from 'systeminformation';
import type { ProcessSnapshot } from '../process-snapshot.ts';
import type { SnapshotPort, SnapshotResult } from './snapshot-port.ts';

type SiProcess = Awaited<ReturnType<typeof si.processes>>['list'][number];

/** Maps one systeminformation process. */
export function fromSystemInformation(p: SiProcess): ProcessSnapshot {
  const started = Date.parse(p.started.replace(' ', 'T'));
  const path =
    p.path === '' ? undefined : p.path.endsWith(p.name) ? p.path : `${p.path.replace(/[/\\]$/, '')}/${p.name}`;
  const args = p.params === '' ? [] : p.params.split(' ').filter((a) => a !== '');
  return {
    pid: p.pid,
    ppid: p.parentPid,
    name: p.name,
    ...(path === undefined ? {} : { executablePath: path }),
    executableDeleted: false,
    commandLine: p.command === '' ? [] : [p.command, ...args],
    startTime: Number.isFinite(started) ? started : 0,
    startTicks: Number.isFinite(started) ? started : 0,
    cpuUsage: Math.round(p.cpu * 100) / 100,
    memoryUsage: p.memRss * 1024,
    ...(p.user === '' ? {} : { userName: p.user }),
    accessible: p.command !== '',
    fileExists: path !== undefined,
    threadCount: 1,
    state: p.state,
    kernelThread: false,
  };
}

/** A {@link SnapshotPort} over `systeminformation.processes()`. */
export class SystemInformationSnapshot implements SnapshotPort {
  #failure: string | undefined;

  failure(): string | undefined {
    return this.#failure;
  }

  async scan(): Promise<SnapshotResult> {
    const started = performance.now();
    try {
      const data = await si.processes();
      this.#failure = undefined;
      return { processes: data.list.map(fromSystemInformation), durationMs: performance.now() - started };
    } catch (e) {
      this.#failure = `systeminformation failed: ${e instanceof Error ? e.message : String(e)}`;
      throw new Error(this.#failure);
    }
  }

  async close(): Promise<void> {}
}
