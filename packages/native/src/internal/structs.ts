/**
 * Byte layouts of the kernel structures this package reads and writes, each defined once: sizes and
 * field offsets (little-endian, x86_64/aarch64 ABI) plus a few tiny encoders for the fixed-size
 * request structs. Parsing of whole messages lives in the `*-parse.ts` modules; this module only
 * names where bytes are.
 */

/** struct nlmsghdr: len u32, type u16, flags u16, seq u32, pid u32. */
export const NlMsgHdr = { SIZE: 16, LEN: 0, TYPE: 4, FLAGS: 6, SEQ: 8, PID: 12 } as const;

/** struct nlmsgerr: error s32 followed by the offending request header. */
export const NlMsgErr = { ERROR: 0, SIZE: 4 + 16 } as const;

/** struct sockaddr_nl: family u16, pad u16, pid u32, groups u32. */
export const SockaddrNl = { SIZE: 12, FAMILY: 0, PID: 4, GROUPS: 8 } as const;

/** struct pollfd: fd s32, events s16, revents s16. */
export const PollFd = { SIZE: 8, FD: 0, EVENTS: 4, REVENTS: 6 } as const;

/** struct ucred: pid s32, uid u32, gid u32. */
export const Ucred = { SIZE: 12, PID: 0, UID: 4, GID: 8 } as const;

/** struct cn_msg: id.idx u32, id.val u32, seq u32, ack u32, len u16, flags u16, then data. */
export const CnMsg = { SIZE: 20, IDX: 0, VAL: 4, SEQ: 8, ACK: 12, LEN: 16, FLAGS: 18 } as const;

/**
 * struct proc_event: what u32, cpu u32, timestamp_ns u64, then the event_data union at 16.
 * Field offsets below are relative to the union start.
 */
export const ProcEvent = {
  WHAT: 0,
  CPU: 4,
  TIMESTAMP_NS: 8,
  DATA: 16,
  ACK_ERR: 0,
  FORK_PARENT_PID: 0,
  FORK_PARENT_TGID: 4,
  FORK_CHILD_PID: 8,
  FORK_CHILD_TGID: 12,
  PROCESS_PID: 0,
  PROCESS_TGID: 4,
  ID_RUID: 8,
  ID_EUID: 12,
  COMM: 8,
  COMM_LEN: 16,
  EXIT_CODE: 8,
  EXIT_SIGNAL: 12,
  EXIT_PARENT_PID: 16,
  EXIT_PARENT_TGID: 20,
  EXIT_SIZE: 24,
} as const;

/** struct audit_status (as of Linux 5.x, 44 bytes; older kernels send a prefix). */
export const AuditStatus = {
  SIZE: 44,
  MASK: 0,
  ENABLED: 4,
  FAILURE: 8,
  PID: 12,
  RATE_LIMIT: 16,
  BACKLOG_LIMIT: 20,
  LOST: 24,
  BACKLOG: 28,
  /** u32 feature_bitmap (or version) at 32, then backlog_wait_time (kernel 3.14 and later). */
  BACKLOG_WAIT_TIME: 36,
  /** Jiffies processes have waited on a full backlog in all (kernel 5.9 and later). */
  BACKLOG_WAIT_TIME_ACTUAL: 40,
} as const;

/** struct audit_rule_data: flags, action, field_count, mask[64], fields[64], values[64], fieldflags[64], buflen, buf[]. */
export const AuditRuleData = {
  FLAGS: 0,
  ACTION: 4,
  FIELD_COUNT: 8,
  MASK: 12,
  FIELDS: 12 + 64 * 4,
  VALUES: 12 + 128 * 4,
  FIELDFLAGS: 12 + 192 * 4,
  BUFLEN: 12 + 256 * 4,
  BUF: 16 + 256 * 4,
} as const;

/** struct inet_diag_req_v2 (56 bytes) with its embedded inet_diag_sockid. */
export const InetDiagReqV2 = {
  SIZE: 56,
  FAMILY: 0,
  PROTOCOL: 1,
  EXT: 2,
  STATES: 4,
  SOCKID_COOKIE: 8 + 40,
} as const;

