/**
 * Options of the filesystem source, their documented defaults (declared once in `fsSourceSchema`),
 * and their validation: bad values throw `ERR_CONFIG_INVALID` at construction, naming the field and
 * the value. Globs are compiled here with picomatch. This module reads nothing from the OS.
 */
import { isAbsolute, resolve } from 'node:path';
import { CollectorError, type ConfigSchema, field, type Logger } from '@daemoneye/core';
import picomatch from 'picomatch';

/** Which kernel interface reports the changes. */
export type FsBackendChoice = 'auto' | 'fanotify' | 'inotify';

/** The operations the source can report (`access` is off by default: reads are many). */
export type FsOperationName = 'create' | 'modify' | 'delete' | 'rename' | 'attrib' | 'access';

const OPERATIONS: readonly FsOperationName[] = ['create', 'modify', 'delete', 'rename', 'attrib', 'access'];

/** Options of {@link createFsSource}; every field is optional. */
export interface FsSourceOptions {
  /** The source's name (default `'filesystem'`). */
  readonly name?: string;
  /** Trees to watch, absolute (default /etc, /usr/bin, /usr/sbin, /home, /root, /tmp; missing ones are skipped). */
  readonly paths?: readonly string[];
  /** Report only paths matching one of these globs (default: all). */
  readonly include?: readonly string[];
  /** Neither watch nor report paths matching these globs; a matching directory is not descended into. */
  readonly exclude?: readonly string[];
  /** More paths to exclude with everything beneath them (the collector's data directory goes here). */
  readonly excludeTrees?: readonly string[];
  /** `auto` (fanotify when privileged, else inotify) or one backend. */
  readonly backend?: FsBackendChoice;
  /** fanotify: mark whole filesystems (default) or mounts (mount marks carry no create, delete or rename). */
  readonly fanotifyMark?: 'filesystem' | 'mount';
  /** Operations to report (default all but `access`). */
  readonly operations?: readonly FsOperationName[];
  /** Modify events on one file within this many ms become one event with a count (default 500; 0 off). */
  readonly coalesceMs?: number;
  /** SHA-256 the file on close-after-write when its path matches one of these globs (default none). */
  readonly hash?: readonly string[];
  /** Largest file hashed, in bytes (default 64 MiB). */
  readonly hashMaxBytes?: number;
  /** inotify: most directories watched (default 65,536); beyond it the source runs degraded. */
  readonly maxWatches?: number;
  /** Most events a second the source sends; the rest are counted as lost (`rate_limited`). 0: no limit (default 2,000). */
  readonly rateLimit?: number;
  readonly logger?: Logger;
}

/** The `[sources.filesystem]` section. */
export const fsSourceSchema = {
  paths: field(
    'string[]',
    ['/etc', '/usr/bin', '/usr/sbin', '/home', '/root', '/tmp'],
    'Trees to watch (absolute paths; missing ones are skipped)',
  ),
  include: field('string[]', [], 'Report only paths matching one of these globs (empty: all)'),
  exclude: field(
    'string[]',
    [],
    'Neither watch nor report paths matching these globs (the data directory is always excluded)',
  ),
  backend: field('enum', 'auto', 'Change reporting: auto (fanotify when privileged, else inotify), fanotify, inotify', {
    values: ['auto', 'fanotify', 'inotify'],
  }),
  fanotify_mark: field('enum', 'filesystem', 'fanotify marks: filesystem, or mount (no create, delete or rename)', {
    values: ['filesystem', 'mount'],
  }),
  operations: field(
    'string[]',
    ['create', 'modify', 'delete', 'rename', 'attrib'],
    'Operations to report: create, modify, delete, rename, attrib, access',
  ),
  coalesce_window: field(
    'duration',
    500,
    'Modify events on one file within this window become one, with a count (0: off)',
    {
      min: 0,
    },
  ),
  hash: field('string[]', [], 'SHA-256 files matching these globs when closed after a write (empty: none)'),
  hash_max_size: field('bytes', 64 * 1024 * 1024, 'Largest file hashed', { min: 0 }),
  max_watches: field('integer', 65_536, 'inotify: most directories watched; beyond it the source is degraded', {
    min: 1,
  }),
  rate_limit: field('integer', 2000, 'Most events a second; the rest are counted as lost (0: no limit)', { min: 0 }),
} as const satisfies ConfigSchema;

const F = fsSourceSchema;

/** Options with defaults applied and globs compiled. */
export interface ResolvedFsSourceOptions {
  readonly name: string;
  readonly paths: readonly string[];
  readonly included: (path: string) => boolean;
  readonly excluded: (path: string) => boolean;
  readonly hashed: (path: string) => boolean;
  readonly backend: FsBackendChoice;
  readonly fanotifyMark: 'filesystem' | 'mount';
  readonly operations: ReadonlySet<FsOperationName>;
  readonly coalesceMs: number;
  readonly hashMaxBytes: number;
  readonly maxWatches: number;
  readonly rateLimit: number;
  readonly logger: Logger | undefined;
}

