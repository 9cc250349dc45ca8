/**
 * Dropping root after the privileged handles are open, keeping only chosen capabilities, in every
 * thread that needs them. On Linux capabilities belong to a thread, not to the process, and glibc's
 * `setuid` changes every thread at once (clearing the capabilities of each), so the drop runs in three
 * steps:
 *
 * 1. the supplementary groups are set for the whole process (glibc broadcasts `setgroups`, while every
 *    thread still holds CAP_SETGID);
 * 2. every registered worker thread (each one the worker host started) and then the main thread drop
 *    themselves with the raw system calls, which change only the calling thread: bounding set reduced
 *    to the kept capabilities, `PR_SET_KEEPCAPS`, setresgid, setresuid, then capset so the effective
 *    and permitted sets are exactly the kept ones, ambient cleared, `no_new_privs` set;
 * 3. glibc's setgid/setuid on the main thread sweeps every other thread (Node's own, libuv's thread
 *    pool): they end with the user's ids and no capabilities at all. For the threads already dropped the
 *    call changes nothing.
 *
 * A worker that does not answer in time is not left as root: step 3 gives it the user's ids and no
 * capabilities; the report names it. Afterwards every thread is checked in /proc; a thread still
 * running as root fails the call. Threads started after the drop inherit the capabilities of the
 * thread that starts them. There is no way back: the drop is for the life of the process.
 */
import { MessageChannel, type MessagePort, workerData } from 'node:worker_threads';
import {
  CAPABILITY_NUMBERS,
  type CapabilityName,
  capabilityMask,
  capabilityNames,
  isCapabilityName,
  processThreadCredentials,
  type ThreadCredentials,
  threadCredentials,
} from './internal/capabilities.ts';
import { errnoName, libc } from './internal/libc.ts';
import { NativeError } from './native-error.ts';

export type { CapabilityName, ThreadCredentials } from './internal/capabilities.ts';
export { isCapabilityName } from './internal/capabilities.ts';

/** Every capability name Linux 6.x defines, in number order. */
export const CAPABILITY_NAMES: readonly CapabilityName[] = Object.keys(CAPABILITY_NUMBERS) as CapabilityName[];

const PR_SET_KEEPCAPS = 8;
const PR_CAPBSET_DROP = 24;
const PR_SET_NO_NEW_PRIVS = 38;
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_CLEAR_ALL = 4;
const EINVAL = 22;

/** The key under which the worker host hands a worker its end of the privilege channel. */
export const PRIVILEGE_PORT_KEY = 'daemoneyePrivilegePort';

/** What one thread is asked to become. */
interface ThreadPlan {
  readonly uid: number;
  readonly gid: number;
  /** Capability numbers to keep. */
  readonly keep: readonly number[];
}

type DropRequest = { readonly type: 'drop' } & ThreadPlan;
type DropReply = { readonly ok: true; readonly tid: number } | { readonly ok: false; readonly message: string };

interface RegisteredThread {
  readonly name: string;
  readonly port: MessagePort;
  readonly wake: (() => void) | undefined;
}

const threads = new Set<RegisteredThread>();

/**
 * Opens the privilege channel of a worker about to start: returns the port to hand the worker (under
 * {@link PRIVILEGE_PORT_KEY} in its `workerData`, in the transfer list) and a function that forgets the
 * worker once it has ended. `wake` is called after a drop request is posted, for a worker that sleeps in
 * `poll(2)`. The worker answers when it calls {@link servePrivilegeDrop} (the native entry scripts do).
 */
export function openPrivilegeChannel(name: string, wake?: () => void): { port: MessagePort; release: () => void } {
  const { port1, port2 } = new MessageChannel();
  port1.unref();
  const entry: RegisteredThread = { name, port: port1, wake };
  threads.add(entry);
  return {
    port: port2,
    release: () => {
      threads.delete(entry);
      port1.close();
    },
  };
}

