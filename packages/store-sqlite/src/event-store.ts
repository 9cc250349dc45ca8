/**
 * `openEventStore`: the embedded event store seen from the collector's thread. The database and its
 * one write connection live in a worker thread (a plain `node:worker_threads` worker: the store needs
 * no FFI, so it does not depend on `@daemoneye/native`); this side turns a batch into columns, posts
 * it, and resolves when the transaction committed. Pruning by age, row count and size runs in the
 * worker on its interval, a step at a time between writes. This module does not retry: a failed
 * write rejects with `ERR_STORE_WRITE` saying whether it is transient (see `store-sink.ts`).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { EventBatch, HostIdentity, Logger } from '@daemoneye/core';
import { storeErrors } from './errors.ts';
import type { PruneTotals, WorkerReply, WorkerRequest, WriterStats, WriterWorkerData } from './internal/protocol.ts';
import type { WriteResult } from './internal/store-writer.ts';

/** Retention of an event store; 0 turns a limit off. */
export interface RetentionOptions {
  /** Events older than this (by their timestamp) are deleted, in ms (default 7 days). */
  readonly maxAgeMs?: number;
  /** The database's pages in use are kept below this many bytes, oldest events first (default 1 GiB). */
  readonly maxSizeBytes?: number;
  /** At most this many events are kept, oldest first (default 0: no limit). */
  readonly maxRows?: number;
  /** How often the worker prunes on its own, in ms (default 60,000; 0: only when `prune()` is called). */
  readonly intervalMs?: number;
}

/** Default retention. */
export const DEFAULT_RETENTION = {
  maxAgeMs: 7 * 24 * 3600_000,
  maxSizeBytes: 1024 ** 3,
  maxRows: 0,
  intervalMs: 60_000,
} as const satisfies Required<RetentionOptions>;

/** Options of {@link openEventStore}. */
export interface EventStoreOptions {
  /** The database file; its directory is created when missing. */
  readonly path: string;
  /** Stored with each run (hostname and machine id); default the hostname `unknown`. */
  readonly host?: HostIdentity;
  readonly retention?: RetentionOptions;
  readonly logger?: Logger;
}

/** What one write did. */
export type StoreWriteResult = WriteResult;
/** What one prune pass removed. */
export type PruneReport = PruneTotals;
/** Rows per table, pages in use and schema version. */
export type StoreStats = WriterStats;

/** An open event store. */
export interface EventStore {
  readonly path: string;
  /** The schema version the file had when opened: 0 for a new store, lower than current for a migrated one. */
  readonly foundSchemaVersion: number;
  /**
   * Inserts a batch in one transaction, keyed by `batch.records.seq(i)`; resolves once committed.
   * Rejects with `ERR_STORE_WRITE` (`details.transient`, `details.sqliteCode`) when SQLite failed —
   * transient for a full disk or an I/O error, when the same batch may be written again — or
   * `ERR_STORE_CLOSED` after `close()`.
   */
  write(batch: EventBatch): Promise<StoreWriteResult>;
  /** Runs a prune pass now (or joins the one running) and resolves with what it removed. */
  prune(): Promise<PruneReport>;
  stats(): Promise<StoreStats>;
  /** Finishes the request being handled, closes the database and ends the worker. Idempotent. */
  close(): Promise<void>;
}

/** The compiled worker script (mapped from `src/*.ts` to `dist/*.js` when run from sources, as in tests). */
function workerUrl(moduleUrl: string = import.meta.url): URL {
  let base = moduleUrl;
  if (base.endsWith('.ts')) {
    const at = base.lastIndexOf('/src/');
    base = `${base.slice(0, at)}/dist/${base.slice(at + 5, -3)}.js`;
  }
  return new URL('./internal/write-worker.js', base);
}

interface Pending {
  resolve(value: unknown): void;
  reject(e: Error): void;
}

function failedError(m: Extract<WorkerReply, { type: 'failed' }>, path: string): Error {
  const details = { sqliteCode: m.sqliteCode, transient: m.transient, path };
  return storeErrors.error('ERR_STORE_WRITE', `event store ${path}: ${m.sqliteCode ?? 'error'}: ${m.message}`, {
    details,
  });
}

/**
 * Opens (creating or migrating) the store at `options.path` in a worker thread. Rejects with
 * `ERR_STORE_OPEN` when the file cannot be opened or created, `ERR_STORE_SCHEMA` when it was written
 * by a newer collector.
 */
