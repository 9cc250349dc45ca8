/**
 * The messages between the main thread and the snapshot worker: a `scan` request with an id, and a
 * reply carrying either the processes and the scan's duration or an error message. Types only.
 */
import type { ProcessSnapshot } from '../process-snapshot.ts';

/** Data given to the worker at creation. */
export interface SnapshotWorkerData {
  readonly procRoot?: string;
}

/** Main thread → worker. */
export interface SnapshotRequest {
  readonly type: 'scan';
  readonly id: number;
  readonly includeKernelThreads: boolean;
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
