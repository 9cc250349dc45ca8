/**
 * The messages between the main thread and the snapshot worker: a `scan` request with an id, and a
 * reply carrying either the processes and the scan's duration or an error message. Types only.
 */
import type { ProcessSnapshot } from '../process-snapshot.ts';

/** Data given to the worker at creation. */
export interface SnapshotWorkerData {
  readonly procRoot?: string;
  /** Reuse of slow fields between scans (ms); see `ProcScannerOptions.reuseMs`. */
  readonly reuseMs?: number;
}

/** Main thread → worker. */
export interface SnapshotRequest {
  readonly type: 'scan';
  readonly id: number;
  readonly includeKernelThreads: boolean;
  /** Scan only pids with `pid % shards === shard`. */
  readonly shard: number;
  readonly shards: number;
}

/** Worker → main thread. */
export type SnapshotReply =
  | {
      readonly type: 'scan';
      readonly id: number;
      readonly processes: ProcessSnapshot[];
      readonly durationMs: number;
    }
  | { readonly type: 'error'; readonly id: number; readonly message: string };