export async function openEventStore(options: EventStoreOptions): Promise<EventStore> {
  const path = options.path;
  const r = { ...DEFAULT_RETENTION, ...options.retention };
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (e) {
    throw storeErrors.error(
      'ERR_STORE_OPEN',
      `cannot create the directory of event store ${path}: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  const data: WriterWorkerData = {
    path,
    limits: { maxAgeMs: r.maxAgeMs, maxSizeBytes: r.maxSizeBytes, maxRows: r.maxRows },
    pruneIntervalMs: r.intervalMs,
  };
  // A young generation of up to 64 MiB: the events of a group commit (up to 20,000) are still alive at
  // each scavenge, and in a small one they are copied again and again (measured: 5-8 % more events per
  // second). V8 grows it only under load, so an idle store keeps the default size.
  const worker = new Worker(workerUrl(), {
    workerData: data,
    execArgv: [],
    name: 'daemoneye-store',
    resourceLimits: { maxYoungGenerationSizeMb: 64 },
  });
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let closed = false;
  let exited = false;
  let exitError: Error = storeErrors.error('ERR_STORE_CLOSED', `event store ${path} is closed`);
  const host = options.host ?? { hostname: 'unknown' };
  const logger = options.logger;
  let isReady = false;

  const ready = new Promise<number>((resolve, reject) => {
    worker.on('message', (m: WorkerReply) => {
      if (m.type === 'ready') {
        isReady = true;
        resolve(m.foundVersion);
        return;
      }
      if (m.type === 'failed' && m.id === null && isReady) {
        logger?.warn({ store: path, sqliteCode: m.sqliteCode, err: m.message }, 'event store background prune failed');
        return;
      }
      if (m.type === 'failed' && m.id === null) {
        if (m.newer === true) {
          reject(storeErrors.error('ERR_STORE_SCHEMA', `event store ${path}: ${m.message}; use a newer collector`));
        } else {
          const e = storeErrors.error('ERR_STORE_OPEN', `cannot open event store ${path}: ${m.message}`, {
            details: { sqliteCode: m.sqliteCode },
          });
          reject(e);
        }
        return;
      }
      if (m.type === 'pruned' && m.id === null) {
        if (m.totals.byAge + m.totals.byRows + m.totals.bySize > 0)
          logger?.info({ store: path, ...m.totals }, 'event store pruned');
        return;
      }
      if (m.id === null) return;
      const p = pending.get(m.id);
      if (p === undefined) return;
      pending.delete(m.id);
      if (m.type === 'failed') p.reject(failedError(m, path));
      else if (m.type === 'written') p.resolve(m.result);
      else if (m.type === 'pruned') p.resolve(m.totals);
      else if (m.type === 'stats') p.resolve(m.stats);
    });
    worker.on('error', (e) => {
      exitError = storeErrors.error('ERR_STORE_CLOSED', `event store ${path} worker failed: ${e.message}`, {
        cause: e,
      });
      reject(storeErrors.error('ERR_STORE_OPEN', `cannot open event store ${path}: ${e.message}`, { cause: e }));
    });
    worker.on('exit', () => {
      exited = true;
      reject(exitError);
      for (const p of pending.values()) p.reject(exitError);
      pending.clear();
    });
  });
  const foundSchemaVersion = await ready;

  type Body<M> = M extends { id: number } ? Omit<M, 'id'> : never;
  function request<T>(message: Body<WorkerRequest>): Promise<T> {
    if (closed || exited) return Promise.reject(exitError);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ ...message, id });
    });
  }

  let closing: Promise<void> | undefined;
  return {
    path,
    foundSchemaVersion,
    write(batch) {
      const records = batch.records;
      const n = batch.length;
      const seqs = new Array<number>(n);
      const sources = new Array<string>(n);
      const acceptedAt = new Array<number>(n);
      const causes = new Array<number | null>(n);
      const depths = new Array<number>(n);
      for (let i = 0; i < n; i++) {
        seqs[i] = records.seq(i);
        sources[i] = records.source(i);
        acceptedAt[i] = records.acceptedAt(i);
        causes[i] = records.cause(i) ?? null;
        depths[i] = records.depth(i);
      }
      return request<StoreWriteResult>({
        type: 'write',
        runId: records.runId,
        hostname: host.hostname,
        machineId: host.machineId ?? null,
        seqs,
        sources,
        acceptedAt,
        causes,
        depths,
        events: batch,
      });
    },
    prune: () => request<PruneReport>({ type: 'prune' }),
    stats: () => request<StoreStats>({ type: 'stats' }),
    close() {
      closing ??= (async () => {
        closed = true;
        if (exited) return;
        const gone = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
        worker.postMessage({ type: 'stop' } satisfies WorkerRequest);
        await gone;
      })();
      return closing;
    },
  };
}
