/**
 * The store's one write connection, synchronous, meant to run in the store's worker thread: opens (or
 * creates) the database in WAL mode and migrates it, inserts a batch in one transaction keyed by
 * sequence number (a record already stored is ignored), and prunes by age, row count and size in
 * small steps so inserts between steps never wait long. Rows go up to {@link ROW_CHUNK} per statement;
 * process events as compact rows, their strings interned through a bounded cache of ids. It does
 * not schedule anything itself (see `write-worker.ts`) and never talks to the collector.
 */

import type { CollectionEvent, EventKind } from '@daemoneye/core';
import Database from 'better-sqlite3';
import {
  COMPACT_ROWS,
  type CompactRows,
  compactInsertSql,
  InvalidEventError,
  insertSql,
  rowValues,
  rowWidth,
  type SqlValue,
  type StringIds,
} from './rows.ts';
import { KIND_TABLES, migrate, SCHEMA_VERSION, STORAGE_TABLES, STRING_REFERENCES } from './schema.ts';

/** Retention limits; 0 means no limit. */
export interface RetentionLimits {
  readonly maxAgeMs: number;
  readonly maxSizeBytes: number;
  readonly maxRows: number;
}

/** One batch, as the worker receives it. */
export interface WriteRequest {
  readonly runId: string;
  readonly hostname: string;
  readonly machineId: string | null;
  readonly seqs: readonly number[];
  readonly sources: readonly string[];
  readonly acceptedAt: readonly number[];
  readonly causes: readonly (number | null)[];
  readonly depths: readonly number[];
  readonly events: readonly CollectionEvent[];
}

/** What a write did. */
export interface WriteResult {
  /** Rows inserted. */
  readonly inserted: number;
  /** Events whose sequence number was already stored. */
  readonly duplicates: number;
  /** Events that could not be stored, by reason (`invalid_event`, or a SQLite code such as `SQLITE_CONSTRAINT_NOTNULL`). */
  readonly rejected: Readonly<Record<string, number>>;
}

/** What one prune step removed. */
export interface PruneStep {
  readonly byAge: number;
  readonly byRows: number;
  readonly bySize: number;
  /** True when every limit holds after this step. */
  readonly done: boolean;
}

/** Process rows whose string ids one sweep step marks. */
export const SWEEP_CHUNK = 50_000;

/** Rows deleted per prune step (one short transaction). */
export const PRUNE_CHUNK = 5000;

/** Rows per `INSERT` statement, for every kind: one statement per row costs more than the row itself. */
export const ROW_CHUNK = 32;

/** Strings whose ids the writer remembers; beyond that, the cache starts again empty. */
export const STRING_CACHE_SIZE = 65_536;

/**
 * The `strings` table seen through a cache of ids. Ids handed out inside a transaction are forgotten
 * when it rolls back ({@link StringTable.rollback}), since the rows behind them are gone.
 */
class StringTable implements StringIds {
  readonly #cache = new Map<string, number>();
  readonly #select: Database.Statement<[string], { id: number }>;
  readonly #insert: Database.Statement<[string]>;
  #added: string[] = [];

  constructor(db: Database.Database) {
    this.#select = db.prepare('SELECT id FROM strings WHERE value = ?');
    this.#insert = db.prepare('INSERT INTO strings (value) VALUES (?)');
  }

