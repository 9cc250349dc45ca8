/**
 * A `ProcFiles` over a recorded /proc tree under `test/fixtures/<name>/proc`, with files the test
 * adds or replaces (per-process `stat` lines, say). Test support only.
 */
import { readFileSync } from 'node:fs';
import type { ProcFiles } from '../src/internal/proc-sampler.ts';

/** The recorded tree `name` (`t0`, `t1`), read as `/proc`, with `extra` files layered on top. */
export function fixtureProc(name: string, extra: Record<string, string> = {}): ProcFiles {
  const dir = new URL(`./fixtures/${name}/`, import.meta.url);
  return {
    read(path) {
      if (Object.hasOwn(extra, path)) return extra[path];
      try {
        return readFileSync(new URL(`.${path}`, dir), 'latin1');
      } catch {
        return undefined;
      }
    },
    listPids: () =>
      Object.keys(extra)
        .map((p) => /^\/proc\/(\d+)\/stat$/.exec(p)?.[1])
        .filter((p): p is string => p !== undefined)
        .map(Number),
  };
}

/** A /proc/PID/stat line with the given name, CPU ticks (utime, stime), start ticks and RSS pages. */
export function pidStat(
  pid: number,
  name: string,
  utime: number,
  stime: number,
  start: number,
  rssPages: number,
): string {
  const f = [`${pid}`, `(${name})`, 'R', '1', `${pid}`, `${pid}`, '0', '-1', '4194304', '100', '0', '0', '0'];
  f.push(`${utime}`, `${stime}`, '0', '0', '20', '0', '1', '0', `${start}`, '1000000', `${rssPages}`);
  f.push(
    '18446744073709551615',
    '1',
    '1',
    '0',
    '0',
    '0',
    '0',
    '0',
    '0',
    '0',
    '0',
    '0',
    '0',
    '17',
    '0',
    '0',
    '0',
    '0',
    '0',
    '0',
  );
  return `${f.join(' ')}\n`;
}
