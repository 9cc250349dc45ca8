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
  /** Records per posted batch (default 512). */
  readonly batchSize?: number;
}

/** Main thread → worker: a scan, or `stop` (the worker closes its port and ends after any scan it is in). */
export type SnapshotRequest = SnapshotScanRequest | { readonly type: 'stop' };

/** A scan request. */
export interface SnapshotScanRequest {
  readonly type: 'scan';
  readonly id: number;
  readonly includeKernelThreads: boolean;
  /** Scan only pids with `pid % shards === shard`. */
  readonly shard: number;
  readonly shards: number;
}

/** Worker → main thread: `part` batches while the scan runs, then `scan` with the rest (or `error`). */
export type SnapshotReply =
  | { readonly type: 'part'; readonly id: number; readonly processes: ProcessSnapshot[] }
  | {
      readonly type: 'scan';
      readonly id: number;
      readonly processes: ProcessSnapshot[];
      readonly durationMs: number;
    }
  | { readonly type: 'error'; readonly id: number; readonly message: string };
