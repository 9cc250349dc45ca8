/**
 * Availability probes: one cheap check per kernel interface that says whether opening it would
 * work here, and if not, why. Probes resolve, never reject: every failure becomes an
 * `{ available: false, code, reason }` value. Those that wait on the kernel (audit status, the proc
 * connector's acknowledgement) do it in a short-lived worker thread; the others are single
 * non-blocking system calls. They do not keep anything open.
 */

import { readAuditStatus } from './audit-control.ts';
import { Errno, Fanotify, Inotify, Netlink } from './internal/constants.ts';
import { errnoName, libc } from './internal/libc.ts';
import { openNetlinkSocket } from './internal/netlink.ts';
import { startReader } from './internal/reader-host.ts';
import { isNativeError } from './native-error.ts';

/** Whether a kernel interface can be used here; when not, a machine-readable `code` and a human `reason`. */
export type Availability =
  | { readonly available: true }
  | {
      readonly available: false;
      readonly reason: string;
      readonly code: 'not_linux' | 'no_permission' | 'unsupported' | 'error';
    };

const AVAILABLE: Availability = { available: true };

function notLinux(): Availability | undefined {
  if (process.platform === 'linux') return undefined;
  return { available: false, code: 'not_linux', reason: `needs Linux (platform is ${process.platform})` };
}

function fromErrno(what: string, errno: number | undefined, message: string): Availability {
  if (errno === Errno.EPERM || errno === Errno.EACCES)
    return { available: false, code: 'no_permission', reason: `${what}: ${message}` };
  if (
    errno === Errno.ENOSYS ||
    errno === Errno.EPROTONOSUPPORT ||
    errno === Errno.EAFNOSUPPORT ||
    errno === Errno.EINVAL
  ) {
    return { available: false, code: 'unsupported', reason: `${what}: ${message}` };
  }
  return { available: false, code: 'error', reason: `${what}: ${message}` };
}

function fromThrown(what: string, e: unknown): Availability {
  if (isNativeError(e)) {
    if (e.code === 'ERR_NATIVE_UNAVAILABLE' && e.errno === undefined)
      return { available: false, code: 'unsupported', reason: `${what}: ${e.message}` };
    return fromErrno(what, e.errno, e.message);
  }
  return { available: false, code: 'error', reason: `${what}: ${e instanceof Error ? e.message : String(e)}` };
}

/**
 * Whether the proc connector can be subscribed (needs CAP_NET_ADMIN in the initial namespaces). The
 * subscription is tried in a worker thread, which waits up to 500 ms for the kernel's answer.
 */
export async function probeProcConnector(): Promise<Availability> {
  const off = notLinux();
  if (off) return off;
  try {
    const host = await startReader<never>('request-worker', {});
    try {
      await host.request<boolean>({ kind: 'probe-proc-connector' });
    } finally {
      await host.close();
    }
    return AVAILABLE;
  } catch (e) {
    return fromThrown('proc connector', e);
  }
}

/**
 * Whether the audit exec monitor can run: NETLINK_AUDIT exists, AUDIT_GET is permitted
 * (CAP_AUDIT_CONTROL) and the configuration is not locked (enabled = 2 is reported as
 * `no_permission`, since rules cannot be added until reboot). The status is read in a worker thread.
 */
export async function probeAudit(): Promise<Availability> {
  const off = notLinux();
  if (off) return off;
  try {
    const s = await readAuditStatus();
    if (s.enabled === 2)
      return {
        available: false,
        code: 'no_permission',
        reason: 'audit configuration is locked (enabled=2) until reboot',
      };
    return AVAILABLE;
  } catch (e) {
    if (isNativeError(e) && e.errno === Errno.ECONNREFUSED) {
      return {
        available: false,
        code: 'unsupported',
        reason: 'audit: the kernel refuses audit sockets outside the initial network namespace',
      };
    }
    return fromThrown('audit', e);
  }
}

/** Whether NETLINK_SOCK_DIAG socket dumps work (usually unprivileged). */
export async function probeSockDiag(): Promise<Availability> {
  const off = notLinux();
  if (off) return off;
  try {
    libc().close(openNetlinkSocket(Netlink.NETLINK_SOCK_DIAG));
    return AVAILABLE;
  } catch (e) {
    return fromThrown('sock_diag', e);
  }
}

/** Whether a fanotify notification group can be created (needs CAP_SYS_ADMIN). */
export async function probeFanotify(): Promise<Availability> {
  const off = notLinux();
  if (off) return off;
  try {
    const c = libc();
    const fd = c.fanotifyInit(
      Fanotify.FAN_CLASS_NOTIF | Fanotify.FAN_CLOEXEC | Fanotify.FAN_NONBLOCK,
      Fanotify.O_RDONLY | Fanotify.O_CLOEXEC,
    );
    if (fd < 0) return fromErrno('fanotify_init', -fd, errnoName(-fd));
    c.close(fd);
    return AVAILABLE;
  } catch (e) {
    return fromThrown('fanotify', e);
  }
}

/** Whether an inotify instance can be created. */
export async function probeInotify(): Promise<Availability> {
  const off = notLinux();
  if (off) return off;
  try {
    const c = libc();
    const fd = c.inotifyInit1(Inotify.IN_NONBLOCK | Inotify.IN_CLOEXEC);
    if (fd < 0) return fromErrno('inotify_init1', -fd, errnoName(-fd));
    c.close(fd);
    return AVAILABLE;
  } catch (e) {
    return fromThrown('inotify', e);
  }
}
