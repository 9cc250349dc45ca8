/**
 * `runQuery`: one user query against a store, read-only and time-limited. The text passes the
 * allow-list (`checkReadOnlySql`) first; then a child process opens the store read-only, has SQLite
 * confirm the statement is a read-only query and streams its rows back in chunks. At the time limit
 * (or when `signal` aborts) the child is killed, which stops even a query that never yields a row.
 * The call settles once the child has exited, so nothing holds the store afterwards.
 * It formats nothing (the command prints tables, JSON lines or CSV).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { storeErrors } from './errors.ts';
import type { QueryChildMessage, QueryParentMessage } from './internal/query-protocol.ts';
import { checkReadOnlySql } from './sql-guard.ts';

/** Options of {@link runQuery}. */
export interface QueryOptions {
  /** The store's database file. */
  readonly path: string;
  readonly sql: string;
  /** The query is stopped after this many ms (default 30,000). */
  readonly timeoutMs?: number;
  /** Aborting stops the query (it then rejects with the signal's reason). */
  readonly signal?: AbortSignal;
  /** Rows per chunk handed to `onRows` (default 1,000). */
  readonly chunkRows?: number;
  /** Called once, before any row, with the column names. */
  onColumns?(columns: readonly string[]): void;
  /** Called with each chunk of rows (arrays in column order); the next chunk waits for a returned promise. */
  onRows?(rows: readonly (readonly unknown[])[]): void | Promise<void>;
}

/** The default time limit of a query, ms. */
export const DEFAULT_QUERY_TIMEOUT_MS = 30_000;

function runnerUrl(moduleUrl: string = import.meta.url): URL {
  let base = moduleUrl;
  if (base.endsWith('.ts')) {
    const at = base.lastIndexOf('/src/');
    base = `${base.slice(0, at)}/dist/${base.slice(at + 5, -3)}.js`;
  }
  return new URL('./internal/query-runner.js', base);
}

/**
 * Runs one read-only query and resolves with the number of rows. Rejects with `ERR_QUERY_REFUSED`
 * for a statement that could write, attach, load an extension or change a pragma (nothing is run),
 * `ERR_QUERY_FAILED` for SQL SQLite rejects or a store that cannot be opened, `ERR_QUERY_TIMEOUT`
 * when the time limit passed.
 */
export function runQuery(options: QueryOptions): Promise<{ readonly rows: number }> {
  try {
    checkReadOnlySql(options.sql);
  } catch (e) {
    return Promise.reject(e);
  }
  if (!existsSync(options.path)) {
    return Promise.reject(
      storeErrors.error('ERR_QUERY_FAILED', `no event store at ${options.path}: run the collector first`, {
        details: { path: options.path },
      }),
    );
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child: ChildProcess = fork(runnerUrl(), [], {
      execArgv: [],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let settled = false;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    const finish = (e: Error | undefined, rows = 0): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      const settle = (): void => {
        if (e !== undefined) reject(e);
        else resolve({ rows });
      };
      // Settled once the child is gone, so nothing holds the store any more when the caller goes on
      // (removes the file, unmounts its filesystem).
      if (child.exitCode === null && child.signalCode === null) {
        child.once('exit', settle);
        child.kill('SIGKILL');
      } else settle();
    };
    const timer = setTimeout(() => {
      finish(
        storeErrors.error('ERR_QUERY_TIMEOUT', `the query was stopped at its time limit of ${timeoutMs} ms`, {
          details: { timeoutMs },
        }),
      );
    }, timeoutMs);
    const onAbort = (): void =>
      finish(options.signal?.reason instanceof Error ? options.signal.reason : new Error('aborted'));
    if (options.signal?.aborted === true) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('message', (m: QueryChildMessage) => {
      if (settled) return;
      switch (m.type) {
        case 'columns':
          options.onColumns?.(m.columns);
          return;
        case 'rows':
          Promise.resolve(options.onRows?.(m.rows)).then(
            () => {
              if (!settled && child.connected) child.send({ type: 'ack' } satisfies QueryParentMessage);
            },
            (e: unknown) => finish(e instanceof Error ? e : new Error(String(e))),
          );
          return;
        case 'done':
          finish(undefined, m.rows);
          return;
        case 'error':
          finish(storeErrors.error(m.code, m.message, { details: { sql: options.sql } }));
          return;
      }
    });
    child.on('error', (e) => finish(storeErrors.error('ERR_QUERY_FAILED', `cannot run the query: ${e.message}`)));
    child.on('exit', (code, signal) => {
      finish(
        storeErrors.error(
          'ERR_QUERY_FAILED',
          `the query process ended (${signal ?? `exit ${code}`}) ${stderr.trim()}`.trim(),
        ),
      );
    });
    child.send({
      type: 'query',
      path: options.path,
      sql: options.sql,
      chunkRows: options.chunkRows ?? 1000,
    } satisfies QueryParentMessage);
  });
}
