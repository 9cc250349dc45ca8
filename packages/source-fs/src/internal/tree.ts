/**
 * What the source knows is in the watched trees: the entry names of every directory it walked, kept
 * current from the events it reports. Both backends use it for the rescan after a queue overflow
 * (a fresh walk compared with it gives the creates and deletes that were lost, and a ctime check the
 * modifications); the inotify backend also uses it to report the files a new directory already held
 * when its watch landed, without reporting them twice. Walks skip excluded paths (and never descend
 * into them) and yield to the event loop every few dozen directories.
 */
import { type Dirent, lstatSync, readdirSync } from 'node:fs';

/** The parent directory of an absolute path and the entry name. */
export function splitPath(path: string): [string, string] {
  const i = path.lastIndexOf('/');
  return [i <= 0 ? '/' : path.slice(0, i), path.slice(i + 1)];
}

/** `dir` joined with `name`. */
export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** One entry a walk found. */
export interface WalkedEntry {
  readonly path: string;
  readonly isDir: boolean;
}

/** Options of {@link Tree.walk}. */
export interface WalkOptions {
  readonly excluded: (path: string) => boolean;
  /** Called for each directory before it is read; false leaves it (and what is beneath) out. */
  readonly enterDir?: ((path: string) => boolean) | undefined;
  /** Called for each entry the tree did not know (skipped when absent). */
  readonly onNew?: (entry: WalkedEntry) => void;
  /** Walk without yielding to the event loop (for a new directory seen in an event: no await between watch and scan). */
  readonly sync?: boolean;
  /** Stops the walk when it aborts. */
  readonly signal?: AbortSignal | undefined;
}

// Directories are read synchronously (see walk): a few dozen between yields keep each stretch to a few ms.
const YIELD_EVERY = 32;

function isDirEntry(d: Dirent): boolean {
  return d.isDirectory();
}

/**
 * A directory's entry names: a `Set` while events change it, otherwise packed into one string,
 * `/a/b/c/` (a name never holds a slash; `/` alone is an empty directory). A walk packs what it read:
 * a set costs about 55 bytes a name in V8, the packed string one byte a character plus the slash, and
 * a watched tree of a quarter of a million entries held some 30 MB of heap as sets.
 */
type Listing = Set<string> | string;

const EMPTY = '/';

function pack(names: ReadonlySet<string>): string {
  return names.size === 0 ? EMPTY : `/${[...names].join('/')}/`;
}

function unpack(listing: Listing): Set<string> {
  if (typeof listing !== 'string') return listing;
  return listing.length <= 1 ? new Set() : new Set(listing.slice(1, -1).split('/'));
}

function listingHas(listing: Listing, name: string): boolean {
  return typeof listing === 'string' ? listing.includes(`/${name}/`) : listing.has(name);
}

function listingSize(listing: Listing): number {
  if (typeof listing !== 'string') return listing.size;
  let n = -1;
  for (let i = listing.indexOf('/'); i !== -1; i = listing.indexOf('/', i + 1)) n++;
  return n;
}

/** Directories and their entry names. */
export class Tree {
  readonly #dirs = new Map<string, Listing>();

  /** Directories known. */
  get dirCount(): number {
    return this.#dirs.size;
  }

  /** Entries known (files and directories). */
  entryCount(): number {
    let n = 0;
    for (const s of this.#dirs.values()) n += listingSize(s);
    return n;
  }

  /** Whether `path` is a known directory. */
  isDir(path: string): boolean {
    return this.#dirs.has(path);
  }

  /** Whether `path` is a known entry. */
  has(path: string): boolean {
    const [dir, name] = splitPath(path);
    const listing = this.#dirs.get(dir);
    return listing !== undefined && listingHas(listing, name);
  }

  /** The listing of `dir` as a set, for changes (a packed listing is unpacked and kept so). */
  #hot(dir: string): Set<string> | undefined {
    const listing = this.#dirs.get(dir);
    if (listing === undefined || typeof listing !== 'string') return listing;
    const names = unpack(listing);
    this.#dirs.set(dir, names);
    return names;
  }

