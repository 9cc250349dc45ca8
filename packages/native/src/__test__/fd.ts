/**
 * Helpers shared by native's own tests: what a file descriptor of this process points at now. Not
 * shipped (the build leaves `__test__` out).
 */
import { readlinkSync } from 'node:fs';

/** The target of `/proc/self/fd/<fd>` (`anon_inode:inotify`, `socket:[123]`), or undefined once closed. */
export function fdTarget(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}
