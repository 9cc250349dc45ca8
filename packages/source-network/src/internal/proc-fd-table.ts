/**
 * The real /proc behind `FdTablePort`: pid and fd listings with `readdirSync`, stat, comm and fd
 * links through `@daemoneye/native`'s procfs reader (one open, read and close per file; no fstat),
 * or Node's fs when the native reader cannot load. Synchronous: only the owner worker thread uses it.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { FdTablePort } from './owner-index.ts';

interface TextReader {
  readWhole(path: string): string | number;
  readLink(path: string): string | number;
}

const nodeReader: TextReader = {
  readWhole(path) {
    try {
      return readFileSync(path, 'latin1');
    } catch (e) {
      return -((e as { errno?: number }).errno ?? 1);
    }
  },
  readLink(path) {
    try {
      return readlinkSync(path, 'latin1');
    } catch (e) {
      return -((e as { errno?: number }).errno ?? 1);
    }
  },
};

const ERRNO: Readonly<Record<string, number>> = { EACCES: 13, EPERM: 1, ENOENT: 2, ESRCH: 3 };

/** Field 22 (starttime) of a /proc/PID/stat line; the comm before it may hold spaces and parentheses. */
export function statStartTime(stat: string): string | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const rest = stat.slice(close + 2).split(' ');
  // rest[0] is field 3 (state): starttime, field 22, is rest[19].
  return rest[19];
}

/** An `FdTablePort` over `procRoot` (default `/proc`). */
export async function openProcFdTable(procRoot = '/proc'): Promise<FdTablePort> {
  let reader: TextReader = nodeReader;
  try {
    const native = await import('@daemoneye/native');
    reader = native.createProcfsReader();
  } catch {
    // Node's fs does the same reads, a little slower.
  }
  return {
    listPids() {
      const out: number[] = [];
      for (const name of readdirSync(procRoot)) {
        const c = name.charCodeAt(0);
        if (c >= 48 && c <= 57) out.push(Number(name));
      }
      return out;
    },
    startTime(pid) {
      const text = reader.readWhole(`${procRoot}/${pid}/stat`);
      return typeof text === 'string' ? statStartTime(text) : undefined;
    },
    comm(pid) {
      const text = reader.readWhole(`${procRoot}/${pid}/comm`);
      return typeof text === 'string' ? text.replace(/\n$/, '') : undefined;
    },
    listFds(pid) {
      try {
        return readdirSync(`${procRoot}/${pid}/fd`);
      } catch (e) {
        return -(ERRNO[(e as { code?: string }).code ?? ''] ?? 2);
      }
    },
    readLink(pid, fd) {
      const link = reader.readLink(`${procRoot}/${pid}/fd/${fd}`);
      return typeof link === 'string' ? link : undefined;
    },
  };
}
