/**
 * Worker-thread entry for the audit exec monitor: opens the NETLINK_AUDIT socket, either registers
 * itself as the audit daemon (unicast) or joins the READLOG multicast group, then runs the shared
 * reader loop, assembling records into exec records. Configuration (rules, enable flag) is done by
 * the host, not here. Loaded as a worker script, never imported.
 */
import { workerData } from 'node:worker_threads';
import { type AuditExecRecord, decodeAuditDatagram } from '../audit-record.ts';
import { isNativeError, NativeError } from '../native-error.ts';
import { type AuditAssembler, createAuditAssembler } from './audit-assembler.ts';
import { encodeRegisterDaemon } from './audit-config.ts';
import { Audit, Errno, Netlink, Sock } from './constants.ts';
import { callError, errnoName, libc } from './libc.ts';
import { openNetlinkSocket, receiveBufferSize } from './netlink.ts';
import { runReaderLoop } from './reader-loop.ts';
import { encodeNlMsg, NlMsgHdr } from './structs.ts';
import { runWorkerEntry } from './worker-entry.ts';
import type { WorkerMessage } from './worker-protocol.ts';

/** What the audit worker posts in its batches. */
export type AuditWorkerItem =
  | { readonly kind: 'exec'; readonly record: AuditExecRecord }
  | { readonly kind: 'records'; readonly count: number };

const data = workerData as { mode: 'unicast' | 'multicast'; receiveBufferBytes: number; key: string };

function decodeInto(asm: AuditAssembler, buf: Buffer, n: number, out: AuditWorkerItem[]): number {
  const records = decodeAuditDatagram(buf, n);
  for (const r of records) {
    const rec = asm.push(r);
    if (rec) out.push({ kind: 'exec', record: rec });
  }
  return records.length;
}

/** Registers this process as the audit daemon on `fd` and waits for the kernel's ack. */
function registerDaemon(fd: number, asm: AuditAssembler, early: AuditWorkerItem[]): number {
  const c = libc();
  const seq = 1;
  const msg = encodeNlMsg(
    { type: Audit.AUDIT_SET, flags: Netlink.NLM_F_REQUEST | Netlink.NLM_F_ACK, seq },
    encodeRegisterDaemon(process.pid),
  );
  const sent = c.send(fd, msg, 0);
  if (sent < 0) throw callError('AUDIT_SET (register daemon)', sent);
  const buf = Buffer.alloc(1 << 16);
  let records = 0;
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline) {
    if (c.pollIn(fd, 100) <= 0) continue;
    const n = c.recv(fd, buf, Sock.MSG_DONTWAIT);
    if (n < NlMsgHdr.SIZE) continue;
    const type = buf.readUInt16LE(NlMsgHdr.TYPE);
    if (type === Netlink.NLMSG_ERROR && buf.readUInt32LE(NlMsgHdr.SEQ) === seq) {
      const err = -buf.readInt32LE(NlMsgHdr.SIZE);
      if (err === 0) return records;
      if (err === Errno.EEXIST)
        throw new NativeError('ERR_AUDIT_BUSY', 'another audit daemon is registered', { errno: err });
      if (err === Errno.EPERM)
        throw new NativeError(
          'ERR_NATIVE_UNAVAILABLE',
          'registering as audit daemon: EPERM (needs CAP_AUDIT_CONTROL)',
          { errno: err },
        );
      throw new NativeError('ERR_NATIVE_CALL', `registering as audit daemon failed: ${errnoName(err)}`, { errno: err });
    }
    records += decodeInto(asm, buf, n, early);
  }
  throw new NativeError('ERR_NETLINK_PROTOCOL', 'no acknowledgement for the audit daemon registration');
}

runWorkerEntry((port) => {
  const c = libc();
  const asm = createAuditAssembler({ key: data.key });
  let fd: number;
  try {
    fd = openNetlinkSocket(Netlink.NETLINK_AUDIT, {
      groups: data.mode === 'multicast' ? 1 << (Audit.AUDIT_NLGRP_READLOG - 1) : 0,
      receiveBufferBytes: data.receiveBufferBytes,
    });
  } catch (e) {
    if (isNativeError(e) && e.errno === Errno.EPERM) {
      throw new NativeError('ERR_NATIVE_UNAVAILABLE', `audit ${data.mode} socket: EPERM (needs CAP_AUDIT_READ)`, {
        errno: e.errno,
      });
    }
    throw e;
  }
  const early: AuditWorkerItem[] = [];
  let records = 0;
  try {
    if (data.mode === 'unicast') records = registerDaemon(fd, asm, early);
  } catch (e) {
    c.close(fd);
    throw e;
  }
  port.postMessage({
    type: 'ready',
    fd,
    receiveBufferBytes: receiveBufferSize(fd),
  } satisfies WorkerMessage<AuditWorkerItem>);
  if (records > 0) early.push({ kind: 'records', count: records });
  if (early.length > 0) port.postMessage({ type: 'batch', items: early } satisfies WorkerMessage<AuditWorkerItem>);
  let counted = 0;
  runReaderLoop<AuditWorkerItem>({
    port,
    fd,
    mode: 'recv',
    bufferBytes: 1 << 16,
    decode: (buf, n, out) => {
      counted += decodeInto(asm, buf, n, out);
    },
    afterRead: (out) => {
      if (counted > 0) out.push({ kind: 'records', count: counted });
      counted = 0;
    },
    cleanup: () => c.close(fd),
  });
});
