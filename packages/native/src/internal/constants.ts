/**
 * Kernel constants used by this package, each defined once: socket and netlink numbers, errno values,
 * proc connector, audit, sock_diag, inotify and fanotify values, as found in the Linux UAPI headers.
 * Struct offsets live in `structs.ts`; this module holds numbers only, no behaviour.
 */

/** Socket layer constants (sys/socket.h, linux/netlink.h). */
export const Sock = {
  AF_UNIX: 1,
  AF_INET: 2,
  AF_INET6: 10,
  AF_NETLINK: 16,
  SOCK_STREAM: 1,
  SOCK_DGRAM: 2,
  SOCK_RAW: 3,
  SOCK_CLOEXEC: 0o2000000,
  MSG_DONTWAIT: 0x40,
  SOL_SOCKET: 1,
  SO_RCVBUF: 8,
  SO_PEERCRED: 17,
  SO_RCVBUFFORCE: 33,
  POLLIN: 0x1,
  POLLERR: 0x8,
  POLLHUP: 0x10,
  POLLNVAL: 0x20,
  IPPROTO_TCP: 6,
  IPPROTO_UDP: 17,
} as const;

/** errno values (asm-generic/errno.h) this package branches on. */
/** eventfd(2) flags. */
export const EventFd = {
  EFD_CLOEXEC: 0o2000000,
  EFD_NONBLOCK: 0o4000,
} as const;

export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EBADF: 9,
  EAGAIN: 11,
  EACCES: 13,
  EEXIST: 17,
  EINVAL: 22,
  ENOSYS: 38,
  EOPNOTSUPP: 95,
  EPROTONOSUPPORT: 93,
  EAFNOSUPPORT: 97,
  ENOBUFS: 105,
  ECONNREFUSED: 111,
} as const;

/** Netlink protocol families and message header values (linux/netlink.h). */
export const Netlink = {
  NETLINK_SOCK_DIAG: 4,
  NETLINK_AUDIT: 9,
  NETLINK_CONNECTOR: 11,
  NLMSG_NOOP: 1,
  NLMSG_ERROR: 2,
  NLMSG_DONE: 3,
  NLMSG_OVERRUN: 4,
  NLM_F_REQUEST: 0x1,
  NLM_F_MULTI: 0x2,
  NLM_F_ACK: 0x4,
  NLM_F_DUMP: 0x300,
} as const;

/** Proc connector values (linux/connector.h, linux/cn_proc.h). */
export const ProcCn = {
  CN_IDX_PROC: 1,
  CN_VAL_PROC: 1,
  PROC_CN_MCAST_LISTEN: 1,
  PROC_CN_MCAST_IGNORE: 2,
  PROC_EVENT_NONE: 0,
  PROC_EVENT_FORK: 0x1,
  PROC_EVENT_EXEC: 0x2,
  PROC_EVENT_UID: 0x4,
  PROC_EVENT_GID: 0x40,
  PROC_EVENT_SID: 0x80,
  PROC_EVENT_PTRACE: 0x100,
  PROC_EVENT_COMM: 0x200,
  PROC_EVENT_NONZERO_EXIT: 0x400,
  PROC_EVENT_COREDUMP: 0x40000000,
  PROC_EVENT_EXIT: 0x80000000,
} as const;

/** Audit netlink message types, status mask bits, rule values and architectures (linux/audit.h). */
export const Audit = {
  AUDIT_GET: 1000,
  AUDIT_SET: 1001,
  AUDIT_ADD_RULE: 1011,
  AUDIT_DEL_RULE: 1012,
  AUDIT_LIST_RULES: 1013,
  AUDIT_SYSCALL: 1300,
  AUDIT_PATH: 1302,
  AUDIT_CONFIG_CHANGE: 1305,
  AUDIT_CWD: 1307,
  AUDIT_EXECVE: 1309,
  AUDIT_EOE: 1320,
  AUDIT_PROCTITLE: 1327,
  AUDIT_STATUS_ENABLED: 0x1,
  AUDIT_STATUS_FAILURE: 0x2,
  AUDIT_STATUS_PID: 0x4,
  AUDIT_STATUS_BACKLOG_LIMIT: 0x10,
  AUDIT_STATUS_BACKLOG_WAIT_TIME: 0x20,
  AUDIT_NLGRP_READLOG: 1,
  AUDIT_FILTER_EXIT: 0x04,
  AUDIT_ALWAYS: 2,
  AUDIT_NEVER: 0,
  AUDIT_BITMASK_SIZE: 64,
  AUDIT_MAX_FIELDS: 64,
  AUDIT_MAX_KEY_LEN: 256,
  AUDIT_ARCH_FIELD: 11,
  AUDIT_FILTERKEY: 210,
  AUDIT_EQUAL: 0x40000000,
  AUDIT_ARCH_X86_64: 0xc000003e,
  AUDIT_ARCH_I386: 0x40000003,
  AUDIT_ARCH_AARCH64: 0xc00000b7,
  ENABLED_LOCKED: 2,
} as const;

