/**
 * The `SnapshotPort`: where full process snapshots come from. On Linux it is the /proc worker; off
 * Linux, systeminformation; in tests, a fake. The source only asks for a scan, a failure reason for
 * health checks, and a close. Types only.
 */
import type { ProcessSnapshot } from '../process-snapshot.ts';

/** One full scan and how long it took. */
export interface SnapshotResult {
  readonly processes: readonly ProcessSnapshot[];
  readonly durationMs: number;
}

/** A provider of full process snapshots. */
export interface SnapshotPort {
  /** Scans every process; rejects when the scan cannot run (the worker died, the backend failed). */
  scan(includeKernelThreads: boolean): Promise<SnapshotResult>;
  /** Why the provider is unhealthy, or `undefined` when its last scan succeeded. */
  failure(): string | undefined;
  /** Releases the provider (terminates a worker). Idempotent. */
  close(): Promise<void>;
}
