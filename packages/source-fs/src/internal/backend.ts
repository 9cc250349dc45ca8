/**
 * What the two backends hand the source: changes in the kernel's order, already paired (a rename
 * with its old and new path) and with the acting process when the backend knows it, and the count of
 * queue overflows. Filtering by globs, coalescing, stat, hashing and sending are the source's.
 */
import type { Logger } from '@daemoneye/core';
import type { Tree } from './tree.ts';

/** A change a backend reports. `close_write` is internal: it ends a run of modifies and may hash. */
export type ChangeOp = 'create' | 'delete' | 'modify' | 'attrib' | 'rename' | 'access' | 'close_write';

/** One change, in the kernel's order. */
export interface Change {
  readonly op: ChangeOp;
  readonly path: string;
  readonly oldPath?: string | undefined;
  readonly isDir: boolean;
  readonly pid?: number | undefined;
  readonly processName?: string | undefined;
  readonly uid?: number | undefined;
  /** Found by a scan rather than reported by the kernel. */
  readonly rescan?: boolean;
}

/** What the source gives a backend. */
export interface BackendContext {
  readonly roots: readonly string[];
  readonly tree: Tree;
  readonly excluded: (path: string) => boolean;
  readonly emit: (changes: readonly Change[]) => void;
  /** The kernel's queue overflowed `count` times: events were lost. */
  readonly overflow: (count: number) => void;
  readonly error: (err: Error) => void;
  readonly logger: Logger;
  readonly signal: AbortSignal;
}

/** A running backend. */
export interface Backend {
  readonly kind: 'fanotify' | 'inotify';
  /** Called by rescans for each directory before it is read; false leaves it out. */
  readonly enterDir: ((path: string) => boolean) | undefined;
  /** Settles once the first walk of the trees is done (rescans wait for it). */
  readonly walked: Promise<void>;
  /** Why the backend sees less than asked (a watch limit), or undefined. */
  degraded(): string | undefined;
  /** Directories watched (inotify) or marks placed (fanotify). */
  watches(): number;
  close(): Promise<void>;
}