  /** Records `path` (and, for a directory, an empty listing for it unless known). */
  add(path: string, isDir: boolean): void {
    const [dir, name] = splitPath(path);
    this.#record(dir, name);
    if (isDir && !this.#dirs.has(path)) this.#dirs.set(path, EMPTY);
  }

  /** Forgets `path` and, for a directory, everything beneath it; returns the directories forgotten. */
  remove(path: string): string[] {
    const [dir, name] = splitPath(path);
    this.#forget(dir, name);
    // A file (or a directory never walked) has nothing beneath it: no scan of every known directory,
    // which made each removed file cost as much as the tree is large.
    return this.#dirs.has(path) ? this.#dropTree(path) : [];
  }

  /** Moves `from` (and what is beneath it) to `to`; returns the directories now beneath `to`. */
  move(from: string, to: string, isDir: boolean): string[] {
    const [fromDir, fromName] = splitPath(from);
    this.#forget(fromDir, fromName);
    const [toDir, toName] = splitPath(to);
    this.#record(toDir, toName);
    if (!isDir && !this.#dirs.has(from)) return [];
    const moved: string[] = [];
    for (const [d, names] of [...this.#dirs]) {
      if (d !== from && !(d.startsWith(from) && d.charCodeAt(from.length) === 47)) continue;
      this.#dirs.delete(d);
      const next = to + d.slice(from.length);
      this.#dirs.set(next, names);
      moved.push(next);
    }
    return moved;
  }

  /** The known directories at or beneath `root`. */
  dirsUnder(root: string): string[] {
    const out: string[] = [];
    for (const d of this.#dirs.keys())
      if (root === '/' || d === root || (d.startsWith(root) && d.charCodeAt(root.length) === 47)) out.push(d);
    return out;
  }

  /** The known names in `dir` (a copy when the listing is packed). */
  names(dir: string): ReadonlySet<string> | undefined {
    const listing = this.#dirs.get(dir);
    return listing === undefined ? undefined : unpack(listing);
  }

  /** Adds `name` to a known directory's listing (a packed one only when the name is new). */
  #record(dir: string, name: string): void {
    const listing = this.#dirs.get(dir);
    if (listing !== undefined && !listingHas(listing, name)) this.#hot(dir)?.add(name);
  }

  #forget(dir: string, name: string): void {
    const listing = this.#dirs.get(dir);
    if (listing !== undefined && listingHas(listing, name)) this.#hot(dir)?.delete(name);
  }

  #dropTree(path: string): string[] {
    const gone: string[] = [];
    for (const d of [...this.#dirs.keys()]) {
      if (d === path || (d.startsWith(path) && d.charCodeAt(path.length) === 47)) {
        this.#dirs.delete(d);
        gone.push(d);
      }
    }
    return gone;
  }

  /**
   * Walks `root` (a directory), records what it finds, and reports entries it did not know through
   * `onNew` (in walk order, parents before children). Unreadable directories are skipped. Returns
   * the number of directories read.
   */
  async walk(root: string, opts: WalkOptions): Promise<number> {
    if (opts.excluded(root)) return 0;
    const stack = [root];
    let read = 0;
    while (stack.length > 0 && opts.signal?.aborted !== true) {
      const dir = stack.pop() as string;
      if (opts.enterDir !== undefined && !opts.enterDir(dir)) continue;
      let entries: Dirent[];
      // Read on the calling thread, which keeps the collector's capabilities after a privilege drop
      // (Node's thread pool, where an asynchronous readdir runs, has none): one directory at a time,
      // with a yield to the event loop every YIELD_EVERY directories.
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      read++;
      const known = this.#dirs.get(dir);
      const names = known === undefined ? new Set<string>() : unpack(known);
      this.#dirs.set(dir, names);
      const subdirs: string[] = [];
      for (const d of entries) {
        const path = joinPath(dir, d.name);
        if (opts.excluded(path)) continue;
        const isDir = isDirEntry(d);
        if (!names.has(d.name)) {
          names.add(d.name);
          opts.onNew?.({ path, isDir });
        }
        if (isDir) subdirs.push(path);
      }
      // Packed once read, unless a callback changed the listing meanwhile.
      if (this.#dirs.get(dir) === names) this.#dirs.set(dir, pack(names));
      // Depth first, in directory order: reversed onto the stack.
      for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i] as string);
      if (opts.sync !== true && read % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r));
    }
    return read;
  }

  /**
   * Compares `root` on disk with what is known: returns what appeared (`created`, parents first),
   * what went (`deleted`), and known files whose ctime is at or after `sinceMs` (`changed`); the
   * tree is updated to match the disk.
   */
  async rescan(
    root: string,
    sinceMs: number,
    opts: Pick<WalkOptions, 'excluded' | 'enterDir'>,
  ): Promise<{ created: WalkedEntry[]; deleted: WalkedEntry[]; changed: string[] }> {
    const fresh = new Tree();
    // Read at once: events handled meanwhile would otherwise change what is compared.
    await fresh.walk(root, { ...opts, sync: true });
    const created: WalkedEntry[] = [];
    const deleted: WalkedEntry[] = [];
    const changed: string[] = [];
    const before = new Set(this.dirsUnder(root));
    for (const dir of fresh.dirsUnder(root).sort()) {
      const now = fresh.names(dir) ?? new Set<string>();
      const known = this.#dirs.get(dir);
      const old = known === undefined ? undefined : unpack(known);
      for (const name of now) {
        const path = joinPath(dir, name);
        if (old === undefined || !old.has(name)) created.push({ path, isDir: fresh.isDir(path) });
        else if (!fresh.isDir(path)) {
          try {
            if (lstatSync(path).ctimeMs >= sinceMs) changed.push(path);
          } catch {
            // Gone since the walk: the next event or rescan reports it.
          }
        }
      }
      if (old !== undefined)
        for (const name of old)
          if (!now.has(name)) deleted.push({ path: joinPath(dir, name), isDir: this.isDir(joinPath(dir, name)) });
      before.delete(dir);
    }
    // Known directories the walk did not reach: gone (their parent reports the delete itself).
    for (const dir of before) {
      for (const name of this.names(dir) ?? []) {
        const path = joinPath(dir, name);
        deleted.push({ path, isDir: this.isDir(path) });
      }
    }
    for (const dir of this.dirsUnder(root)) this.#dirs.delete(dir);
    for (const dir of fresh.dirsUnder(root)) this.#dirs.set(dir, fresh.#dirs.get(dir) ?? EMPTY);
    return { created, deleted, changed };
  }
}
