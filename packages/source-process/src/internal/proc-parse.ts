/**
 * Pure parsers for the Linux /proc files the process source reads: `stat`, `status`, `cmdline`,
 * `cgroup`, the `exe` link text, `/proc/stat`'s boot time, `/proc/uptime` and `/etc/passwd`. Each
 * takes text and returns fields, so they are tested against recorded samples without a kernel. They
 * never touch the file system and never throw on odd input: a malformed file yields `undefined`.
 */

/** The fields of `/proc/<pid>/stat` the source uses. Times are in clock ticks. */
export interface ProcStat {
  readonly pid: number;
  readonly comm: string;
  readonly state: string;
  readonly ppid: number;
  readonly flags: number;
  readonly utime: number;
  readonly stime: number;
  readonly numThreads: number;
  readonly startTicks: number;
  readonly rssPages: number;
}

/** PF_KTHREAD in the task flags: the task is a kernel thread. */
export const PF_KTHREAD = 0x00200000;

/**
 * Parses `/proc/<pid>/stat`. The command name sits between the first `(` and the LAST `)`, because it
 * may itself contain spaces and parentheses (`1234 (a b) (c) S 1 …`).
 */
export function parseStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const f = text
    .slice(close + 2)
    .trim()
    .split(' ');
  if (f.length < 22 || !Number.isInteger(pid)) return undefined;
  const num = (i: number): number => Number(f[i]);
  const stat: ProcStat = {
    pid,
    comm: text.slice(open + 1, close),
    state: f[0] ?? '?',
    ppid: num(1),
    flags: num(6),
    utime: num(11),
    stime: num(12),
    numThreads: num(17),
    startTicks: num(19),
    rssPages: num(21),
  };
  return Number.isFinite(stat.ppid) && Number.isFinite(stat.startTicks) ? stat : undefined;
}

/** The fields of `/proc/<pid>/status` the source uses. */
export interface ProcStatus {
  readonly realUid?: number;
  readonly effectiveUid?: number;
  readonly vmRssBytes?: number;
  readonly threads?: number;
}

/** Parses the `Uid:`, `VmRSS:` and `Threads:` lines of `/proc/<pid>/status`. */
export function parseStatus(text: string): ProcStatus {
  let realUid: number | undefined;
  let effectiveUid: number | undefined;
  let vmRssBytes: number | undefined;
  let threads: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('Uid:')) {
      const ids = line.slice(4).trim().split(/\s+/).map(Number);
      realUid = ids[0];
      effectiveUid = ids[1];
    } else if (line.startsWith('VmRSS:')) {
      const kb = Number.parseInt(line.slice(6).trim(), 10);
      if (Number.isFinite(kb)) vmRssBytes = kb * 1024;
    } else if (line.startsWith('Threads:')) {
      threads = Number.parseInt(line.slice(8).trim(), 10);
    }
  }
  return {
    ...(realUid !== undefined && Number.isInteger(realUid) ? { realUid } : {}),
    ...(effectiveUid !== undefined && Number.isInteger(effectiveUid) ? { effectiveUid } : {}),
    ...(vmRssBytes !== undefined ? { vmRssBytes } : {}),
    ...(threads !== undefined && Number.isInteger(threads) ? { threads } : {}),
  };
}

/**
 * Splits `/proc/<pid>/cmdline` on NUL. A trailing NUL ends the last argument and is not an extra
 * empty one; empty arguments in the middle are kept (`a\0\0b\0` is `['a', '', 'b']`).
 */
export function parseCmdline(text: string): string[] {
  if (text.length === 0) return [];
  const body = text.endsWith('\0') ? text.slice(0, -1) : text;
  return body.split('\0');
}

/** The target of a `/proc/<pid>/exe` link, with the kernel's ` (deleted)` marker taken off. */
export interface ExeLink {
  readonly path: string;
  readonly deleted: boolean;
}

const DELETED_SUFFIX = ' (deleted)';

/** Parses the text of the `exe` link: `/usr/bin/x (deleted)` is `{ path: '/usr/bin/x', deleted: true }`. */
export function parseExeLink(target: string): ExeLink {
  return target.endsWith(DELETED_SUFFIX)
    ? { path: target.slice(0, -DELETED_SUFFIX.length), deleted: true }
    : { path: target, deleted: false };
}

/** A process's control group and, when it runs in a container, the container's id. */
export interface CgroupInfo {
  readonly path: string;
  readonly containerId?: string;
}

const CONTAINER_ID = /(?:^|[/-])([0-9a-f]{64})(?:\.scope)?(?=$|\/)/g;

/**
 * Parses `/proc/<pid>/cgroup`: the unified (v2, `0::`) path when present, else the first v1 path.
 * The container id is the last 64-hex path segment, as docker (`/docker/<id>`,
 * `docker-<id>.scope`), containerd (`cri-containerd-<id>.scope`), CRI-O (`crio-<id>.scope`) and
 * podman (`libpod-<id>.scope`) name them.
 */
export function parseCgroup(text: string): CgroupInfo | undefined {
  const paths: string[] = [];
  let unified: string | undefined;
  for (const line of text.split('\n')) {
    const a = line.indexOf(':');
    const b = line.indexOf(':', a + 1);
    if (a < 0 || b < 0) continue;
    const path = line.slice(b + 1);
    if (line.startsWith('0::')) unified = path;
    paths.push(path);
  }
  const path = unified ?? paths[0];
  if (path === undefined) return undefined;
  for (const candidate of [path, ...paths]) {
    let containerId: string | undefined;
    for (const m of candidate.matchAll(CONTAINER_ID)) containerId = m[1];
    if (containerId !== undefined) return { path, containerId };
  }
  return { path };
}

/** Parses the `btime` line of `/proc/stat`: boot time in epoch seconds. */
export function parseBootTime(text: string): number | undefined {
  const m = /^btime\s+(\d+)/m.exec(text);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** Parses `/proc/uptime`: seconds since boot (first field). */
export function parseUptime(text: string): number | undefined {
  const v = Number.parseFloat(text);
  return Number.isFinite(v) ? v : undefined;
}

/** Parses `/etc/passwd` into a uid → user name map (the first name wins for a shared uid). */
export function parsePasswd(text: string): Map<number, string> {
  const users = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue;
    const f = line.split(':');
    const uid = Number(f[2]);
    if (f[0] !== undefined && f[0] !== '' && f[2] !== '' && Number.isInteger(uid) && !users.has(uid)) {
      users.set(uid, f[0]);
    }
  }
  return users;
}

/**
 * The process name: the kernel's `comm` (at most 15 bytes), replaced by the executable's base name
 * when `comm` was truncated and is a prefix of that name.
 */
export function processName(comm: string, exePath: string | undefined): string {
  if (comm.length < 15 || exePath === undefined) return comm;
  const base = exePath.slice(exePath.lastIndexOf('/') + 1);
  return base.startsWith(comm) ? base : comm;
}
