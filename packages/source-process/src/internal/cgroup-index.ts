/**
 * The cgroup of every process from the cgroup file systems, read once per scan: each hierarchy's
 * `cgroup.procs` files list the processes of each cgroup, so a walk over a few dozen cgroups replaces
 * reading `/proc/<pid>/cgroup` for thousands of processes (three system calls each). The answer for a
 * process is exactly what its own `cgroup` file would give (same lines, same rules), and it answers
 * "don't know" — the caller then reads the file — for any process the walk did not place in exactly
 * one cgroup of every hierarchy (started after the walk, moved during it, a zombie, threads split
 * across cgroups, or outside this cgroup namespace). It builds nothing when a hierarchy of this
 * process is not mounted whole, or when the walk would cost more than the reads it saves.
 */
import {
  type CgroupInfo,
  type CgroupLine,
  type CgroupMount,
  cgroupInfo,
  holdsContainer,
  parseCgroupLines,
  parseCgroupMounts,
} from './proc-parse.ts';
import type { ProcReader } from './proc-reader.ts';

/** A hierarchy of this process's `/proc/self/cgroup`, with where it is mounted whole. */
interface Hierarchy {
  readonly id: string;
  readonly controllers: string;
  readonly mountPoint: string;
}

/** Several cgroups of one hierarchy listed the process (threads split, or it moved mid-walk). */
const AMBIGUOUS = '';

/**
 * Cgroups of every process found by the walk. Only the primary hierarchy (the unified one, else the
 * first line) gives the reported path, and the others only matter for a container id, so they are
 * indexed only for cgroups whose path holds one: a process absent there is in a cgroup without one.
 */
export class CgroupIndex {
  readonly #hierarchies: readonly Hierarchy[];
  readonly #primary: number;
  readonly #members: readonly Map<number, string>[];
  readonly #infos = new Map<string, CgroupInfo | undefined>();

  constructor(hierarchies: readonly Hierarchy[], primary: number, members: readonly Map<number, string>[]) {
    this.#hierarchies = hierarchies;
    this.#primary = primary;
    this.#members = members;
  }

  /** The cgroup of `pid` as its `/proc/<pid>/cgroup` would give it, or `null` when unknown. */
  lookup(pid: number): CgroupInfo | undefined | null {
    const paths: string[] = [];
    for (let i = 0; i < this.#members.length; i++) {
      const path = this.#members[i]?.get(pid);
      if (path === AMBIGUOUS) return null;
      if (path === undefined) {
        if (i === this.#primary) return null;
        paths.push('/');
      } else paths.push(path);
    }
    const key = paths.length === 1 ? (paths[0] ?? '') : paths.join('\n');
    if (this.#infos.has(key)) return this.#infos.get(key);
    const lines: CgroupLine[] = this.#hierarchies.map((h, i) => ({
      id: h.id,
      controllers: h.controllers,
      path: paths[i] ?? '/',
    }));
    const info = cgroupInfo(lines);
    this.#infos.set(key, info);
    return info;
  }
}

/**
 * Where each hierarchy of `selfCgroup` (this process's `/proc/self/cgroup`) is mounted with its whole
 * tree visible (root `/`), from `mountinfo`; `undefined` when one is not. A v1 mount belongs to the
 * hierarchy whose controllers are exactly the controllers among its options.
 */
export function mountedHierarchies(selfCgroup: string, mountinfo: string): Hierarchy[] | undefined {
  const lines = parseCgroupLines(selfCgroup);
  const mounts = parseCgroupMounts(mountinfo).filter((m) => m.root === '/');
  const allControllers = new Set(lines.flatMap((l) => (l.controllers === '' ? [] : l.controllers.split(','))));
  const controllersOf = (m: CgroupMount): string =>
    m.superOptions
      .filter((o) => allControllers.has(o))
      .sort()
      .join(',');
  const hierarchies: Hierarchy[] = [];
  for (const line of lines) {
    const v2 = line.id === '0' && line.controllers === '';
    const wanted = line.controllers.split(',').sort().join(',');
    const mount = mounts.find((m) =>
      v2 ? m.fsType === 'cgroup2' : m.fsType === 'cgroup' && controllersOf(m) === wanted,
    );
    if (mount === undefined) return undefined;
    hierarchies.push({ id: line.id, controllers: line.controllers, mountPoint: mount.mountPoint });
  }
  return hierarchies.length > 0 ? hierarchies : undefined;
}

/** Too many cgroups to visit: the walk would cost more than it saves. */
class OverBudget extends Error {}

/**
 * Walks every hierarchy this process belongs to and indexes the processes of each cgroup. Returns
 * `undefined` (read per process instead) when the reader cannot list directories, a hierarchy is not
 * mounted whole, its top cannot be read, or more than `maxCgroups` cgroup directories would be
 * visited. The primary hierarchy is walked first, so a process it lists already existed when the
 * others were walked.
 */
export function buildCgroupIndex(reader: ProcReader, procRoot: string, maxCgroups: number): CgroupIndex | undefined {
  const listDirectories = reader.listDirectories?.bind(reader);
  if (listDirectories === undefined) return undefined;
  let hierarchies: Hierarchy[] | undefined;
  try {
    hierarchies = mountedHierarchies(
      reader.readFile(`${procRoot}/self/cgroup`),
      reader.readFile(`${procRoot}/self/mountinfo`),
    );
  } catch {
    return undefined;
  }
  if (hierarchies === undefined) return undefined;
  // The unified hierarchy gives the path when there is one, else the first line (see `cgroupInfo`).
  const unified = hierarchies.findIndex((h) => h.id === '0' && h.controllers === '');
  const primary = Math.max(unified, 0);
  let budget = maxCgroups;
  const walk = (h: Hierarchy, all: boolean): Map<number, string> => {
    const found = new Map<number, string>();
    const pending: string[] = [''];
    for (let rel = pending.pop(); rel !== undefined; rel = pending.pop()) {
      if (--budget < 0) throw new OverBudget();
      const dir = `${h.mountPoint}${rel}`;
      const path = rel === '' ? '/' : rel;
      let procs = '';
      let children: string[];
      try {
        if (all || holdsContainer(path)) procs = reader.readFile(`${dir}/cgroup.procs`);
        children = listDirectories(dir);
      } catch (e) {
        // A cgroup removed mid-walk: its processes are not found and are read per process.
        if (rel === '') throw e;
        continue;
      }
      for (const line of procs.split('\n')) {
        if (line === '') continue;
        const pid = Number(line);
        found.set(pid, found.has(pid) ? AMBIGUOUS : path);
      }
      for (const name of children) pending.push(`${rel}/${name}`);
    }
    return found;
  };
  try {
    const members: Map<number, string>[] = hierarchies.map(() => new Map());
    members[primary] = walk(hierarchies[primary] as Hierarchy, true);
    for (const [i, h] of hierarchies.entries()) if (i !== primary) members[i] = walk(h, false);
    return new CgroupIndex(hierarchies, primary, members);
  } catch {
    // Over budget, or no permission at the top of a hierarchy: read per process this time.
    return undefined;
  }
}