/** Drops the calling thread to `plan` with the raw system calls; throws a NativeError naming the failed step. */
function dropThisThread(plan: ThreadPlan): number {
  const c = libc();
  const keep = new Set(plan.keep);
  const step = (what: string, rc: number): void => {
    if (rc < 0) throw new NativeError('ERR_NATIVE_CALL', `${what} failed: ${errnoName(-rc)}`, { errno: -rc });
  };
  for (const n of Object.values(CAPABILITY_NUMBERS)) {
    if (keep.has(n)) continue;
    const rc = c.prctl(PR_CAPBSET_DROP, n);
    if (rc < 0 && rc !== -EINVAL) step(`prctl(PR_CAPBSET_DROP, ${n})`, rc);
  }
  step('prctl(PR_SET_KEEPCAPS, 1)', c.prctl(PR_SET_KEEPCAPS, 1));
  step(`setresgid(${plan.gid})`, c.setresgidThread(plan.gid));
  step(`setresuid(${plan.uid})`, c.setresuidThread(plan.uid));
  const mask = plan.keep.reduce((m, n) => m | (1n << BigInt(n)), 0n);
  step('capset', c.capset(mask, mask, 0n));
  step('prctl(PR_SET_KEEPCAPS, 0)', c.prctl(PR_SET_KEEPCAPS, 0));
  const ambient = c.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL);
  if (ambient < 0 && ambient !== -EINVAL) step('prctl(PR_CAP_AMBIENT_CLEAR_ALL)', ambient);
  step('prctl(PR_SET_NO_NEW_PRIVS, 1)', c.prctl(PR_SET_NO_NEW_PRIVS, 1));
  const now = threadCredentials();
  if (now === undefined)
    throw new NativeError('ERR_NATIVE_CALL', 'cannot read /proc/thread-self/status after the drop');
  if (now.uids.some((u) => u !== plan.uid) || now.effective !== mask || now.permitted !== mask)
    throw new NativeError(
      'ERR_NATIVE_CALL',
      `the thread holds uid ${now.uids.join('/')} and capabilities ${capabilityNames(now.effective).join(',') || 'none'} after the drop`,
    );
  return now.tid;
}

/**
 * Answers the host's drop request on this worker's privilege channel (from `workerData`), if it has
 * one. Called by the worker entry scripts; does nothing on the main thread or in a worker without one.
 */
export function servePrivilegeDrop(): void {
  const port = (workerData as Record<string, unknown> | null | undefined)?.[PRIVILEGE_PORT_KEY];
  if (!(port instanceof Object) || typeof (port as MessagePort).postMessage !== 'function') return;
  const p = port as MessagePort;
  p.on('message', (m: DropRequest) => {
    if (m?.type !== 'drop') return;
    let reply: DropReply;
    try {
      reply = { ok: true, tid: dropThisThread(m) };
    } catch (e) {
      reply = { ok: false, message: (e as Error).message };
    }
    p.postMessage(reply);
  });
  p.unref();
}

/** Options of {@link dropPrivileges}. */
export interface PrivilegeDropOptions {
  /** A user name (looked up through NSS) or a numeric uid. */
  readonly user: string;
  /** The capabilities the main thread and every worker keep. */
  readonly keep: readonly CapabilityName[];
  /** How long a worker may take to drop itself (default 5,000 ms). */
  readonly workerTimeoutMs?: number;
}

/** What {@link dropPrivileges} did. */
export interface PrivilegeDropReport {
  readonly user: string;
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
  readonly kept: readonly string[];
  /** Threads that hold the kept capabilities (the main thread and the workers that dropped themselves). */
  readonly capableThreads: number;
  /** Threads left with the user's ids and no capabilities (Node's and libuv's own threads). */
  readonly plainThreads: number;
  /** Workers that did not drop themselves (by name, with the reason): they hold no capabilities now. */
  readonly failedWorkers: readonly string[];
}

/** The uid, gid and name `user` stands for; throws `ERR_NATIVE_INVALID_ARGUMENT` for an unknown one. */
export function resolveUser(user: string): { name: string; uid: number; gid: number } {
  const c = libc();
  const numeric = /^\d+$/.test(user) ? Number(user) : undefined;
  const entry = c.getpw(numeric ?? user);
  if (entry !== undefined) return { name: entry.name, uid: entry.uid, gid: entry.gid };
  if (numeric !== undefined && numeric <= 0xfffffffe) return { name: user, uid: numeric, gid: numeric };
  throw new NativeError('ERR_NATIVE_INVALID_ARGUMENT', `user "${user}" is not in the password database`);
}