  id(value: string): number {
    const known = this.#cache.get(value);
    if (known !== undefined) return known;
    let id = this.#select.get(value)?.id;
    if (id === undefined) {
      id = Number(this.#insert.run(value).lastInsertRowid);
      this.#added.push(value);
    }
    if (this.#cache.size >= STRING_CACHE_SIZE) this.#cache.clear();
    this.#cache.set(value, id);
    return id;
  }

  /** The transaction committed: its new strings are stored. */
  commit(): void {
    this.#added = [];
  }

  /** The transaction rolled back: its new strings are gone. */
  rollback(): void {
    for (const v of this.#added) this.#cache.delete(v);
    this.#added = [];
  }

  /** Forgets every id (after strings were deleted). */
  clear(): void {
    this.#cache.clear();
    this.#added = [];
  }
}

/**
 * SQLite failures that say nothing about the batch (a full disk, an I/O error, a lock held too
 * long): the same batch can be written once the condition passes.
 */
export function isTransientSqliteCode(code: string | undefined): boolean {
  return (
    code !== undefined &&
    /^SQLITE_(FULL|IOERR|BUSY|LOCKED|CANTOPEN|READONLY|NOMEM|PROTOCOL)/.test(code) &&
    code !== 'SQLITE_READONLY_DBMOVED'
  );
}

const KINDS = Object.keys(KIND_TABLES) as EventKind[];

function sqliteCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/** The page size of a store this writer creates, in bytes. */
export const STORE_PAGE_SIZE = 8192;
/** How large the WAL grows between two automatic checkpoints, in bytes. */
const WAL_CHECKPOINT_BYTES = 80 * 1024 * 1024;

/**
 * A kind's INSERT statements by row count (1 to {@link ROW_CHUNK}, each prepared when first needed, so a
 * batch's last partial chunk is one statement too) and the parameters one row takes.
 */
interface KindInsert {
  readonly width: number;
  /** How the kind's rows are built when it is stored as compact rows. */
  readonly compact: CompactRows | undefined;
  readonly sql: (rows: number) => string;
  readonly byRows: (Database.Statement | undefined)[];
}
type KindInserts = Record<EventKind, KindInsert>;

/** The synchronous writer over one database file. */
export class StoreWriter {
  readonly db: Database.Database;
  /** The schema version the file had when opened (0 for a new store). */
  readonly foundVersion: number;
  readonly #tables: KindInserts;
  readonly #strings: StringTable;
  readonly #runs = new Map<string, number>();
  readonly #counts = new Map<EventKind, number>();
  readonly #limits: RetentionLimits;

  constructor(path: string, limits: RetentionLimits) {
    this.#limits = limits;
    this.db = new Database(path);
    try {
      this.db.pragma('busy_timeout = 5000');
      if ((this.db.pragma('user_version', { simple: true }) as number) === 0) {
        // A new store: 8 KiB pages (set before the first table; a store keeps its page size). The pid
        // index takes its rows in no order, and with pages twice as large an insert splits half as
        // often (measured: 3-5 % more rows per second than with 4 KiB pages).
        this.db.pragma(`page_size = ${STORE_PAGE_SIZE}`);
        this.db.pragma('auto_vacuum = INCREMENTAL');
      }
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      // A 16 MiB page cache: inserts touch the newest pages of each table and index, and a larger cache
      // only fills with older pages as the store grows (64 MiB measured: the same rows per second, and
      // the writer's resident memory still rising after ten minutes at 600 events/s).
      this.db.pragma('cache_size = -16384');
      this.db.pragma('temp_store = MEMORY');
      // Fewer, larger checkpoints: the WAL grows to about 80 MiB between two of them (measured: 8-10 %
      // more rows per second than at 40 MiB).
      const pageSize = this.db.pragma('page_size', { simple: true }) as number;
      this.db.pragma(`wal_autocheckpoint = ${Math.round(WAL_CHECKPOINT_BYTES / pageSize)}`);
      this.foundVersion = migrate(this.db);
      const tables = {} as KindInserts;
      for (const kind of KINDS) {
        const compact = COMPACT_ROWS[kind];
        tables[kind] =
          compact === undefined
            ? { width: rowWidth(kind), compact, sql: (rows) => insertSql(kind, rows), byRows: [] }
            : {
                width: compact.columns.length,
                compact,
                sql: (rows) => compactInsertSql(STORAGE_TABLES[kind], compact.columns, rows),
                byRows: [],
              };
      }
      this.#tables = tables;
      this.#strings = new StringTable(this.db);
      for (const kind of KINDS) {
        const t = STORAGE_TABLES[kind];
        this.#counts.set(kind, (this.db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n);
      }
    } catch (e) {
      this.db.close();
      throw e;
    }
  }

  /** The schema version now in the file. */
  get schemaVersion(): number {
    return SCHEMA_VERSION;
  }

  #run(req: WriteRequest): number {
    const known = this.#runs.get(req.runId);
    if (known !== undefined) return known;
    this.db
      .prepare('INSERT OR IGNORE INTO runs (run_id, hostname, machine_id, first_seen) VALUES (?, ?, ?, ?)')
      .run(req.runId, req.hostname, req.machineId, Date.now());
    const row = this.db.prepare('SELECT run FROM runs WHERE run_id = ?').get(req.runId) as { run: number };
    this.#runs.set(req.runId, row.run);
    return row.run;
  }

  /** Inserts one batch in one transaction; see {@link StoreWriter.writeMany}. */
  write(req: WriteRequest): WriteResult {
    return this.writeMany([req])[0] as WriteResult;
  }

  /**
   * Inserts several batches in one transaction (group commit), with a result per batch. A transient
   * failure (full disk, I/O error) rolls every one of them back and throws, so they can be written
   * again; an event that cannot be stored is skipped and counted in `rejected`.
   */
  writeMany(reqs: readonly WriteRequest[]): WriteResult[] {
    const added = new Map<EventKind, number>();
    const results: WriteResult[] = [];
    try {
      this.db.transaction(() => {
        for (const req of reqs) results.push(this.#insert(req, added));
      })();
    } catch (e) {
      this.#strings.rollback();
      throw e;
    }
    this.#strings.commit();
    for (const [kind, n] of added) this.#counts.set(kind, (this.#counts.get(kind) ?? 0) + n);
    return results;
  }

  #insert(req: WriteRequest, added: Map<EventKind, number>): WriteResult {
    const rejected: Record<string, number> = {};
    const reject = (reason: string): void => {
      rejected[reason] = (rejected[reason] ?? 0) + 1;
    };
    let inserted = 0;
    const count = (kind: EventKind, n: number): void => {
      inserted += n;
      if (n > 0) added.set(kind, (added.get(kind) ?? 0) + n);
    };
    // Rows of each kind gathered for one INSERT of up to ROW_CHUNK rows. A chunk SQLite refuses (one
    // row breaks a constraint) was not applied at all, so it goes again row by row and only that row
    // is rejected.
    const flush = (kind: EventKind, values: SqlValue[]): void => {
      const t = this.#tables[kind];
      const rows = values.length / t.width;
      if (rows > 1) {
        try {
          count(kind, this.#statement(t, rows).run(values).changes);
          return;
        } catch (err) {
          if (isTransientSqliteCode(sqliteCode(err))) throw err;
        }
      }
      const one = this.#statement(t, 1);
      for (let at = 0; at < values.length; at += t.width) {
        try {
          count(kind, one.run(values.slice(at, at + t.width)).changes);
        } catch (err) {
          const code = sqliteCode(err);
          if (isTransientSqliteCode(code)) throw err;
          reject(code ?? 'invalid_event');
        }
      }
    };
    const gathered = new Map<EventKind, SqlValue[]>();
    const run = this.#run(req);
    let sourceOf = '';
    let sourceId = 0;
    for (let i = 0; i < req.events.length; i++) {
      const e = req.events[i] as CollectionEvent;
      const kind = e?.kind;
      const t = this.#tables[kind];
      if (t === undefined) {
        reject('invalid_event');
        continue;
      }
      const record = {
        seq: req.seqs[i] as number,
        run,
        source: req.sources[i] ?? '',
        acceptedAt: req.acceptedAt[i] ?? 0,
        cause: req.causes[i] ?? null,
        depth: req.depths[i] ?? 0,
      };
      let values = gathered.get(kind);
      if (values === undefined) {
        values = [];
        gathered.set(kind, values);
      }
      const mark = values.length;
      try {
        if (t.compact !== undefined) {
          if (record.source !== sourceOf || sourceId === 0) {
            sourceId = this.#strings.id(record.source);
            sourceOf = record.source;
          }
          t.compact.append(e, record, this.#strings, sourceId, values);
        } else rowValues(e, record, values);
      } catch (err) {
        // A compact row's strings go into the database as it is built: a failure there is SQLite's.
        if (t.compact !== undefined && !(err instanceof InvalidEventError)) throw err;
        // An event that cannot be a row (a missing field, a value JSON cannot hold) adds nothing.
        values.length = mark;
        reject('invalid_event');
        continue;
      }
      if (values.length === t.width * ROW_CHUNK) {
        flush(kind, values);
        gathered.set(kind, []);
      }
    }
    for (const [kind, values] of gathered) if (values.length > 0) flush(kind, values);
    const nRejected = Object.values(rejected).reduce((a, b) => a + b, 0);
    return { inserted, duplicates: req.events.length - inserted - nRejected, rejected };
  }

  /** The INSERT of `rows` rows of a kind, prepared on first use. */
  #statement(t: KindInsert, rows: number): Database.Statement {
    let st = t.byRows[rows];
    if (st === undefined) {
      st = this.db.prepare(t.sql(rows));
      t.byRows[rows] = st;
    }
    return st;
  }

  /** Rows stored, per table and in total. */
  rowCounts(): { readonly total: number; readonly tables: Readonly<Record<string, number>> } {
    const tables = Object.fromEntries([...this.#counts].map(([kind, n]) => [KIND_TABLES[kind], n]));
    return { total: [...this.#counts.values()].reduce((a, b) => a + b, 0), tables };
  }

  /** Bytes of the database's pages in use (freed pages excluded). */
  usedBytes(): number {
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * (this.db.pragma('page_size', { simple: true }) as number);
  }

  #deleteOldest(n: number): number {
    const union = KINDS.map((k) => `SELECT seq FROM ${STORAGE_TABLES[k]}`).join(' UNION ALL ');
    const cutoff = this.db.prepare(`SELECT seq FROM (${union}) ORDER BY seq LIMIT 1 OFFSET ?`).get(n - 1) as
      | { seq: number }
      | undefined;
    let deleted = 0;
    this.db.transaction(() => {
      for (const kind of KINDS) {
        const t = STORAGE_TABLES[kind];
        const changes =
          cutoff === undefined
            ? this.db.prepare(`DELETE FROM ${t}`).run().changes
            : this.db.prepare(`DELETE FROM ${t} WHERE seq <= ?`).run(cutoff.seq).changes;
        this.#counts.set(kind, (this.#counts.get(kind) ?? 0) - changes);
        deleted += changes;
      }
    })();
    return deleted;
  }

  #deleteOlderThan(cutoff: number): number {
    let deleted = 0;
    this.db.transaction(() => {
      for (const kind of KINDS) {
        if (deleted >= PRUNE_CHUNK) break;
        const t = STORAGE_TABLES[kind];
        const changes = this.db
          .prepare(`DELETE FROM ${t} WHERE seq IN (SELECT seq FROM ${t} WHERE time < ? ORDER BY time LIMIT ?)`)
          .run(cutoff, PRUNE_CHUNK - deleted).changes;
        this.#counts.set(kind, (this.#counts.get(kind) ?? 0) - changes);
        deleted += changes;
      }
    })();
    return deleted;
  }

  /**
   * One prune step: removes at most {@link PRUNE_CHUNK} rows — events older than `maxAgeMs` first,
   * then the oldest (by sequence number) beyond `maxRows`, then the oldest while the pages in use
   * exceed `maxSizeBytes` (down to 90% of it) — and gives freed pages back to the file system.
   */
  pruneStep(now: number = Date.now()): PruneStep {
    const { maxAgeMs, maxRows, maxSizeBytes } = this.#limits;
    if (maxAgeMs > 0) {
      const byAge = this.#deleteOlderThan(now - maxAgeMs);
      if (byAge > 0) return this.#vacuumed({ byAge, byRows: 0, bySize: 0, done: false });
    }
    const { total } = this.rowCounts();
    if (maxRows > 0 && total > maxRows) {
      const byRows = this.#deleteOldest(Math.min(PRUNE_CHUNK, total - maxRows));
      return this.#vacuumed({ byAge: 0, byRows, bySize: 0, done: false });
    }
    if (maxSizeBytes > 0 && total > 0) {
      const used = this.usedBytes();
      if (used > maxSizeBytes) {
        const share = (used - 0.9 * maxSizeBytes) / used;
        const n = Math.max(1, Math.min(PRUNE_CHUNK, Math.ceil(total * share)));
        const bySize = this.#deleteOldest(n);
        return this.#vacuumed({ byAge: 0, byRows: 0, bySize, done: false });
      }
    }
    return { byAge: 0, byRows: 0, bySize: 0, done: true };
  }

  /**
   * One step of the sweep that deletes the strings no stored row refers to any more (pruned rows
   * leave theirs behind): the first step notes the newest row of each table that refers to strings
   * (process and filesystem rows) and the newest string, then each step marks the ids of the next
   * {@link SWEEP_CHUNK} rows of one table in a temporary table; the last step, in one transaction,
   * also marks the rows written since the sweep began (they may reuse an old id) and deletes the
   * unmarked strings no newer than the sweep's start. Returns the strings deleted once done.
   */
  sweepStringsStep(): { done: boolean; deleted: number } {
    if (this.#sweep === undefined) {
      this.db.exec('CREATE TEMP TABLE IF NOT EXISTS live_strings (id INTEGER PRIMARY KEY); DELETE FROM live_strings;');
      const until = STRING_REFERENCES.map(
        ({ table }) => (this.db.prepare(`SELECT max(seq) AS s FROM ${table}`).get() as { s: number | null }).s ?? 0,
      );
      const maxId = (this.db.prepare('SELECT max(id) AS i FROM strings').get() as { i: number | null }).i ?? 0;
      this.#sweep = { table: 0, from: Number.MIN_SAFE_INTEGER, until, maxId };
    }
    const sw = this.#sweep;
    const { table } = STRING_REFERENCES[sw.table] as (typeof STRING_REFERENCES)[number];
    const until = sw.until[sw.table] as number;
    const next = this.db
      .prepare(`SELECT seq FROM ${table} WHERE seq > ? ORDER BY seq LIMIT 1 OFFSET ?`)
      .get(sw.from, SWEEP_CHUNK - 1) as { seq: number } | undefined;
    const upper = next === undefined || next.seq >= until ? until : next.seq;
    this.#markStrings(sw.table).run({ from: sw.from, to: upper });
    sw.from = upper;
    if (upper < until) return { done: false, deleted: 0 };
    if (sw.table + 1 < STRING_REFERENCES.length) {
      sw.table++;
      sw.from = Number.MIN_SAFE_INTEGER;
      return { done: false, deleted: 0 };
    }
    let deleted = 0;
    this.db.transaction(() => {
      STRING_REFERENCES.forEach((_, t) => {
        this.#markStrings(t).run({ from: sw.until[t] as number, to: Number.MAX_SAFE_INTEGER });
      });
      deleted = this.db
        .prepare('DELETE FROM strings WHERE id <= ? AND id NOT IN (SELECT id FROM live_strings)')
        .run(sw.maxId).changes;
      this.db.exec('DELETE FROM live_strings');
    })();
    this.#sweep = undefined;
    if (deleted > 0) this.#strings.clear();
    return { done: true, deleted };
  }

  /** The sweep under way: the table being marked (an index into `STRING_REFERENCES`) and how far. */
  #sweep: { table: number; from: number; until: number[]; maxId: number } | undefined;

  /** Marks the string ids the rows of `STRING_REFERENCES[t]` with `from < seq <= to` refer to. */
  #markStrings(t: number): Database.Statement<[{ from: number; to: number }]> {
    let st = this.#markStatements[t];
    if (st === undefined) {
      const { table, columns } = STRING_REFERENCES[t] as (typeof STRING_REFERENCES)[number];
      st = this.db.prepare(
        `INSERT OR IGNORE INTO live_strings (id) ${columns
          .map((c) => `SELECT ${c} FROM ${table} WHERE seq > @from AND seq <= @to AND ${c} IS NOT NULL`)
          .join(' UNION ')}`,
      );
      this.#markStatements[t] = st;
    }
    return st;
  }

  readonly #markStatements: (Database.Statement<[{ from: number; to: number }]> | undefined)[] = [];

  /** Strings stored (for the sweep's tests and statistics). */
  stringCount(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM strings').get() as { n: number }).n;
  }

  #vacuumed(step: PruneStep): PruneStep {
    this.db.pragma('incremental_vacuum(4096)');
    return step;
  }

  /** Writes the WAL back into the database file and truncates it (after a prune pass). */
  checkpoint(): void {
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
