/**
 * Proc connector events and their decoder: turns the bytes of NETLINK_CONNECTOR datagrams into typed
 * fork/exec/exit/uid/comm events. Pure (no system calls), so it is tested against recorded kernel
 * bytes. Event kinds this package does not surface (gid, sid, ptrace, coredump, nonzero-exit) are
 * skipped; the subscription acknowledgement is returned separately.
 */
import { ProcCn } from './internal/constants.ts';
import { CnMsg, NlMsgHdr, nlmsgAlign, ProcEvent } from './internal/structs.ts';

/** A process event from the kernel proc connector. Pids are in the initial pid namespace. */
export type ProcConnectorEvent =
  | {
      readonly type: 'fork';
      readonly timestampNs: bigint;
      readonly parentPid: number;
      readonly parentTgid: number;
      readonly childPid: number;
      readonly childTgid: number;
    }
  | {
      readonly type: 'exec';
      readonly timestampNs: bigint;
      readonly pid: number;
      readonly tgid: number;
      /**
       * The `/proc/<pid>/` files and links named in `captureOnExec`, read by the reader thread as
       * soon as the event was decoded: latin1 text, or `-errno` when the read failed (a process that
       * already exited). Absent when capture is off or was skipped under load.
       */
      readonly captured?: Readonly<Record<string, string | number>>;
      /**
       * CLOCK_MONOTONIC time (ns, the clock of `timestampNs`) when the capture ended: a later exec of
       * the same process stamped before it means the capture may show that later image.
       */
      readonly capturedAtNs?: bigint;
    }
  | {
      readonly type: 'exit';
      readonly timestampNs: bigint;
      readonly pid: number;
      readonly tgid: number;
      /** Decoded wait status: the exit code for a normal exit, 128 + signal when killed by a signal. */
      readonly exitCode: number;
      /** The kernel's `exit_signal`: the signal sent to the parent on exit (usually SIGCHLD, 17; -1 for threads). */
      readonly exitSignal: number;
      /** The raw wait status (`exit_code` in the kernel event). */
      readonly status: number;
      /** The signal that terminated the process, 0 when it exited normally. */
      readonly termSignal: number;
      readonly parentPid: number;
      readonly parentTgid: number;
    }
  | {
      readonly type: 'uid';
      readonly timestampNs: bigint;
      readonly pid: number;
      readonly tgid: number;
      readonly ruid: number;
      readonly euid: number;
    }
  | {
      readonly type: 'comm';
      readonly timestampNs: bigint;
      readonly pid: number;
      readonly tgid: number;
      readonly comm: string;
    };

/** The acknowledgement of a listen/ignore request (`err` is a positive errno, 0 for success). */
export interface ProcConnectorAck {
  readonly type: 'ack';
  readonly err: number;
}

/** Decodes a raw wait status into `{ exitCode, termSignal }` (exitCode is 128 + signal when signalled). */
export function decodeWaitStatus(status: number): { exitCode: number; termSignal: number } {
  const sig = status & 0x7f;
  if (sig === 0) return { exitCode: (status >> 8) & 0xff, termSignal: 0 };
  return { exitCode: 128 + sig, termSignal: sig };
}

