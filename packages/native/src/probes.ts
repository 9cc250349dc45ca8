/**
 * Availability probes: one cheap, synchronous check per kernel interface that says whether opening
 * it would work here, and if not, why. Probes never throw: every failure becomes an
 * `{ available: false, code, reason }` value. They do not keep anything open.
 */

import { readAuditStatus } from './audit-control.ts';
import { Errno, Fanotify, Inotify, Netlink } from './internal/constants.ts';
import { errnoName, libc } from './internal/libc.ts';
import { openNetlinkSocket } from './internal/netlink.ts';
import { closeProcConnectorSocket, openProcConnectorSocket } from './internal/proc-connector-socket.ts';
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

/** Whether the proc connector can be subscribed (needs CAP_NET_ADMIN in the initial namespaces). */
export function probeProcConnector(): Availability {
  const off = notLinux();
  if (off) return off;
  try {
    const { fd } = openProcConnectorSocket({ ackTimeoutMs: 500 });
    closeProcConnectorSocket(fd);
    return AVAILABLE;
  } catch (e) {
    return fromThrown('proc connector', e);
  }
}

/**
 * Whether the audit exec monitor can run: NETLINK_AUDIT exists, AUDIT_GET is permitted
 * (CAP_AUDIT_CONTROL) and the configuration is not locked (enabled = 2 is reported as
 * `no_permission`, since rules cannot be added until reboot).
 */
export function probeAudit(): Availability {
  const off = notLinux();
  if (off) return off;
  try {
    const s = readAuditStatus();
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
export function probeSockDiag(): Availability {
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
export function probeFanotify(): Availability {
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
export function probeInotify(): Availability {
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
