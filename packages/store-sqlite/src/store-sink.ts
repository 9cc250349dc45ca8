/**
 * The store as a collector sink: `createStoreSink` opens the event store in the collector's data
 * directory when the sink opens and hands every batch to the store's worker; a write resolves at
 * once while fewer than `maxInFlightEvents` wait for their commit (so the worker can commit several
 * batches in one transaction), otherwise when enough of them are committed. On a full disk or an I/O error it keeps the batch and retries with backoff (100 ms
 * doubling to 5 s) while its health says Unhealthy with the reason, so the sink's queue fills and
 * the pipeline applies the sink's overflow policy (`block` holds the sources back; the drop policies
 * count what they drop): nothing is lost silently, and writing resumes by itself when space returns.
 * Events that can never be stored (malformed) are skipped, counted by reason and logged once per
 * reason. It does not prune (the store's worker does) and does not read.
 */
import { isAbsolute, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  describeError,
  type EventBatch,
  type EventSink,
  type HealthReport,
  type Logger,
  type PluginRuntime,
  silentLogger,
} from '@daemoneye/core';
import { storeErrors } from './errors.ts';
import { type EventStore, openEventStore, type RetentionOptions } from './event-store.ts';

/** The store's file name in the data directory unless configured otherwise. */
export const DEFAULT_STORE_FILE = 'events.db';

/** Options of {@link createStoreSink}. */
export interface StoreSinkOptions {
  /** The database file: absolute, or relative to the collector's data directory (default `events.db`). */
  readonly file?: string;
  readonly retention?: RetentionOptions;
  /** The sink's name (default `store`). */
  readonly name?: string;
  /**
   * Events handed to the store's worker before a write waits for a commit (default 10,000): the
   * worker commits what queued up in one transaction. They are committed before `close()` resolves.
   */
  readonly maxInFlightEvents?: number;
  /** Longest wait between two attempts at a batch that failed transiently, ms (default 5,000). */
  readonly retryMaxMs?: number;
}

/** Where the store of `file` lives for a data directory; throws `ERR_STORE_OPEN` when it cannot tell. */
export function resolveStorePath(file: string, dataDir: string | undefined): string {
  if (isAbsolute(file)) return file;
  if (dataDir === undefined || dataDir === '') {
    throw storeErrors.error(
      'ERR_STORE_OPEN',
      `the event store file "${file}" is relative but the collector has no data_dir`,
    );
  }
  return join(dataDir, file);
}

/** Counters of a store sink. */
export interface StoreSinkStats {
  readonly inserted: number;
  readonly duplicates: number;
  readonly rejected: Readonly<Record<string, number>>;
  /** Attempts that failed transiently and were retried. */
  readonly retries: number;
}

/** The store sink. */
export interface StoreSink extends EventSink {
  open(signal: AbortSignal, runtime: PluginRuntime): Promise<void>;
  health(): HealthReport;
  close(): Promise<void>;
  /** The store's file once open. */
  path(): string | undefined;
  stats(): StoreSinkStats;
  /** The open store (for `prune()` and `stats()`), once `open` resolved. */
  store(): EventStore | undefined;
}

/** Creates the store sink; the database opens in `open()`. */
export function createStoreSink(options: StoreSinkOptions = {}): StoreSink {
  const file = options.file ?? DEFAULT_STORE_FILE;
  const retryMaxMs = options.retryMaxMs ?? 5000;
  let store: EventStore | undefined;
  let logger: Logger = silentLogger;
  let failing: { since: number; reason: string } | undefined;
  let inserted = 0;
  let duplicates = 0;
  let retries = 0;
  const rejected: Record<string, number> = {};
  const maxInFlightEvents = options.maxInFlightEvents ?? 20_000;
  const inFlight = new Map<Promise<void>, number>();
  let inFlightEvents = 0;
  let fatal: Error | undefined;

  /** Commits one batch, retrying transient failures with backoff until it is stored or `signal` aborts. */
  async function commit(s: EventStore, batch: EventBatch, signal: AbortSignal): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await s.write(batch);
        inserted += r.inserted;
        duplicates += r.duplicates;
        for (const [reason, n] of Object.entries(r.rejected)) {
          if (rejected[reason] === undefined)
            logger.warn({ reason, count: n }, 'events the store cannot hold were skipped');
          rejected[reason] = (rejected[reason] ?? 0) + n;
        }
        if (failing !== undefined) {
          logger.info({ store: s.path, failedForMs: Date.now() - failing.since }, 'event store writable again');
          failing = undefined;
        }
        return;
      } catch (e) {
        if (!storeErrors.is(e, 'ERR_STORE_WRITE') || e.details.transient !== true) throw e;
        if (failing === undefined) {
          logger.error({ store: s.path, err: describeError(e) }, 'event store write failed; retrying');
          failing = { since: Date.now(), reason: e.message };
        }
        failing.reason = e.message;
        retries++;
        await sleep(Math.min(retryMaxMs, 100 * 2 ** Math.min(attempt, 16)), undefined, { signal });
      }
    }
  }

  return {
    name: () => options.name ?? 'store',
    path: () => store?.path,
    store: () => store,
    stats: () => ({ inserted, duplicates, rejected: { ...rejected }, retries }),
    async open(_signal: AbortSignal, runtime: PluginRuntime) {
      if (store !== undefined) return;
      logger = runtime.logger;
      const path = resolveStorePath(file, runtime.dataDir);
      store = await openEventStore({
        path,
        host: runtime.host,
        logger,
        ...(options.retention !== undefined ? { retention: options.retention } : {}),
      });
      const found = store.foundSchemaVersion;
      logger.info(
        { store: path, foundSchemaVersion: found },
        found === 0 ? 'event store created' : 'event store opened',
      );
    },
    async write(batch: EventBatch, signal: AbortSignal) {
      if (fatal !== undefined) throw fatal;
      if (store === undefined) throw storeErrors.error('ERR_STORE_CLOSED', 'the event store is not open');
      const s = store;
      const n = batch.length;
      const p = commit(s, batch, signal).then(
        () => undefined,
        (e: unknown) => {
          fatal ??= e instanceof Error ? e : new Error(String(e));
        },
      );
      inFlight.set(p, n);
      inFlightEvents += n;
      void p.finally(() => {
        inFlight.delete(p);
        inFlightEvents -= n;
      });
      // Up to maxInFlightEvents are handed over before a write waits for a commit, so the worker can
      // commit several batches together; while the store fails, writes wait here and the queue fills.
      while (inFlightEvents > maxInFlightEvents || (failing !== undefined && inFlight.size > 0)) {
        await Promise.race(inFlight.keys());
      }
      if (fatal !== undefined) throw fatal;
    },
    health(): HealthReport {
      if (failing === undefined) return { status: 'healthy' };
      return {
        status: 'unhealthy',
        reason: `${failing.reason}; retrying since ${new Date(failing.since).toISOString()}, the queue's overflow policy applies meanwhile`,
      };
    },
    async close() {
      await Promise.all(inFlight.keys());
      await store?.close();
    },
  };
}
