/**
 * The store's one write connection, synchronous, meant to run in the store's worker thread: opens (or
 * creates) the database in WAL mode and migrates it, inserts a batch in one transaction keyed by
 * sequence number (a record already stored is ignored), and prunes by age, row count and size in
 * small steps so inserts between steps never wait long. It does not schedule anything itself (see
 * `write-worker.ts`) and never talks to the collector.
 */

import type { CollectionEvent, EventKind } from '@daemoneye/core';
import Database from 'better-sqlite3';
import { insertSql, rowValues } from './rows.ts';
import { EVENT_TABLES, KIND_TABLES, migrate, SCHEMA_VERSION } from './schema.ts';

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

/** Rows deleted per prune step (one short transaction). */
export const PRUNE_CHUNK = 5000;

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

function sqliteCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/** The synchronous writer over one database file. */
export class StoreWriter {
  readonly db: Database.Database;
  /** The schema version the file had when opened (0 for a new store). */
  readonly foundVersion: number;
  readonly #inserts: Record<EventKind, Database.Statement>;
  readonly #runs = new Map<string, number>();
  readonly #counts = new Map<string, number>();
  readonly #limits: RetentionLimits;

  constructor(path: string, limits: RetentionLimits) {
    this.#limits = limits;
    this.db = new Database(path);
    try {
      this.db.pragma('busy_timeout = 5000');
      if ((this.db.pragma('user_version', { simple: true }) as number) === 0)
        this.db.pragma('auto_vacuum = INCREMENTAL');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('cache_size = -32768');
      this.foundVersion = migrate(this.db);
      const inserts = {} as Record<EventKind, Database.Statement>;
      for (const kind of Object.keys(KIND_TABLES) as EventKind[]) inserts[kind] = this.db.prepare(insertSql(kind));
      this.#inserts = inserts;
      for (const t of EVENT_TABLES) {
        this.#counts.set(t, (this.db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n);
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
    const added = new Map<string, number>();
    const results: WriteResult[] = [];
    this.db.transaction(() => {
      for (const req of reqs) results.push(this.#insert(req, added));
    })();
    for (const [table, n] of added) this.#counts.set(table, (this.#counts.get(table) ?? 0) + n);
    return results;
  }

  #insert(req: WriteRequest, added: Map<string, number>): WriteResult {
    const rejected: Record<string, number> = {};
    let inserted = 0;
    const run = this.#run(req);
    for (let i = 0; i < req.events.length; i++) {
      const e = req.events[i] as CollectionEvent;
      const stmt = this.#inserts[e?.kind];
      if (stmt === undefined) {
        rejected.invalid_event = (rejected.invalid_event ?? 0) + 1;
        continue;
      }
      try {
        const values = rowValues(e, {
          seq: req.seqs[i] as number,
          run,
          source: req.sources[i] ?? '',
          acceptedAt: req.acceptedAt[i] ?? 0,
          cause: req.causes[i] ?? null,
          depth: req.depths[i] ?? 0,
        });
        const n = stmt.run(values).changes;
        inserted += n;
        if (n > 0) added.set(KIND_TABLES[e.kind], (added.get(KIND_TABLES[e.kind]) ?? 0) + n);
      } catch (err) {
        const code = sqliteCode(err);
        if (isTransientSqliteCode(code)) throw err;
        const reason = code ?? 'invalid_event';
        rejected[reason] = (rejected[reason] ?? 0) + 1;
      }
    }
    const nRejected = Object.values(rejected).reduce((a, b) => a + b, 0);
    return { inserted, duplicates: req.events.length - inserted - nRejected, rejected };
  }

  /** Rows stored, per table and in total. */
  rowCounts(): { readonly total: number; readonly tables: Readonly<Record<string, number>> } {
    const tables = Object.fromEntries(this.#counts);
    return { total: [...this.#counts.values()].reduce((a, b) => a + b, 0), tables };
  }

  /** Bytes of the database's pages in use (freed pages excluded). */
  usedBytes(): number {
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * (this.db.pragma('page_size', { simple: true }) as number);
  }

  #deleteOldest(n: number): number {
    const union = EVENT_TABLES.map((t) => `SELECT seq FROM ${t}`).join(' UNION ALL ');
    const cutoff = this.db.prepare(`SELECT seq FROM (${union}) ORDER BY seq LIMIT 1 OFFSET ?`).get(n - 1) as
      | { seq: number }
      | undefined;
    let deleted = 0;
    this.db.transaction(() => {
      for (const t of EVENT_TABLES) {
        const changes =
          cutoff === undefined
            ? this.db.prepare(`DELETE FROM ${t}`).run().changes
            : this.db.prepare(`DELETE FROM ${t} WHERE seq <= ?`).run(cutoff.seq).changes;
        this.#counts.set(t, (this.#counts.get(t) ?? 0) - changes);
        deleted += changes;
      }
    })();
    return deleted;
  }

  #deleteOlderThan(cutoff: number): number {
    let deleted = 0;
    this.db.transaction(() => {
      for (const t of EVENT_TABLES) {
        if (deleted >= PRUNE_CHUNK) break;
        const changes = this.db
          .prepare(`DELETE FROM ${t} WHERE seq IN (SELECT seq FROM ${t} WHERE time < ? ORDER BY time LIMIT ?)`)
          .run(cutoff, PRUNE_CHUNK - deleted).changes;
        this.#counts.set(t, (this.#counts.get(t) ?? 0) - changes);
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
