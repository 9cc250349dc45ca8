/**
 * The child process a user query runs in, so its time limit can be enforced by killing the process
 * (SQLite's interrupt is not reachable from better-sqlite3, and a worker thread busy inside SQLite
 * cannot be terminated). It opens the store read-only with `query_only` on, has SQLite compile the
 * statement, refuses it unless SQLite says it is read-only and returns rows, then streams the rows to
 * its parent over IPC in chunks, waiting for an acknowledgement after each so memory stays bounded.
 */
import Database from 'better-sqlite3';
import type { QueryChildMessage, QueryParentMessage } from './query-protocol.ts';

const send = (m: QueryChildMessage): Promise<void> =>
  new Promise((resolve) => {
    process.send?.(m, undefined, {}, () => resolve());
  });

let acks: (() => void)[] = [];
const acked = (): Promise<void> => new Promise((resolve) => acks.push(resolve));

async function run(m: Extract<QueryParentMessage, { type: 'query' }>): Promise<void> {
  let db: Database.Database;
  try {
    db = new Database(m.path, { readonly: true, fileMustExist: true });
    db.pragma('query_only = ON');
    // A query scans more pages than the default cache (2 MiB) holds.
    db.pragma('cache_size = -65536');
  } catch (e) {
    await send({
      type: 'error',
      code: 'ERR_QUERY_FAILED',
      message: `cannot open the event store ${m.path}: ${(e as Error).message}`,
    });
    return;
  }
  let stmt: Database.Statement;
  try {
    stmt = db.prepare(m.sql);
  } catch (e) {
    await send({ type: 'error', code: 'ERR_QUERY_FAILED', message: (e as Error).message });
    return;
  }
  if (!stmt.reader || !stmt.readonly) {
    await send({
      type: 'error',
      code: 'ERR_QUERY_REFUSED',
      message: `SQLite reports the statement as ${stmt.readonly ? 'returning no rows' : 'writing'}: only read-only queries run`,
    });
    return;
  }
  stmt.raw(true);
  await send({ type: 'columns', columns: stmt.columns().map((c) => c.name) });
  let chunk: unknown[][] = [];
  let total = 0;
  try {
    for (const row of stmt.iterate() as IterableIterator<unknown[]>) {
      chunk.push(row);
      if (chunk.length >= m.chunkRows) {
        total += chunk.length;
        const next = acked();
        await send({ type: 'rows', rows: chunk });
        chunk = [];
        await next;
      }
    }
  } catch (e) {
    await send({ type: 'error', code: 'ERR_QUERY_FAILED', message: (e as Error).message });
    return;
  }
  total += chunk.length;
  if (chunk.length > 0) {
    const next = acked();
    await send({ type: 'rows', rows: chunk });
    await next;
  }
  await send({ type: 'done', rows: total });
  db.close();
}

process.on('message', (m: QueryParentMessage) => {
  if (m.type === 'ack') {
    const waiting = acks;
    acks = [];
    for (const resolve of waiting) resolve();
  } else if (m.type === 'query') {
    run(m).finally(() => process.disconnect?.());
  }
});
