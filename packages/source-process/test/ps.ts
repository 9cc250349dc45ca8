/** Ground truth for scan tests: what `ps` lists. */
import { execFileSync } from 'node:child_process';

/** The pids `ps -e` lists (kernel threads included). */
export const psPids = (): Set<number> =>
  new Set(
    execFileSync('ps', ['-e', '-o', 'pid='], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map(Number),
  );
