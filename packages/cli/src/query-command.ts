/**
 * `daemoneye-collector query "SELECT ..."`: runs one read-only query against the event store of the
 * configured `data_dir` (and `[sinks.store] file`) through `runQuery` from the store package (which
 * refuses anything that would write, attach, load an extension or change a pragma, and stops the
 * query at `query.timeout`), then prints an aligned table, JSON lines (`--json`) or CSV (`--csv`).
 * JSON lines and CSV stream; while they do, a terminal on stderr shows how many rows were written so
 * far (once a second, after the first second). It opens nothing for writing.
 */
import type { Writable } from 'node:stream';
import type { LoadedConfig } from '@daemoneye/core';
import { resolveStorePath, runQuery } from '@daemoneye/store-sqlite';

/** How `query` prints rows. */
export type QueryFormat = 'table' | 'json' | 'csv';

/** Where `query` writes, and how often it reports progress. */
export interface QueryIo {
  readonly stdout: NodeJS.WritableStream & Writable;
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Progress interval on a terminal in ms (default 1,000). */
  readonly progressIntervalMs?: number;
}

/** The store file a configuration points at. */
export function configuredStorePath(loaded: LoadedConfig): string {
  const dataDir = loaded.get('data_dir');
  const file = loaded.get('sinks.store.file');
  return resolveStorePath(
    typeof file === 'string' ? file : 'events.db',
    typeof dataDir === 'string' ? dataDir : undefined,
  );
}

function text(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (v instanceof Uint8Array) return `x'${Buffer.from(v).toString('hex')}'`;
  return String(v);
}

/** A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break; NULL is empty. */
function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = text(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function jsonValue(v: unknown): unknown {
  return v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v;
}

async function put(out: Writable, chunk: string): Promise<void> {
  if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', resolve));
}

/** Prints rows as an aligned table; numbers right-aligned, NULL shown as `NULL`. */
export function formatTable(columns: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = rows.map((r) => r.map(text));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const numeric = columns.map(
    (_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || r[i] === null),
  );
  const line = (vals: readonly string[], header: boolean): string =>
    vals
      .map((v, i) => (numeric[i] && !header ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const out = [line(columns, true), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of cells) out.push(line(r, false));
  out.push(`(${rows.length} row${rows.length === 1 ? '' : 's'})`);
  return `${out.join('\n')}\n`;
}

/** Runs the query and prints it; resolves with the number of rows. Rejects with the store's errors. */
export async function runQueryCommand(
  loaded: LoadedConfig,
  sql: string,
  format: QueryFormat,
  io: QueryIo,
): Promise<number> {
  const path = configuredStorePath(loaded);
  const timeoutMs = loaded.get('query.timeout') as number;
  let columns: readonly string[] = [];
  const table: (readonly unknown[])[] = [];
  let written = 0;
  const started = Date.now();
  const interval = io.progressIntervalMs ?? 1000;
  let shown = false;
  const progress =
    format !== 'table' && io.stderr.isTTY === true
      ? setInterval(() => {
          if (Date.now() - started < interval) return;
          shown = true;
          io.stderr.write(`\r${written.toLocaleString('en-US')} rows written`);
        }, interval)
      : undefined;
  try {
    const result = await runQuery({
      path,
      sql,
      timeoutMs,
      onColumns: (c) => {
        columns = c;
        if (format === 'csv') io.stdout.write(`${c.map(csvField).join(',')}\r\n`);
      },
      onRows: async (rows) => {
        if (format === 'table') {
          table.push(...rows);
          return;
        }
        let chunk = '';
        for (const r of rows) {
          if (format === 'csv') chunk += `${r.map(csvField).join(',')}\r\n`;
          else chunk += `${JSON.stringify(Object.fromEntries(columns.map((c, i) => [c, jsonValue(r[i])])))}\n`;
        }
        written += rows.length;
        await put(io.stdout, chunk);
      },
    });
    if (format === 'table') await put(io.stdout, formatTable(columns, table));
    return result.rows;
  } finally {
    if (progress !== undefined) clearInterval(progress);
    if (shown) io.stderr.write(`\r${written.toLocaleString('en-US')} rows written\n`);
  }
}
