/**
 * The store's write worker: owns the one write connection (a {@link StoreWriter}) so inserts and
 * pruning never run on the collector's event loop. Requests are answered in arrival order; a prune
 * pass (on its interval, or asked for) runs one short step at a time and lets queued writes run
 * between steps, so pruning never holds inserts up for more than one step. Ends on `stop`, after
 * the request being handled, closing the database.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { PruneTotals, WorkerReply, WorkerRequest, WriterWorkerData } from './protocol.ts';
import { isTransientSqliteCode, StoreWriter, type WriteRequest, type WriteResult } from './store-writer.ts';

/** Events queued that are committed at once, without waiting out the window. */
const GROUP_COMMIT_EVENTS = 10_000;
/**
 * How long the first batch queued waits for others before it is committed. A commit rewrites every
 * index page it touched, so one of 8,000 rows costs far less per row than eight of 1,000 (measured:
 * 5 µs against 7 µs a row); the wait only delays when a query sees the rows, not the collector.
 */
const GROUP_COMMIT_WINDOW_MS = 5;

const port = parentPort;
const data = workerData as WriterWorkerData;

function failure(id: number | null, e: unknown): WorkerReply {
  const code = (e as { code?: unknown }).code;
  const sqliteCode = typeof code === 'string' && code.startsWith('SQLITE_') ? code : null;
  return {
    type: 'failed',
    id,
    sqliteCode,
    message: e instanceof Error ? e.message : String(e),
    transient: isTransientSqliteCode(sqliteCode ?? undefined),
    ...((e as { newer?: unknown }).newer === true ? { newer: true } : {}),
  };
}

if (port !== null) {
  const post = (m: WorkerReply): void => port.postMessage(m);
  let writer: StoreWriter | undefined;
  try {
    writer = new StoreWriter(data.path, data.limits);
    post({ type: 'ready', foundVersion: writer.foundVersion, schemaVersion: writer.schemaVersion });
  } catch (e) {
    post(failure(null, e));
    port.close();
  }
  if (writer !== undefined) {
    const w = writer;
    let pruning:
      | {
          byAge: number;
          byRows: number;
          bySize: number;
          strings: number;
          swept: boolean;
          started: number;
          ids: number[];
        }
      | undefined;
    let stopped = false;

    const pruneStep = (): void => {
      const p = pruning;
      if (p === undefined || stopped) return;
      try {
        const step = w.pruneStep();
        p.byAge += step.byAge;
        p.byRows += step.byRows;
        p.bySize += step.bySize;
        if (!step.done) {
          setImmediate(pruneStep);
          return;
        }
        // Rows went: the strings only they referred to go too, in steps between writes.
        if (p.byAge + p.byRows + p.bySize > 0 && !p.swept) {
          const sweep = w.sweepStringsStep();
          p.strings += sweep.deleted;
          if (!sweep.done) {
            setImmediate(pruneStep);
            return;
          }
          p.swept = true;
        }
        if (p.byAge + p.byRows + p.bySize > 0) w.checkpoint();
        const totals: PruneTotals = {
          byAge: p.byAge,
          byRows: p.byRows,
          bySize: p.bySize,
          strings: p.strings,
          durationMs: Math.round(performance.now() - p.started),
        };
        pruning = undefined;
        if (p.ids.length === 0) post({ type: 'pruned', id: null, totals });
        for (const id of p.ids) post({ type: 'pruned', id, totals });
      } catch (e) {
        pruning = undefined;
        if (p.ids.length === 0) post(failure(null, e));
        for (const id of p.ids) post(failure(id, e));
      }
    };
    const startPrune = (id: number | null): void => {
      if (pruning !== undefined) {
        if (id !== null) pruning.ids.push(id);
        return;
      }
      pruning = {
        byAge: 0,
        byRows: 0,
        bySize: 0,
        strings: 0,
        swept: false,
        started: performance.now(),
        ids: id === null ? [] : [id],
      };
      setImmediate(pruneStep);
    };
    // Batches that arrived while the worker was busy are committed together (group commit).
    let queued: (WriteRequest & { id: number })[] = [];
    let queuedEvents = 0;
    let window: NodeJS.Timeout | undefined;
    const flush = (): void => {
      if (window !== undefined) clearTimeout(window);
      window = undefined;
      const group = queued;
      queued = [];
      queuedEvents = 0;
      if (group.length === 0) return;
      try {
        const results = w.writeMany(group);
        group.forEach((req, i) => {
          post({ type: 'written', id: req.id, result: results[i] as WriteResult });
        });
      } catch (e) {
        for (const req of group) post(failure(req.id, e));
      }
    };
    const timer = data.pruneIntervalMs > 0 ? setInterval(() => startPrune(null), data.pruneIntervalMs) : undefined;
    timer?.unref();

    port.on('message', (m: WorkerRequest) => {
      switch (m.type) {
        case 'write':
          queued.push(m);
          queuedEvents += m.events.length;
          if (queued.length === 1) window = setTimeout(flush, GROUP_COMMIT_WINDOW_MS);
          else if (queuedEvents >= GROUP_COMMIT_EVENTS) flush();
          return;
        case 'prune':
          startPrune(m.id);
          return;
        case 'stats': {
          flush();
          const counts = w.rowCounts();
          post({
            type: 'stats',
            id: m.id,
            stats: {
              rows: counts.total,
              tables: counts.tables,
              usedBytes: w.usedBytes(),
              schemaVersion: w.schemaVersion,
            },
          });
          return;
        }
        case 'stop':
          flush();
          stopped = true;
          if (timer !== undefined) clearInterval(timer);
          w.close();
          port.close();
          return;
      }
    });
  }
}
