/**
 * Linux capabilities by name and number, and what a thread holds, read from its `status` file in
 * /proc (`CapEff`, `CapPrm`, `CapBnd`, `Uid`, `Gid`, `Groups`). Reading fails soft: an unreadable file
 * yields `undefined`. It decides nothing; the kernel does when a call is made.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Every capability Linux 6.x defines, by number (include/uapi/linux/capability.h). */
export const CAPABILITY_NUMBERS = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14,
  CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16,
  CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22,
  CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26,
  CAP_MKNOD: 27,
  CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31,
  CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34,
  CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
  CAP_CHECKPOINT_RESTORE: 40,
} as const;

/** The name of a Linux capability. */
export type CapabilityName = keyof typeof CAPABILITY_NUMBERS;

const BY_NUMBER = new Map<number, CapabilityName>(
  Object.entries(CAPABILITY_NUMBERS).map(([n, v]) => [v, n as CapabilityName]),
);

/** Whether `name` is a capability this module knows. */
export function isCapabilityName(name: string): name is CapabilityName {
  return Object.hasOwn(CAPABILITY_NUMBERS, name);
}

/** The bit mask of `names`. */
export function capabilityMask(names: Iterable<CapabilityName>): bigint {
  let m = 0n;
  for (const n of names) m |= 1n << BigInt(CAPABILITY_NUMBERS[n]);
  return m;
}

/** The names of the bits set in `mask`, in number order; unknown bits as `cap_N`. */
export function capabilityNames(mask: bigint): string[] {
  const out: string[] = [];
  for (let i = 0; i < 64; i++) if (((mask >> BigInt(i)) & 1n) === 1n) out.push(BY_NUMBER.get(i) ?? `cap_${i}`);
  return out;
}

/** What one thread's `status` file says about its credentials. */
export interface ThreadCredentials {
  readonly tid: number;
  /** The thread's name (`Name:`), as the kernel shows it. */
  readonly name: string;
  /** Real, effective, saved and filesystem uid. */
  readonly uids: readonly [number, number, number, number];
  readonly gids: readonly [number, number, number, number];
  readonly groups: readonly number[];
  readonly effective: bigint;
  readonly permitted: bigint;
  readonly bounding: bigint;
  readonly noNewPrivs: boolean;
}

/** Parses a `status` file's credential lines; undefined when they are missing. */
export function parseThreadStatus(tid: number, text: string): ThreadCredentials | undefined {
  const line = (key: string): string | undefined => new RegExp(`^${key}:[ \\t]*(.*)$`, 'm').exec(text)?.[1]?.trim();
  const ids = (key: string): [number, number, number, number] | undefined => {
    const v = line(key)?.split(/\s+/).map(Number);
    return v !== undefined && v.length === 4 && v.every(Number.isInteger)
      ? (v as [number, number, number, number])
      : undefined;
  };
  const hex = (key: string): bigint | undefined => {
    const v = line(key);
    return v !== undefined && /^[0-9a-f]+$/.test(v) ? BigInt(`0x${v}`) : undefined;
  };
  const uids = ids('Uid');
  const gids = ids('Gid');
  const effective = hex('CapEff');
  const permitted = hex('CapPrm');
  const bounding = hex('CapBnd');
  if (uids === undefined || gids === undefined || effective === undefined || permitted === undefined) return undefined;
  const groups = (line('Groups') ?? '')
    .split(/\s+/)
    .filter((g) => g !== '')
    .map(Number);
  return {
    tid,
    name: line('Name') ?? '',
    uids,
    gids,
    groups,
    effective,
    permitted,
    bounding: bounding ?? 0n,
    noNewPrivs: line('NoNewPrivs') === '1',
  };
}

/** The credentials of the calling thread (`/proc/thread-self/status`), or undefined when unreadable. */
export function threadCredentials(): ThreadCredentials | undefined {
  try {
    const text = readFileSync('/proc/thread-self/status', 'latin1');
    return parseThreadStatus(Number(/^Pid:\s*(\d+)/m.exec(text)?.[1] ?? 0), text);
  } catch {
    return undefined;
  }
}

/** The credentials of every thread of this process, in tid order; threads that end mid-read are left out. */
export function processThreadCredentials(): ThreadCredentials[] {
  let tids: number[];
  try {
    tids = readdirSync('/proc/self/task')
      .map(Number)
      .filter(Number.isInteger)
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
  const out: ThreadCredentials[] = [];
  for (const tid of tids) {
    try {
      const c = parseThreadStatus(tid, readFileSync(`/proc/self/task/${tid}/status`, 'latin1'));
      if (c !== undefined) out.push(c);
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** Whether each of `names` is in the calling thread's effective set; `undefined` when it cannot be read. */
export function effectiveCapabilities(
  names: readonly CapabilityName[],
): Partial<Record<CapabilityName, boolean>> | undefined {
  const c = threadCredentials();
  if (c === undefined) return undefined;
  const out: Partial<Record<CapabilityName, boolean>> = {};
  for (const n of names) out[n] = ((c.effective >> BigInt(CAPABILITY_NUMBERS[n])) & 1n) === 1n;
  return out;
}