/** Node's process-wide id calls (POSIX only; the types mark them optional). */
function idCalls(): {
  initgroups(user: string, extraGroup: number): void;
  setgroups(groups: number[]): void;
  setgid(id: number): void;
  setuid(id: number): void;
} {
  const p = process as unknown as Partial<Record<'initgroups' | 'setgroups' | 'setgid' | 'setuid', unknown>>;
  for (const k of ['initgroups', 'setgroups', 'setgid', 'setuid'] as const)
    if (typeof p[k] !== 'function') throw new NativeError('ERR_NATIVE_UNAVAILABLE', `process.${k} is not available`);
  return p as never;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

function askThread(t: RegisteredThread, plan: ThreadPlan, timeoutMs: number): Promise<DropReply> {
  const answer = new Promise<DropReply>((resolve) => {
    t.port.once('message', (r: DropReply) => resolve(r));
    t.port.ref();
  });
  t.port.postMessage({ type: 'drop', ...plan } satisfies DropRequest);
  t.wake?.();
  return withTimeout(answer, timeoutMs, `worker ${t.name}`).finally(() => t.port.unref());
}

/**
 * Drops the process from root to `options.user`, keeping `options.keep` in the main thread and in
 * every worker started through the worker host (see the module comment). Throws a NativeError:
 * `ERR_NATIVE_UNAVAILABLE` off Linux or when not running as root, `ERR_NATIVE_INVALID_ARGUMENT` for an
 * unknown user or capability, `ERR_NATIVE_CALL` when a step fails (before step 3 the process is
 * unchanged or only its groups changed; after it, a thread still running as root).
 */
export async function dropPrivileges(options: PrivilegeDropOptions): Promise<PrivilegeDropReport> {
  if (process.platform !== 'linux')
    throw new NativeError(
      'ERR_NATIVE_UNAVAILABLE',
      `dropping privileges needs Linux (platform is ${process.platform})`,
    );
  if (process.geteuid?.() !== 0)
    throw new NativeError(
      'ERR_NATIVE_UNAVAILABLE',
      `dropping privileges needs root (running as uid ${process.geteuid?.()}): start the collector as root`,
    );
  for (const n of options.keep)
    if (!isCapabilityName(n)) throw new NativeError('ERR_NATIVE_INVALID_ARGUMENT', `unknown capability "${n}"`);
  const user = resolveUser(options.user);
  const plan: ThreadPlan = {
    uid: user.uid,
    gid: user.gid,
    keep: [...new Set(options.keep)].map((n) => CAPABILITY_NUMBERS[n]).sort((a, b) => a - b),
  };
  const ids = idCalls();
  // Step 1: supplementary groups, for every thread at once.
  if (libc().getpw(user.uid) !== undefined) ids.initgroups(user.name, user.gid);
  else ids.setgroups([user.gid]);
  // Step 2: each worker, then the main thread, by itself.
  const failedWorkers: string[] = [];
  const timeout = options.workerTimeoutMs ?? 5000;
  // A worker started while the others drop (a source starting one lazily) is asked too: until none is
  // left unasked. From that check to step 3 nothing awaits, so no worker can start in between (they
  // start from this thread), and none is swept to no capabilities by mistake.
  const asked = new Set<RegisteredThread>();
  for (let fresh = [...threads]; fresh.length > 0; fresh = [...threads].filter((t) => !asked.has(t))) {
    for (const t of fresh) asked.add(t);
    const replies = await Promise.allSettled(fresh.map((t) => askThread(t, plan, timeout)));
    replies.forEach((r, i) => {
      const name = fresh[i]?.name ?? '?';
      if (r.status === 'rejected') failedWorkers.push(`${name}: ${(r.reason as Error).message}`);
      else if (!r.value.ok) failedWorkers.push(`${name}: ${r.value.message}`);
    });
  }
  dropThisThread(plan);
  // Step 3: every other thread, through glibc's process-wide set*id.
  ids.setgid(user.gid);
  ids.setuid(user.uid);
  const all = processThreadCredentials();
  const root = all.filter((t) => t.uids.some((u) => u !== user.uid) || t.gids.some((g) => g !== user.gid));
  if (root.length > 0)
    throw new NativeError(
      'ERR_NATIVE_CALL',
      `after the drop ${root.length} thread(s) still run with other ids (tid ${root.map((t) => t.tid).join(', ')})`,
    );
  const mask = capabilityMask(options.keep);
  const capable = all.filter((t) => t.effective === mask && mask !== 0n).length;
  return {
    user: user.name,
    uid: user.uid,
    gid: user.gid,
    groups: all[0]?.groups ?? [],
    kept: capabilityNames(mask),
    capableThreads: mask === 0n ? 0 : capable,
    plainThreads: all.length - (mask === 0n ? 0 : capable),
    failedWorkers,
  };
}

/** The process's privileges as the kernel sees them now. */
export interface ProcessPrivileges {
  readonly uid: number;
  readonly gid: number;
  /** The user name of the uid, when the password database has one. */
  readonly user: string | undefined;
  readonly groups: readonly number[];
  /** The main thread's effective capabilities, by name. */
  readonly effective: readonly string[];
  /** The main thread's bounding set, by name. */
  readonly bounding: readonly string[];
  readonly noNewPrivs: boolean;
  /** How many threads there are, and how many hold any capability. */
  readonly threads: number;
  readonly capableThreads: number;
}

/** Reads {@link ProcessPrivileges} from /proc (main thread first); undefined off Linux or when unreadable. */
export function processPrivileges(): ProcessPrivileges | undefined {
  if (process.platform !== 'linux') return undefined;
  const all: ThreadCredentials[] = processThreadCredentials();
  const main = all.find((t) => t.tid === process.pid) ?? all[0];
  if (main === undefined) return undefined;
  let user: string | undefined;
  try {
    user = libc().getpw(main.uids[1])?.name;
  } catch {
    user = undefined;
  }
  return {
    uid: main.uids[1],
    gid: main.gids[1],
    user,
    groups: main.groups,
    effective: capabilityNames(main.effective),
    bounding: capabilityNames(main.bounding),
    noNewPrivs: main.noNewPrivs,
    threads: all.length,
    capableThreads: all.filter((t) => t.effective !== 0n).length,
  };
}