const LAYER = 'FsSourceOptions';

function invalid(name: string, value: unknown, expected: string): never {
  throw new CollectorError('ERR_CONFIG_INVALID', `${LAYER}.${name} must be ${expected}, got ${JSON.stringify(value)}`, {
    details: { field: name, value, layer: LAYER },
  });
}

function strings(name: string, value: unknown, fallback: readonly string[]): readonly string[] {
  if (value === undefined) return fallback;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === ''))
    invalid(name, value, 'a list of non-empty strings');
  return [...new Set(value as string[])];
}

function count(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
    invalid(name, value, `an integer of at least ${min}`);
  return value;
}

const GLOB = { dot: true } as const;

/** A matcher over `globs`, or undefined for none. Throws ERR_CONFIG_INVALID for a glob picomatch rejects. */
function compile(name: string, globs: readonly string[]): ((path: string) => boolean) | undefined {
  if (globs.length === 0) return undefined;
  try {
    return picomatch(globs as string[], GLOB);
  } catch (e) {
    return invalid(name, globs, `valid globs (${(e as Error).message})`);
  }
}

/** A path without a trailing slash ('/' stays). */
export function trimSlash(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

/** Validates `options` and applies the defaults; throws `ERR_CONFIG_INVALID` naming the field. */
export function resolveFsSourceOptions(options: FsSourceOptions = {}): ResolvedFsSourceOptions {
  const o = options;
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name.trim() === ''))
    invalid('name', o.name, 'a non-empty string');
  const paths = strings('paths', o.paths, F.paths.default).map((p) => {
    if (!isAbsolute(p)) invalid('paths', o.paths, 'absolute paths');
    return trimSlash(resolve(p));
  });
  const include = compile('include', strings('include', o.include, []));
  const excludeGlobs = compile('exclude', strings('exclude', o.exclude, []));
  const trees = strings('excludeTrees', o.excludeTrees, []).map((p) => {
    if (!isAbsolute(p)) invalid('excludeTrees', o.excludeTrees, 'absolute paths');
    return trimSlash(resolve(p));
  });
  const hashed = compile('hash', strings('hash', o.hash, []));
  const backend = o.backend ?? (F.backend.default as FsBackendChoice);
  if (!['auto', 'fanotify', 'inotify'].includes(backend)) invalid('backend', backend, 'auto, fanotify or inotify');
  const fanotifyMark = o.fanotifyMark ?? (F.fanotify_mark.default as 'filesystem' | 'mount');
  if (fanotifyMark !== 'filesystem' && fanotifyMark !== 'mount')
    invalid('fanotifyMark', fanotifyMark, 'filesystem or mount');
  const operations = strings('operations', o.operations, F.operations.default);
  for (const op of operations)
    if (!OPERATIONS.includes(op as FsOperationName))
      invalid('operations', o.operations, `a list of ${OPERATIONS.join(', ')}`);
  if (paths.length === 0) invalid('paths', o.paths, 'at least one path');
  const excludedSelf = (path: string): boolean => {
    for (const t of trees) if (path === t || (path.startsWith(t) && path.charCodeAt(t.length) === 47)) return true;
    return excludeGlobs?.(path) ?? false;
  };
  // A path is excluded when it or a directory above it matches: walks never enter an excluded
  // directory, and fanotify's filesystem marks still see beneath it. Directory answers are cached.
  const dirs = new Map<string, boolean>();
  const dirExcluded = (dir: string): boolean => {
    const known = dirs.get(dir);
    if (known !== undefined) return known;
    const slash = dir.lastIndexOf('/');
    const answer = excludedSelf(dir) || (slash > 0 && dirExcluded(dir.slice(0, slash)));
    if (dirs.size >= 65_536) dirs.clear();
    dirs.set(dir, answer);
    return answer;
  };
  const excluded = (path: string): boolean => {
    if (excludedSelf(path)) return true;
    const slash = path.lastIndexOf('/');
    return slash > 0 && dirExcluded(path.slice(0, slash));
  };
  return {
    name: o.name ?? 'filesystem',
    paths,
    included: include ?? (() => true),
    excluded,
    hashed: hashed ?? (() => false),
    backend,
    fanotifyMark,
    operations: new Set(operations as FsOperationName[]),
    coalesceMs: count('coalesceMs', o.coalesceMs, F.coalesce_window.default, 0),
    hashMaxBytes: count('hashMaxBytes', o.hashMaxBytes, F.hash_max_size.default, 0),
    maxWatches: count('maxWatches', o.maxWatches, F.max_watches.default, 1),
    rateLimit: count('rateLimit', o.rateLimit, F.rate_limit.default, 0),
    logger: o.logger,
  };
}
