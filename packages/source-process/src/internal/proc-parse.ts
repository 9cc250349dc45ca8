/**
 * Pure parsers for the Linux /proc files the process source reads: `stat`, `status`, `cmdline`,
 * `cgroup`, the `exe` link text, `/proc/stat`'s boot time, `/proc/uptime`, the cgroup mounts of
 * `mountinfo` and `/etc/passwd`. Each
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

/** The decimal number at `text[at..]`, or -1 when there is no digit there. */
function digitsAt(text: string, at: number): { value: number; end: number } {
  let value = -1;
  let i = at;
  for (; i < text.length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    value = (value < 0 ? 0 : value * 10) + d;
  }
  return { value, end: i };
}

/** The first index from `at` that is not a tab or a space. */
function afterBlanks(text: string, at: number): number {
  let i = at;
  while (text.charCodeAt(i) === 9 || text.charCodeAt(i) === 32) i++;
  return i;
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
  const pid = digitsAt(text, 0);
  if (pid.value < 0 || pid.end !== open - 1) return undefined;
  // Fields after the comm, 0-based from the state. Numbers are read in place, without slicing the
  // file into strings: it has about fifty fields and is read for every process.
  const state = text.charAt(close + 2);
  const num: number[] = [];
  let at = close + 4;
  for (let i = 1; i <= STAT_LAST_FIELD; i++) {
    // A field that is not a plain number reads as -1 (tpgid is -1 without a terminal); none of
    // the fields kept can be negative.
    const n = digitsAt(text, at);
    num[i] = n.value;
    const space = text.indexOf(' ', n.end);
    if (space < 0) {
      if (i < STAT_LAST_FIELD) return undefined;
      break;
    }
    at = space + 1;
  }
  const stat: ProcStat = {
    pid: pid.value,
    comm: text.slice(open + 1, close),
    state: state === '' ? '?' : state,
    ppid: num[1] ?? -1,
    flags: num[6] ?? -1,
    utime: num[11] ?? -1,
    stime: num[12] ?? -1,
    numThreads: num[17] ?? -1,
    startTicks: num[19] ?? -1,
    rssPages: num[21] ?? -1,
  };
  return stat.ppid >= 0 && stat.startTicks >= 0 ? stat : undefined;
}

/** The last `stat` field {@link parseStat} reads (0 is the state, after the comm). */
const STAT_LAST_FIELD = 21;

/** The fields of `/proc/<pid>/status` the source uses. */
export interface ProcStatus {
  readonly realUid?: number;
  readonly effectiveUid?: number;
}

/**
 * Parses the real and effective uid from the `Uid:` line of `/proc/<pid>/status` (its 9th line of
 * about 60; nothing after it is looked at). A missing or malformed line yields `{}`.
 */
