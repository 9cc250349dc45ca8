/**
 * `ProcessSnapshot`: one process as a full scan sees it, before it becomes a `ProcessEvent`. It
 * carries a few fields events do not (`startTicks` for telling a reused pid from the same process,
 * `kernelThread`, `fieldErrors`). This module only declares the shape.
 */

/** One process seen by a scan. Memory is in bytes, times in epoch milliseconds. */
export interface ProcessSnapshot {
  readonly pid: number;
  readonly ppid: number;
  /** The process name (the kernel's `comm`, or the executable's name when `comm` was truncated). */
  readonly name: string;
  /** The executable's path, without the kernel's ` (deleted)` marker. */
  readonly executablePath?: string;
  /** True when the kernel marked the executable as deleted (replaced or removed since it started). */
  readonly executableDeleted: boolean;
  /** The arguments, `argv[0]` first; empty for kernel threads and zombies. */
  readonly commandLine: readonly string[];
  /** Start time, epoch ms. */
  readonly startTime: number;
  /** Start time in clock ticks since boot: with the pid, it identifies the process across scans. */
  readonly startTicks: number;
  /**
   * CPU use in percent of one core: the change since the previous scan of the same scanner, or the
   * average over the process's life when it is seen for the first time.
   */
  readonly cpuUsage?: number;
  /** Resident set size in bytes. */
  readonly memoryUsage: number;
  /** Real user id. */
  readonly userId?: number;
  /** The name of the real user, from `/etc/passwd`. */
  readonly userName?: string;
  /** True when the executable link and the command line could be read (false for EACCES/EPERM). */
  readonly accessible: boolean;
  /** True when a stat of `executablePath` succeeded and the executable is not marked deleted. */
  readonly fileExists: boolean;
  readonly threadCount: number;
  /** The kernel's one-letter state (`R`, `S`, `D`, `Z`, …). */
  readonly state: string;
  readonly cwd?: string;
  readonly cgroup?: string;
  /** The container id found in the cgroup path (64 hex digits for docker, containerd, CRI-O, podman). */
  readonly containerId?: string;
  /** The container runtime the cgroup path names (`docker`, `containerd`, `cri-o`, `podman`, `lxc`, `cri`, `unknown`). */
  readonly containerRuntime?: string;
  /** The Kubernetes pod UID in the cgroup path. */
  readonly podUid?: string;
  readonly kernelThread: boolean;
  /** Fields that could not be read, with the error code (`{ exe: 'EACCES' }`). */
  readonly fieldErrors?: Readonly<Record<string, string>>;
}
