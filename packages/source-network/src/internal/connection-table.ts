/**
 * `ConnectionTable`: the connections seen by the previous dump, and what changed in the next one.
 * A connection is keyed by protocol, family and both endpoints (plus the inode for listening and
 * unconnected sockets, which may share an address through SO_REUSEPORT); its id also carries the
 * inode it was first seen with, so a new connection reusing a 4-tuple gets a new id. A connection
 * `close`s when it leaves the kernel's table or enters TIME_WAIT/CLOSE (what remains is a timer);
 * TIME_WAIT entries never seen open are tracked silently. Pure: records in, changes out.
 */
import { isListening, type SocketRecord } from '../socket-record.ts';
import type { OwnerMissReason, SocketOwner } from './owner-index.ts';

/** A connection the table holds. */
export interface TrackedConnection {
  readonly id: string;
  record: SocketRecord;
  owner: SocketOwner | undefined;
  missReason: OwnerMissReason | undefined;
  /** In TIME_WAIT/CLOSE: reported closed, kept until the kernel drops it. */
  ended: boolean;
}

/** One change between two dumps. */
export interface ConnectionChange {
  readonly subtype: 'open' | 'close' | 'state_change';
  readonly connection: TrackedConnection;
  readonly previousState?: string;
}

const ENDED = new Set(['TIME_WAIT', 'CLOSE']);

/** The table key of a record. */
export function connectionKey(r: SocketRecord): string {
  const base = `${r.protocol}${r.family} ${r.srcAddr}:${r.srcPort} ${r.dstAddr}:${r.dstPort}`;
  return isListening(r) || r.dstPort === 0 ? `${base} i${r.inode}` : base;
}

function newConnection(key: string, r: SocketRecord): TrackedConnection {
  return {
    id: `${key.split(' i')[0]} i${r.inode}`,
    record: r,
    owner: undefined,
    missReason: undefined,
    ended: ENDED.has(r.state),
  };
}

/** Connections between dumps. */
export class ConnectionTable {
  readonly #byKey = new Map<string, TrackedConnection>();

  /** Connections held (TIME_WAIT ones included). */
  get size(): number {
    return this.#byKey.size;
  }

  /** Every connection held, ended ones included. */
  connections(): IterableIterator<TrackedConnection> {
    return this.#byKey.values();
  }

  /**
   * Takes a whole dump and returns the changes since the previous one, plus the connections that are
   * new (their owners still to be looked up). On the first call (`initial`), existing connections are
   * returned as new without changes.
   */
  update(
    records: readonly SocketRecord[],
    initial: boolean,
  ): { changes: ConnectionChange[]; added: TrackedConnection[] } {
    const changes: ConnectionChange[] = [];
    const added: TrackedConnection[] = [];
    const seen = new Set<string>();
    for (const r of records) {
      const key = connectionKey(r);
      if (seen.has(key)) continue;
      seen.add(key);
      const held = this.#byKey.get(key);
      if (held !== undefined && !(r.inode !== 0 && held.record.inode !== 0 && r.inode !== held.record.inode)) {
        const before = held.record.state;
        held.record = r.inode === 0 && held.record.inode !== 0 ? { ...r, inode: held.record.inode } : r;
        if (before === r.state || held.ended) continue;
        if (ENDED.has(r.state)) {
          held.ended = true;
          changes.push({ subtype: 'close', connection: held, previousState: before });
        } else {
          changes.push({ subtype: 'state_change', connection: held, previousState: before });
        }
        continue;
      }
      if (held !== undefined) {
        // The same 4-tuple with another inode: the old connection ended between dumps.
        if (!held.ended) changes.push({ subtype: 'close', connection: held, previousState: held.record.state });
      }
      const c = newConnection(key, r);
      this.#byKey.set(key, c);
      if (c.ended) continue;
      added.push(c);
      if (!initial) changes.push({ subtype: 'open', connection: c });
    }
    for (const [key, c] of this.#byKey) {
      if (seen.has(key)) continue;
      this.#byKey.delete(key);
      if (!c.ended) changes.push({ subtype: 'close', connection: c, previousState: c.record.state });
    }
    return { changes, added };
  }
}