function decodeEvent(buf: Buffer, ev: number, end: number): ProcConnectorEvent | ProcConnectorAck | undefined {
  if (ev + ProcEvent.DATA > end) return undefined;
  const what = buf.readUInt32LE(ev + ProcEvent.WHAT);
  const timestampNs = buf.readBigUInt64LE(ev + ProcEvent.TIMESTAMP_NS);
  const d = ev + ProcEvent.DATA;
  const u32 = (o: number): number => (d + o + 4 <= end ? buf.readUInt32LE(d + o) : 0);
  const s32 = (o: number): number => (d + o + 4 <= end ? buf.readInt32LE(d + o) : 0);
  switch (what) {
    case ProcCn.PROC_EVENT_NONE:
      return { type: 'ack', err: u32(ProcEvent.ACK_ERR) };
    case ProcCn.PROC_EVENT_FORK:
      return {
        type: 'fork',
        timestampNs,
        parentPid: u32(ProcEvent.FORK_PARENT_PID),
        parentTgid: u32(ProcEvent.FORK_PARENT_TGID),
        childPid: u32(ProcEvent.FORK_CHILD_PID),
        childTgid: u32(ProcEvent.FORK_CHILD_TGID),
      };
    case ProcCn.PROC_EVENT_EXEC:
      return { type: 'exec', timestampNs, pid: u32(ProcEvent.PROCESS_PID), tgid: u32(ProcEvent.PROCESS_TGID) };
    case ProcCn.PROC_EVENT_UID:
      return {
        type: 'uid',
        timestampNs,
        pid: u32(ProcEvent.PROCESS_PID),
        tgid: u32(ProcEvent.PROCESS_TGID),
        ruid: u32(ProcEvent.ID_RUID),
        euid: u32(ProcEvent.ID_EUID),
      };
    case ProcCn.PROC_EVENT_COMM: {
      const start = Math.min(d + ProcEvent.COMM, end);
      const raw = buf.subarray(start, Math.min(start + ProcEvent.COMM_LEN, end));
      const nul = raw.indexOf(0);
      const comm = raw.toString('utf8', 0, nul < 0 ? raw.length : nul);
      return { type: 'comm', timestampNs, pid: u32(ProcEvent.PROCESS_PID), tgid: u32(ProcEvent.PROCESS_TGID), comm };
    }
    case ProcCn.PROC_EVENT_EXIT: {
      const status = u32(ProcEvent.EXIT_CODE);
      return {
        type: 'exit',
        timestampNs,
        pid: u32(ProcEvent.PROCESS_PID),
        tgid: u32(ProcEvent.PROCESS_TGID),
        ...decodeWaitStatus(status),
        exitSignal: s32(ProcEvent.EXIT_SIGNAL),
        status,
        parentPid: u32(ProcEvent.EXIT_PARENT_PID),
        parentTgid: u32(ProcEvent.EXIT_PARENT_TGID),
      };
    }
    default:
      return undefined;
  }
}

/**
 * Decodes the netlink messages in `buf[0..n)` and appends proc events (and acks) to `out`. Messages
 * that are not proc connector messages, or are truncated, are skipped; never throws.
 */
export function decodeProcConnectorDatagram(
  buf: Buffer,
  n: number,
  out: (ProcConnectorEvent | ProcConnectorAck)[],
): void {
  let off = 0;
  while (off + NlMsgHdr.SIZE <= n) {
    const len = buf.readUInt32LE(off + NlMsgHdr.LEN);
    if (len < NlMsgHdr.SIZE || off + len > n) break;
    const cn = off + NlMsgHdr.SIZE;
    if (cn + CnMsg.SIZE <= off + len) {
      const idx = buf.readUInt32LE(cn + CnMsg.IDX);
      const val = buf.readUInt32LE(cn + CnMsg.VAL);
      if (idx === ProcCn.CN_IDX_PROC && val === ProcCn.CN_VAL_PROC) {
        const e = decodeEvent(buf, cn + CnMsg.SIZE, off + len);
        if (e) out.push(e);
      }
    }
    off += nlmsgAlign(len);
  }
}

/** Encodes the control message that starts (`listen`) or stops (`ignore`) event delivery. */
export function encodeProcConnectorControl(op: 'listen' | 'ignore', pid: number): Buffer {
  const payloadLen = CnMsg.SIZE + 4;
  const b = Buffer.alloc(NlMsgHdr.SIZE + payloadLen);
  b.writeUInt32LE(b.length, NlMsgHdr.LEN);
  b.writeUInt16LE(3, NlMsgHdr.TYPE); // NLMSG_DONE: the connector's single-message convention
  b.writeUInt32LE(pid >>> 0, NlMsgHdr.PID);
  const cn = NlMsgHdr.SIZE;
  b.writeUInt32LE(ProcCn.CN_IDX_PROC, cn + CnMsg.IDX);
  b.writeUInt32LE(ProcCn.CN_VAL_PROC, cn + CnMsg.VAL);
  b.writeUInt16LE(4, cn + CnMsg.LEN);
  b.writeUInt32LE(op === 'listen' ? ProcCn.PROC_CN_MCAST_LISTEN : ProcCn.PROC_CN_MCAST_IGNORE, cn + CnMsg.SIZE);
  return b;
}