export function parseStatus(text: string): ProcStatus {
  let at: number;
  if (text.startsWith('Uid:')) at = 4;
  else {
    at = text.indexOf('\nUid:');
    if (at < 0) return {};
    at += 5;
  }
  const real = digitsAt(text, afterBlanks(text, at));
  if (real.value < 0) return {};
  const effective = digitsAt(text, afterBlanks(text, real.end));
  return effective.value < 0 ? { realUid: real.value } : { realUid: real.value, effectiveUid: effective.value };
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

/** The container a cgroup path places a process in. */
export interface ContainerInfo {
  /** `docker`, `containerd`, `cri-o`, `podman`, `lxc`, `cri` (a Kubernetes pod whose runtime the path does not name) or `unknown`. */
  readonly runtime: string;
  /** The container id (64 hex digits for all but `lxc`, whose containers have names). */
  readonly id?: string;
  /** The Kubernetes pod UID (with dashes) when the path holds one. */
  readonly podUid?: string;
}

/** A process's control group and, when it runs in a container, the container's id and runtime. */
export interface CgroupInfo {
  readonly path: string;
  readonly containerId?: string;
  readonly containerRuntime?: string;
  readonly podUid?: string;
}

const HEX64 = /^[0-9a-f]{64}$/;
/** A scope or segment naming a container: `<prefix>-<id>.scope` (systemd driver) or `<prefix>-<id>`. */
const SCOPED = /^(docker|cri-containerd|crio|libpod)-([0-9a-f]{64})(?:\.scope)?$/;
const RUNTIME_OF_PREFIX: Readonly<Record<string, string>> = {
  docker: 'docker',
  'cri-containerd': 'containerd',
  crio: 'cri-o',
  libpod: 'podman',
};
/** `pod<uid>` (cgroupfs driver, dashes) or `kubepods-<qos>-pod<uid>.slice` (systemd driver, underscores). */
const POD_UID = /(?:^|-)pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;

/**
 * The container of a cgroup path, as each runtime names its cgroups, for cgroup v1 and v2 paths alike:
 * docker `/docker/<id>` (cgroupfs driver) or `docker-<id>.scope` (systemd driver); containerd
 * `cri-containerd-<id>.scope`; CRI-O `crio-<id>.scope` (its `crio-conmon-<id>.scope` monitor is not in
 * the container); podman `libpod-<id>.scope` or `/libpod_parent/libpod-<id>`, rootless ones under
 * `user@<uid>.service` too; a bare 64-hex segment under a Kubernetes pod (`cri`) or anywhere else
 * (`unknown`); LXC `/lxc/<name>` and `/lxc.payload.<name>`. The Kubernetes pod UID comes from the
 * `pod<uid>` segment. The deepest container segment wins; `undefined` when the path names none.
 */
export function containerOf(path: string): ContainerInfo | undefined {
  const segments = path.split('/');
  let runtime: string | undefined;
  let id: string | undefined;
  let podUid: string | undefined;
  for (const [i, seg] of segments.entries()) {
    const pod = POD_UID.exec(seg);
    if (pod?.[1] !== undefined) {
      podUid = pod[1].replaceAll('_', '-');
      continue;
    }
    const scoped = SCOPED.exec(seg);
    if (scoped?.[1] !== undefined && scoped[2] !== undefined) {
      runtime = RUNTIME_OF_PREFIX[scoped[1]] ?? 'unknown';
      id = scoped[2];
      continue;
    }
    if (HEX64.test(seg)) {
      const parent = segments[i - 1];
      runtime = parent === 'docker' ? 'docker' : podUid !== undefined ? 'cri' : 'unknown';
      id = seg;
      continue;
    }
    if (seg.startsWith('lxc.payload.') && seg.length > 'lxc.payload.'.length) {
      runtime = 'lxc';
      id = seg.slice('lxc.payload.'.length);
    } else if (segments[i - 1] === 'lxc' && i === 2 && seg !== '') {
      runtime = 'lxc';
      id = seg;
    }
  }
  if (runtime === undefined) return podUid === undefined ? undefined : { runtime: 'cri', podUid };
  return { runtime, ...(id === undefined ? {} : { id }), ...(podUid === undefined ? {} : { podUid }) };
}

/** One line of `/proc/<pid>/cgroup`: `hierarchy-id:controllers:path` (v2 is `0::path`). */
export interface CgroupLine {
  readonly id: string;
  /** Comma-separated controllers of a v1 hierarchy (`cpu,cpuacct`, `name=systemd`); empty for v2. */
  readonly controllers: string;
  readonly path: string;
}

/** Splits `/proc/<pid>/cgroup` into its lines, in file order; malformed lines are skipped. */
export function parseCgroupLines(text: string): CgroupLine[] {
  const lines: CgroupLine[] = [];
  for (const line of text.split('\n')) {
    const a = line.indexOf(':');
    const b = line.indexOf(':', a + 1);
    if (a < 0 || b < 0) continue;
    lines.push({ id: line.slice(0, a), controllers: line.slice(a + 1, b), path: line.slice(b + 1) });
  }
  return lines;
}

/**
 * A process's cgroup from its lines (in file order): the unified (v2, `0::`) path when present, else
 * the first v1 path. The container (see {@link containerOf}) is looked for in the chosen path first,
 * then in every other line.
 */
export function cgroupInfo(lines: readonly CgroupLine[]): CgroupInfo | undefined {
  const unified = lines.find((l) => l.id === '0' && l.controllers === '');
  const path = (unified ?? lines[0])?.path;
  if (path === undefined) return undefined;
  for (const candidate of [path, ...lines.map((l) => l.path)]) {
    const c = containerOf(candidate);
    if (c === undefined) continue;
    return {
      path,
      ...(c.id === undefined ? {} : { containerId: c.id }),
      containerRuntime: c.runtime,
      ...(c.podUid === undefined ? {} : { podUid: c.podUid }),
    };
  }
  return { path };
}

/** True when a cgroup path names a container or a Kubernetes pod (see {@link containerOf}). */
export function holdsContainer(path: string): boolean {
  return containerOf(path) !== undefined;
}

/** The container id in a cgroup path (see {@link containerOf}). */
export function containerIdIn(path: string): string | undefined {
  return containerOf(path)?.id;
}

/** What {@link parseCgroupFile} makes of a `/proc/<pid>/cgroup` file. */
export interface CgroupFile {
  /** The process's cgroup and container (see {@link cgroupInfo}); absent for an empty file. */
  readonly cgroup?: CgroupInfo;
  /** The file holds nothing but the cgroup v2 line (a pure cgroup v2 host). */
  readonly unifiedOnly: boolean;
}

/** Files parsed so far, by their text: most processes share a few, and each parse runs several regular expressions a line. */
const cgroupFiles = new Map<string, CgroupFile>();
/** Texts remembered at most (the map starts afresh beyond). */
const CGROUP_FILES_MAX = 1024;

/** Parses `/proc/<pid>/cgroup` (see {@link cgroupInfo}); the result of a text seen before is reused. */
export function parseCgroupFile(text: string): CgroupFile {
  let file = cgroupFiles.get(text);
  if (file !== undefined) return file;
  const lines = parseCgroupLines(text);
  const cgroup = cgroupInfo(lines);
  const first = lines[0];
  const unifiedOnly = lines.length === 1 && first?.id === '0' && first.controllers === '';
  file = cgroup === undefined ? { unifiedOnly } : { cgroup, unifiedOnly };
  if (cgroupFiles.size >= CGROUP_FILES_MAX) cgroupFiles.clear();
  cgroupFiles.set(text, file);
  return file;
}

/** Parses `/proc/<pid>/cgroup` into the process's cgroup and container id (see {@link cgroupInfo}). */
export function parseCgroup(text: string): CgroupInfo | undefined {
  return parseCgroupFile(text).cgroup;
}

/** A cgroup file system mount from `/proc/self/mountinfo`. */
export interface CgroupMount {
  /** `cgroup2` or `cgroup`. */
  readonly fsType: string;
  /** The directory of the hierarchy mounted there, relative to the hierarchy's root (`/` for all). */
  readonly root: string;
  readonly mountPoint: string;
  /** The super block options: a v1 mount's controllers (`cpu`, `name=systemd`) are among them. */
  readonly superOptions: readonly string[];
}

/** `\040`-style octal escapes of mountinfo paths back to characters. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/**
 * The cgroup and cgroup2 mounts listed in `/proc/<pid>/mountinfo`
 * (`id parent major:minor root mount-point options [optional…] - fstype source super-options`).
 */
export function parseCgroupMounts(text: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (dash < 0 || f.length < dash + 4) continue;
    const fsType = f[dash + 1] ?? '';
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    mounts.push({
      fsType,
      root: unescapeMountPath(f[3] ?? ''),
      mountPoint: unescapeMountPath(f[4] ?? ''),
      superOptions: (f[dash + 3] ?? '').split(','),
    });
  }
  return mounts;
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
