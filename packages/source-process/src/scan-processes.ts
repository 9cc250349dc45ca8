/**
 * One-shot and repeated process snapshots without the event source: `scanProcesses` returns every
 * process once; `openProcessScanner` keeps a worker (and its CPU samples) for repeated scans, as
 * benchmarks and tools need. On Linux they read /proc; elsewhere they use systeminformation. They do
 * not hash executables or emit events.
 */

import { openSnapshotScanner, type ProcScanner } from './internal/proc-scan.ts';
import { SystemInformationSnapshot } from './internal/si-snapshot.ts';
import { SnapshotWorkerClient } from './internal/snapshot-client.ts';
import type { SnapshotPort, SnapshotResult } from './internal/snapshot-port.ts';
import type { ProcessSnapshot } from './process-snapshot.ts';

/** Options of {@link scanProcesses} and {@link openProcessScanner}. */
export interface ScanProcessesOptions {
  /** Report kernel threads too (default false). */
  readonly includeKernelThreads?: boolean;
  /**
   * Where the synchronous /proc reads run: `'worker'` keeps the event loop free; `'current'` reads
   * on the calling thread, which is faster for a single scan but blocks it. The default is the
   * fastest for the call: `'current'` for {@link scanProcesses} (a one-shot would spend more time
   * starting a worker than scanning), `'worker'` for {@link openProcessScanner}.
   */
  readonly thread?: 'worker' | 'current';
  /**
   * A repeated scan reuses a process's real uid, executable and cgroup from a scan younger than this
   * (ms) while its pid, start time, comm and command line are unchanged (default 10,000; 0 = never).
   */
  readonly reuseFieldsMs?: number;
}

/** A scanner kept open for repeated scans. */
export interface ProcessScanner {
  /** Scans every process; CPU % is relative to the previous scan of this scanner. */
  scan(): Promise<SnapshotResult>;
  /** Releases the worker. Idempotent. */
  close(): Promise<void>;
}

/** Opens a scanner for repeated scans (a worker thread on Linux). */
export function openProcessScanner(options: ScanProcessesOptions = {}): ProcessScanner {
  const include = options.includeKernelThreads ?? false;
  if (process.platform === 'linux' && options.thread === 'current') {
    let scanner: ProcScanner | undefined;
    return {
      scan: async () => {
        scanner ??= await openSnapshotScanner(
          options.reuseFieldsMs === undefined ? {} : { reuseMs: options.reuseFieldsMs },
        );
        const started = performance.now();
        const processes = scanner.scan(include);
        return { processes, durationMs: performance.now() - started };
      },
      close: async () => {},
    };
  }
  const port: SnapshotPort =
    process.platform === 'linux'
      ? new SnapshotWorkerClient(options.reuseFieldsMs === undefined ? {} : { reuseMs: options.reuseFieldsMs })
      : new SystemInformationSnapshot();
  return { scan: () => port.scan(include), close: () => port.close() };
}

/** Takes one snapshot of every process, on the calling thread unless `thread: 'worker'` is given. Rejects when the scan cannot run. */
export async function scanProcesses(options: ScanProcessesOptions = {}): Promise<ProcessSnapshot[]> {
  const scanner = openProcessScanner({ thread: 'current', ...options });
  try {
    return [...(await scanner.scan()).processes];
  } finally {
    await scanner.close();
  }
}
