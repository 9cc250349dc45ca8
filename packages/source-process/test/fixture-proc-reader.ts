/**
 * A `ProcReader` over a recorded directory (see fixtures/proc-sample/README.md): paths are read
 * under the fixture root, `<name>.errno` files make a read fail with that code, `<name>.link` holds a link's target, and `stat.json`
 * lists the paths a stat finds. Test support only.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FileIdentity, ProcReader } from '../src/internal/proc-reader.ts';

function fail(code: string, path: string): never {
  throw Object.assign(new Error(`${code}: ${path}`), { code });
}

/** Builds a reader rooted at `root`. */
export function fixtureProcReader(root: string): ProcReader {
  const stats = JSON.parse(readFileSync(join(root, 'stat.json'), 'utf8')) as Record<string, FileIdentity>;
  const guard = (path: string): string => {
    const errno = join(root, `${path}.errno`);
    if (existsSync(errno)) fail(readFileSync(errno, 'utf8').trim(), path);
    return join(root, path);
  };
  return {
    readFile: (path) => {
      const p = guard(path);
      if (!existsSync(p)) fail('ENOENT', path);
      return readFileSync(p, 'latin1');
    },
    readlink: (path) => {
      const p = `${guard(path)}.link`;
      if (!existsSync(p)) fail('ENOENT', path);
      return readFileSync(p, 'latin1').replace(/\n$/, '');
    },
    stat: (path) => stats[path] ?? fail('ENOENT', path),
    readdir: (path) => readdirSync(guard(path)).filter((n) => !n.endsWith('.errno') && !n.endsWith('.link')),
  };
}

/** The fixture root of the recorded /proc sample. */
export const PROC_SAMPLE = new URL('./fixtures/proc-sample/', import.meta.url).pathname;

/** Wall clock at which the sample's uptime was read. */
export const PROC_SAMPLE_AT_MS = Number(readFileSync(join(PROC_SAMPLE, 'recorded-at-ms'), 'utf8'));
