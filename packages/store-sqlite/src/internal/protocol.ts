/**
 * Messages between the store (main thread) and its write worker. Plain data only (structured clone).
 */
import type { PruneStep, RetentionLimits, WriteRequest, WriteResult } from './store-writer.ts';

/** What the worker is started with. */
export interface WriterWorkerData {
  readonly path: string;
  readonly limits: RetentionLimits;
  /** How often the worker runs a prune pass on its own; 0 never. */
  readonly pruneIntervalMs: number;
}

/** Host → worker. */
export type WorkerRequest =
  | ({ readonly type: 'write'; readonly id: number } & WriteRequest)
  | { readonly type: 'prune'; readonly id: number }
  | { readonly type: 'stats'; readonly id: number }
  | { readonly type: 'stop' };

/** The totals of one prune pass. */
export interface PruneTotals {
  readonly byAge: number;
  readonly byRows: number;
  readonly bySize: number;
  /** Strings no remaining process row referred to, deleted after the rows went. */
  readonly strings: number;
  readonly durationMs: number;
}

/** The store's numbers, as the worker reports them. */
export interface WriterStats {
  readonly rows: number;
  readonly tables: Readonly<Record<string, number>>;
  readonly usedBytes: number;
  readonly schemaVersion: number;
}

/** Worker → host. */
export type WorkerReply =
  | { readonly type: 'ready'; readonly foundVersion: number; readonly schemaVersion: number }
  | { readonly type: 'written'; readonly id: number; readonly result: WriteResult }
  | { readonly type: 'pruned'; readonly id: number | null; readonly totals: PruneTotals }
  | { readonly type: 'stats'; readonly id: number; readonly stats: WriterStats }
  | {
      readonly type: 'failed';
      readonly id: number | null;
      readonly sqliteCode: string | null;
      readonly message: string;
      readonly transient: boolean;
      readonly newer?: boolean;
    };

export type { PruneStep };