/** The execve-family syscall numbers per audit architecture. */
export const ExecSyscalls: Readonly<Record<number, readonly number[]>> = {
  [Audit.AUDIT_ARCH_X86_64]: [59, 322],
  [Audit.AUDIT_ARCH_I386]: [11, 358],
  [Audit.AUDIT_ARCH_AARCH64]: [221, 281],
};

/** sock_diag values (linux/sock_diag.h, linux/inet_diag.h). */
export const SockDiag = {
  SOCK_DIAG_BY_FAMILY: 20,
  /** The older inet_diag request (struct inet_diag_req) for TCP; its dump covers IPv4 and IPv6 in one pass. */
  TCPDIAG_GETSOCK: 18,
  INET_DIAG_INFO: 2,
  INET_DIAG_NOCOOKIE: 0xffffffff,
  ALL_STATES: 0xffffffff,
  /** unix_diag_req.udiag_show bits (linux/unix_diag.h). */
  UDIAG_SHOW_NAME: 0x1,
  UDIAG_SHOW_PEER: 0x4,
  UDIAG_SHOW_RQLEN: 0x10,
  UDIAG_SHOW_UID: 0x40,
  /** unix_diag attribute types. */
  UNIX_DIAG_NAME: 0,
  UNIX_DIAG_PEER: 2,
  UNIX_DIAG_RQLEN: 4,
  UNIX_DIAG_UID: 7,
} as const;

/** TCP state names indexed by the kernel state number (net/tcp_states.h). */
export const TcpStateNames: readonly string[] = [
  'UNKNOWN',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
  'NEW_SYN_RECV',
  'BOUND_INACTIVE',
];

/** inotify_init1 flags and event mask bits (linux/inotify.h). */
export const Inotify = {
  IN_NONBLOCK: 0o4000,
  IN_CLOEXEC: 0o2000000,
} as const;

/** inotify event mask bits by name; `names` decoding uses the single-bit entries. */
export const InotifyMaskBits = {
  ACCESS: 0x1,
  MODIFY: 0x2,
  ATTRIB: 0x4,
  CLOSE_WRITE: 0x8,
  CLOSE_NOWRITE: 0x10,
  OPEN: 0x20,
  MOVED_FROM: 0x40,
  MOVED_TO: 0x80,
  CREATE: 0x100,
  DELETE: 0x200,
  DELETE_SELF: 0x400,
  MOVE_SELF: 0x800,
  UNMOUNT: 0x2000,
  Q_OVERFLOW: 0x4000,
  IGNORED: 0x8000,
  ONLYDIR: 0x1000000,
  DONT_FOLLOW: 0x2000000,
  EXCL_UNLINK: 0x4000000,
  MASK_CREATE: 0x10000000,
  MASK_ADD: 0x20000000,
  ISDIR: 0x40000000,
  ONESHOT: 0x80000000,
  CLOSE: 0x18,
  MOVE: 0xc0,
  ALL_EVENTS: 0xfff,
} as const;

/** fanotify_init / fanotify_mark flags and constants (linux/fanotify.h). */
export const Fanotify = {
  FAN_CLASS_NOTIF: 0x0,
  FAN_CLOEXEC: 0x1,
  FAN_NONBLOCK: 0x2,
  FAN_REPORT_FID: 0x200,
  FAN_REPORT_DIR_FID: 0x400,
  FAN_REPORT_NAME: 0x800,
  FAN_REPORT_DFID_NAME: 0xc00,
  FAN_MARK_ADD: 0x1,
  FAN_MARK_REMOVE: 0x2,
  FAN_MARK_MOUNT: 0x10,
  FAN_MARK_FILESYSTEM: 0x100,
  FAN_NOFD: -1,
  FANOTIFY_METADATA_VERSION: 3,
  O_RDONLY: 0,
  O_CLOEXEC: 0o2000000,
  AT_FDCWD: -100,
  O_DIRECTORY: 0o200000,
  O_PATH: 0o10000000,
  /** fanotify_event_info_header.info_type values. */
  INFO_FID: 1,
  INFO_DFID_NAME: 2,
  INFO_DFID: 3,
  INFO_OLD_DFID_NAME: 10,
  INFO_NEW_DFID_NAME: 12,
} as const;

/** fanotify event mask bits by name (64-bit masks, as BigInt). */
export const FanotifyMaskBits = {
  ACCESS: 0x1n,
  MODIFY: 0x2n,
  ATTRIB: 0x4n,
  CLOSE_WRITE: 0x8n,
  CLOSE_NOWRITE: 0x10n,
  OPEN: 0x20n,
  MOVED_FROM: 0x40n,
  MOVED_TO: 0x80n,
  CREATE: 0x100n,
  DELETE: 0x200n,
  DELETE_SELF: 0x400n,
  MOVE_SELF: 0x800n,
  OPEN_EXEC: 0x1000n,
  Q_OVERFLOW: 0x4000n,
  FS_ERROR: 0x8000n,
  OPEN_PERM: 0x10000n,
  ACCESS_PERM: 0x20000n,
  OPEN_EXEC_PERM: 0x40000n,
  EVENT_ON_CHILD: 0x8000000n,
  RENAME: 0x10000000n,
  ONDIR: 0x40000000n,
  CLOSE: 0x18n,
  MOVE: 0xc0n,
} as const;
