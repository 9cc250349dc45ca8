/**
 * `OwnerIndex`: which process holds each socket inode, found through the `socket:[INODE]` links under
 * /proc/PID/fd and kept between dumps so the next dump costs little. A lookup whose inodes are all
 * known touches nothing. Otherwise it re-reads the list of pids (each pid's identity is its start
 * time: a reused pid is a new process), lists each process's fds and reads only the links of fd
 * numbers it has not seen; only when inodes are still missing does it re-read the links it holds
 * (an fd number closed and reused for a new socket), and inodes still not found after that are
 * remembered as owner-less until they leave the dump. It runs synchronously over a small port —
 * inside the owner worker thread in production, over fixtures in tests — and emits nothing.
 */

/** Synchronous /proc access; every method returns `undefined` (or a negative errno for `listFds`) on failure. */
export interface FdTablePort {
  /** The numeric entries of /proc. */
  listPids(): number[];
  /** Field 22 of /proc/PID/stat (start time in clock ticks) as text. */
  startTime(pid: number): string | undefined;
  /** /proc/PID/comm without the newline. */
  comm(pid: number): string | undefined;
  /** The fd numbers under /proc/PID/fd, or `-errno` (EACCES 13 when not permitted). */
  listFds(pid: number): string[] | number;
  /** The target of /proc/PID/fd/FD. */
  readLink(pid: number, fd: string): string | undefined;
}

/** The owner of one inode. */
export interface SocketOwner {
  readonly pid: number;
  readonly name: string;
}

/** Why an inode has no owner. */
export type OwnerMissReason = 'not_found' | 'not_permitted';

/** What a lookup found, and what it cost. */
export interface OwnerLookup {
  readonly owners: Map<number, SocketOwner>;
  /** Inodes without an owner, with the reason. */
  readonly missing: Map<number, OwnerMissReason>;
  /** Processes whose fd directory was listed, links read, and whether /proc was walked at all. */
  readonly pidsListed: number;
  readonly linksRead: number;
  readonly walked: boolean;
}

interface ProcEntry {
  readonly start: string;
  readonly name: string;
  /** fd number → socket inode (0: not a socket). */
  readonly fds: Map<string, number>;
}

const EACCES = 13;

function socketInode(link: string | undefined): number {
  if (link === undefined || !link.startsWith('socket:[')) return 0;
  const n = Number(link.slice(8, -1));
  return Number.isInteger(n) ? n : 0;
}

/** The inode → process index. */
export class OwnerIndex {
  readonly #port: FdTablePort;
  readonly #procs = new Map<number, ProcEntry>();
  readonly #inodes = new Map<number, number>();
  /** Inodes searched for in full and not found, with the reason. */
  readonly #ownerless = new Map<number, OwnerMissReason>();
  #denied = 0;

  constructor(port: FdTablePort) {
    this.#port = port;
  }

  /** Processes and socket inodes held. */
  get size(): { processes: number; inodes: number } {
    return { processes: this.#procs.size, inodes: this.#inodes.size };
  }

  /** Owners of `inodes` (the inodes of one whole dump; 0 is never looked up). */
  lookup(inodes: Iterable<number>): OwnerLookup {
    const wanted = new Set<number>();
    for (const i of inodes) if (i !== 0) wanted.add(i);
    for (const i of this.#ownerless.keys()) if (!wanted.has(i)) this.#ownerless.delete(i);
    const unknown = (): number[] => [...wanted].filter((i) => !this.#inodes.has(i) && !this.#ownerless.has(i));
    let pidsListed = 0;
    let linksRead = 0;
    let walked = false;
    if (unknown().length > 0) {
      walked = true;
      const first = this.#refresh(false);
      pidsListed += first.listed;
      linksRead += first.links;
      if (unknown().length > 0) {
        const second = this.#refresh(true);
        pidsListed += second.listed;
        linksRead += second.links;
        const reason: OwnerMissReason = this.#denied > 0 ? 'not_permitted' : 'not_found';
        for (const i of unknown()) this.#ownerless.set(i, reason);
      }
    }
    const owners = new Map<number, SocketOwner>();
    const missing = new Map<number, OwnerMissReason>();
    for (const i of wanted) {
      const pid = this.#inodes.get(i);
      const entry = pid === undefined ? undefined : this.#procs.get(pid);
      if (pid !== undefined && entry !== undefined) owners.set(i, { pid, name: entry.name });
      else missing.set(i, this.#ownerless.get(i) ?? 'not_found');
    }
    return { owners, missing, pidsListed, linksRead, walked };
  }

  /** Re-reads the pid list and fd tables; with `relink`, also the links already held. */
  #refresh(relink: boolean): { listed: number; links: number } {
    const port = this.#port;
    const live = new Set(port.listPids());
    for (const pid of this.#procs.keys()) if (!live.has(pid)) this.#forget(pid);
    let listed = 0;
    let links = 0;
    this.#denied = 0;
    for (const pid of live) {
      const start = port.startTime(pid);
      if (start === undefined) {
        this.#forget(pid);
        continue;
      }
      let entry = this.#procs.get(pid);
      if (entry !== undefined && entry.start !== start) {
        this.#forget(pid);
        entry = undefined;
      }
      const fds = port.listFds(pid);
      listed++;
      if (typeof fds === 'number') {
        if (fds === -EACCES) this.#denied++;
        continue;
      }
      if (entry === undefined) {
        entry = { start, name: port.comm(pid) ?? '', fds: new Map() };
        this.#procs.set(pid, entry);
      }
      const present = new Set(fds);
      for (const [fd, inode] of entry.fds) {
        if (present.has(fd)) continue;
        entry.fds.delete(fd);
        if (inode !== 0 && this.#inodes.get(inode) === pid) this.#inodes.delete(inode);
      }
      for (const fd of fds) {
        const held = entry.fds.get(fd);
        if (held !== undefined && !relink) continue;
        const inode = socketInode(port.readLink(pid, fd));
        links++;
        if (held !== undefined && held !== inode && held !== 0 && this.#inodes.get(held) === pid) {
          this.#inodes.delete(held);
        }
        entry.fds.set(fd, inode);
        // A socket shared by several processes (a forked server) is credited to the first one found.
        if (inode !== 0 && !this.#inodes.has(inode)) this.#inodes.set(inode, pid);
      }
    }
    return { listed, links };
  }

  #forget(pid: number): void {
    const entry = this.#procs.get(pid);
    if (entry === undefined) return;
    for (const inode of entry.fds.values())
      if (inode !== 0 && this.#inodes.get(inode) === pid) this.#inodes.delete(inode);
    this.#procs.delete(pid);
  }
}