/** struct inet_diag_req (60 bytes), the request of TCPDIAG_GETSOCK: no family or protocol field of its own. */
export const InetDiagReqV1 = {
  SIZE: 60,
  EXT: 3,
  SOCKID_COOKIE: 4 + 40,
  STATES: 52,
} as const;

/** struct inet_diag_msg (72 bytes); ports are big-endian, addresses are 16 bytes each. */
export const InetDiagMsg = {
  SIZE: 72,
  FAMILY: 0,
  STATE: 1,
  SPORT: 4,
  DPORT: 6,
  SRC: 8,
  DST: 24,
  UID: 64,
  INODE: 68,
} as const;

/** struct unix_diag_req (24 bytes): family u8, protocol u8, pad u16, states u32, ino u32, show u32, cookie u32[2]. */
export const UnixDiagReq = { SIZE: 24, FAMILY: 0, STATES: 4, INO: 8, SHOW: 12, COOKIE: 16 } as const;

/** struct unix_diag_msg (16 bytes): family u8, type u8, state u8, pad u8, ino u32, cookie u32[2]; attributes follow. */
export const UnixDiagMsg = { SIZE: 16, FAMILY: 0, TYPE: 1, STATE: 2, INO: 4 } as const;

/** struct rtattr: len u16, type u16, payload aligned to 4. */
export const RtAttr = { SIZE: 4, LEN: 0, TYPE: 2 } as const;

/** Offsets in struct tcp_info: rtt (u32, µs), total_retrans (u32) and the byte counters (u64). */
export const TcpInfo = { RTT: 68, TOTAL_RETRANS: 100, BYTES_ACKED: 120, BYTES_RECEIVED: 128, BYTES_SENT: 200 } as const;

/** struct inotify_event: wd s32, mask u32, cookie u32, len u32, name[len]. */
export const InotifyEvent = { SIZE: 16, WD: 0, MASK: 4, COOKIE: 8, LEN: 12 } as const;

/** struct fanotify_event_metadata: event_len u32, vers u8, reserved u8, metadata_len u16, mask u64, fd s32, pid s32. */
export const FanotifyEventMetadata = {
  SIZE: 24,
  EVENT_LEN: 0,
  VERS: 4,
  METADATA_LEN: 6,
  MASK: 8,
  FD: 16,
  PID: 20,
} as const;

/** Netlink messages are aligned to 4 bytes. */
export function nlmsgAlign(len: number): number {
  return (len + 3) & ~3;
}

/** Encodes a struct sockaddr_nl for bind(2). */
export function encodeSockaddrNl(groups: number, pid = 0): Buffer {
  const sa = Buffer.alloc(SockaddrNl.SIZE);
  sa.writeUInt16LE(16, SockaddrNl.FAMILY);
  sa.writeUInt32LE(pid >>> 0, SockaddrNl.PID);
  sa.writeUInt32LE(groups >>> 0, SockaddrNl.GROUPS);
  return sa;
}

/** Fields of a netlink message header to encode. */
export interface NlHeaderFields {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid?: number;
}

/** Encodes a complete netlink message: header plus `payload`, padded to alignment. */
export function encodeNlMsg(header: NlHeaderFields, payload: Buffer): Buffer {
  const len = NlMsgHdr.SIZE + payload.length;
  const b = Buffer.alloc(nlmsgAlign(len));
  b.writeUInt32LE(len, NlMsgHdr.LEN);
  b.writeUInt16LE(header.type, NlMsgHdr.TYPE);
  b.writeUInt16LE(header.flags, NlMsgHdr.FLAGS);
  b.writeUInt32LE(header.seq >>> 0, NlMsgHdr.SEQ);
  b.writeUInt32LE((header.pid ?? 0) >>> 0, NlMsgHdr.PID);
  payload.copy(b, NlMsgHdr.SIZE);
  return b;
}
