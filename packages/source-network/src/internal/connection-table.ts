/**
 * `ConnectionTable`: the connections seen by the previous dump, and what changed in the next one,
 * computed over socket batches with numeric hashes (an open-addressing table of row numbers), so a
 * dump with nothing new makes no object per socket. A connection is keyed by protocol, family and
 * both endpoints (plus the inode for listening and unconnected sockets, which may share an address
 * through SO_REUSEPORT; Unix sockets by inode); its id also carries the inode it was first seen with,
 * so a new connection reusing a 4-tuple gets a new id. A connection `close`s when it leaves the
 * kernel's table or enters TIME_WAIT/CLOSE (what remains is a timer); TIME_WAIT entries never seen
 * open are tracked silently. Pure: batches in, changes out.
 */
import type { SocketBatch } from './socket-batch.ts';

/** A connection of one dump: a row of a batch, with what the table carried over for it. */
export interface ConnectionRef {
  readonly batch: SocketBatch;
  readonly row: number;
  /** The inode the connection was first seen with (part of its id; the key of its owner). */
  readonly firstInode: number;
}

/** One change between two dumps. */
export interface ConnectionChange {
  readonly subtype: 'open' | 'close' | 'state_change';
  readonly connection: ConnectionRef;
  /** The state the event reports: the new state, or `CLOSE` for a connection gone from the table. */
  readonly state: string;
  readonly previousState?: string;
}

const EMPTY = -1;

/** The connection id of a row. */
export function connectionId(c: ConnectionRef): string {
  return `${c.batch.keyText(c.row)} i${c.firstInode}`;
}

function isEnded(state: string): boolean {
  return state === 'TIME_WAIT' || state === 'CLOSE';
}

interface Generation {
  readonly batch: SocketBatch;
  /** Open-addressing table of row numbers (EMPTY for a free slot); its size is a power of two. */
  readonly slots: Int32Array;
  readonly hashes: Uint32Array;
  /** Rows held (kept by the filter, first of their key), in dump order. */
  readonly rows: Int32Array;
  readonly firstInode: Uint32Array;
  readonly ended: Uint8Array;
}

/** Connections between dumps. */
export class ConnectionTable {
  #gen: Generation | undefined;

  /** Connections held (TIME_WAIT ones included). */
  get size(): number {
    return this.#gen?.rows.length ?? 0;
  }

  /** Every connection held, ended ones included. */
  *connections(): IterableIterator<ConnectionRef & { readonly ended: boolean }> {
    const g = this.#gen;
    if (g === undefined) return;
    for (const row of g.rows)
      yield { batch: g.batch, row, firstInode: g.firstInode[row] ?? 0, ended: g.ended[row] === 1 };
  }

  /**
   * Takes a whole dump and returns the changes since the previous one, plus the connections that are
   * new (their owners still to be looked up). On the first call (`initial`), existing connections are
   * returned as new without changes. Rows `keep` rejects are treated as absent.
   */
  update(
    batch: SocketBatch,
    initial: boolean,
    keep?: (row: number) => boolean,
  ): { changes: ConnectionChange[]; added: ConnectionRef[] } {
    const n = batch.length;
    let size = 16;
    while (size < n * 2) size *= 2;
    const mask = size - 1;
    const slots = new Int32Array(size).fill(EMPTY);
    const hashes = new Uint32Array(n);
    const firstInode = new Uint32Array(n);
    const ended = new Uint8Array(n);
    const rows = new Int32Array(n);
    let held = 0;
    const prev = this.#gen;
    const matched = prev === undefined ? undefined : new Uint8Array(prev.batch.length);
    const changes: ConnectionChange[] = [];
    const added: ConnectionRef[] = [];
    for (let i = 0; i < n; i++) {
      if (keep !== undefined && !keep(i)) continue;
      const h = batch.hash(i);
      let s = h & mask;
      let dup = false;
      for (;;) {
        const r = slots[s] as number;
        if (r === EMPTY) break;
        if (hashes[r] === h && batch.same(i, batch, r)) {
          dup = true;
          break;
        }
        s = (s + 1) & mask;
      }
      if (dup) continue;
      slots[s] = i;
      hashes[i] = h;
      rows[held++] = i;
      const state = batch.stateName(i);
      const inode = batch.inode(i);
      const j = prev === undefined ? EMPTY : find(prev, h, batch, i);
      if (prev !== undefined && matched !== undefined && j !== EMPTY) {
        const heldInode = prev.firstInode[j] as number;
        // The inode the previous row stood for: its own, or the one it inherited when it lost it.
        const prevInode = prev.batch.inode(j) !== 0 ? prev.batch.inode(j) : heldInode;
        if (!(inode !== 0 && prevInode !== 0 && inode !== prevInode)) {
          matched[j] = 1;
          firstInode[i] = heldInode;
          const before = prev.batch.stateName(j);
          const wasEnded = prev.ended[j] === 1;
          ended[i] = wasEnded ? 1 : 0;
          if (before === state || wasEnded) continue;
          const connection = { batch, row: i, firstInode: heldInode };
          if (isEnded(state)) {
            ended[i] = 1;
            changes.push({ subtype: 'close', connection, state, previousState: before });
          } else {
            changes.push({ subtype: 'state_change', connection, state, previousState: before });
          }
          continue;
        }
        // The same 4-tuple with another inode: the old connection ended between dumps.
        matched[j] = 1;
        if (prev.ended[j] !== 1) {
          const before = prev.batch.stateName(j);
          changes.push({
            subtype: 'close',
            connection: { batch: prev.batch, row: j, firstInode: heldInode },
            state: 'CLOSE',
            previousState: before,
          });
        }
      }
      firstInode[i] = inode;
      if (isEnded(state)) {
        ended[i] = 1;
        continue;
      }
      const c = { batch, row: i, firstInode: inode };
      added.push(c);
      if (!initial) changes.push({ subtype: 'open', connection: c, state });
    }
    if (prev !== undefined && matched !== undefined) {
      for (const j of prev.rows) {
        if (matched[j] === 1 || prev.ended[j] === 1) continue;
        const before = prev.batch.stateName(j);
        changes.push({
          subtype: 'close',
          connection: { batch: prev.batch, row: j, firstInode: prev.firstInode[j] as number },
          state: 'CLOSE',
          previousState: before,
        });
      }
    }
    this.#gen = { batch, slots, hashes, rows: rows.subarray(0, held), firstInode, ended };
    return { changes, added };
  }
}

function find(g: Generation, h: number, batch: SocketBatch, i: number): number {
  const mask = g.slots.length - 1;
  let s = h & mask;
  for (;;) {
    const r = g.slots[s] as number;
    if (r === EMPTY) return EMPTY;
    if (g.hashes[r] === h && batch.same(i, g.batch, r)) return r;
    s = (s + 1) & mask;
  }
}
