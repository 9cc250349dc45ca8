/**
 * Audit records as the kernel sends them over NETLINK_AUDIT, and the exec record assembled from
 * them. This module decodes one datagram into `{ type, serial, timestampMs, fields }` and decodes
 * field values (quoted, hex-encoded, `(null)`). Pure: no system calls, tested against recorded
 * kernel bytes. Grouping records into events is `internal/audit-assembler.ts`.
 */
import { NlMsgHdr } from './internal/structs.ts';

/** One exec event, assembled from the SYSCALL, EXECVE, CWD (and PATH, PROCTITLE) records sharing a serial. */
export interface AuditExecRecord {
  /** The audit event serial (unique per boot). */
  serial: number;
  /** Event time in epoch milliseconds (from `audit(<sec>.<ms>:<serial>)`). */
  timestampMs: number;
  pid: number;
  ppid: number;
  uid: number;
  euid: number;
  gid: number;
  /** Login uid; 4294967295 when unset. */
  auid: number;
  /** The executable after the exec (`exe=` of the SYSCALL record); on failure, the caller's executable. */
  exe?: string;
  comm?: string;
  /** Arguments from the EXECVE record(s); empty when the exec failed before arguments were copied. */
  argv: string[];
  cwd?: string;
  success: boolean;
  /** The syscall return value (`exit=`), e.g. -2 for ENOENT. */
  exitCode?: number;
  /** The rule key (`key=`), when the matching rule had one. */
  key?: string;
}

/** One audit record: its type, event id and raw `name=value` fields in order. */
export interface AuditRecord {
  readonly type: number;
  readonly serial: number;
  readonly timestampMs: number;
  /** Field values exactly as written by the kernel (quotes kept), in order; repeated names keep the first. */
  readonly fields: ReadonlyMap<string, string>;
}

const HEADER = /^audit\((\d+)\.(\d+):(\d+)\):\s?/;
const FIELD = /([^\s=]+)=("[^"]*"|'[^']*'|\S*)/g;

/** Parses the text of one audit record; undefined when it has no `audit(...)` header. */
export function parseAuditRecordText(type: number, text: string): AuditRecord | undefined {
  const h = HEADER.exec(text);
  if (!h) return undefined;
  const fields = new Map<string, string>();
  for (const m of text.slice(h[0].length).matchAll(FIELD)) {
    const name = m[1] ?? '';
    if (!fields.has(name)) fields.set(name, m[2] ?? '');
  }
  return { type, serial: Number(h[3]), timestampMs: Number(h[1]) * 1000 + Number(h[2]), fields };
}

/**
 * Decodes one NETLINK_AUDIT datagram into its records. Handles both length conventions: unicast
 * records (to the registered daemon) carry `nlmsg_len` without the header, multicast ones with it.
 * Control messages (NLMSG_ERROR, NLMSG_DONE, replies below type 1100) are skipped.
 */
export function decodeAuditDatagram(buf: Buffer, n: number = buf.length): AuditRecord[] {
  const out: AuditRecord[] = [];
  let off = 0;
  while (off + NlMsgHdr.SIZE <= n) {
    const len = buf.readUInt32LE(off + NlMsgHdr.LEN);
    const type = buf.readUInt16LE(off + NlMsgHdr.TYPE);
    // the unicast quirk: len is the payload length; such a record is alone in its datagram
    const quirk = off === 0 && len + NlMsgHdr.SIZE === n;
    const end = quirk ? n : off + len;
    if (!quirk && (len < NlMsgHdr.SIZE || end > n)) break;
    if (type >= 1100) {
      let textEnd = end;
      while (textEnd > off + NlMsgHdr.SIZE && buf[textEnd - 1] === 0) textEnd--;
      const rec = parseAuditRecordText(type, buf.toString('utf8', off + NlMsgHdr.SIZE, textEnd));
      if (rec) out.push(rec);
    }
    off = (end + 3) & ~3;
  }
  return out;
}

const HEX = /^(?:[0-9A-F]{2})+$/;

/**
 * Decodes an "untrusted string" value: `"text"` → text, hex (the kernel hex-encodes strings with
 * spaces, quotes or control characters) → the decoded bytes as UTF-8, `(null)` → undefined.
 */
export function decodeAuditString(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '(null)' || raw === '(none)') return undefined;
  if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) return raw.slice(1, -1);
  if (HEX.test(raw)) return Buffer.from(raw, 'hex').toString('utf8');
  return raw;
}

/** Decodes the hex bytes of a value that may be hex or quoted, keeping bytes (for split arguments). */
function valueBytes(raw: string): Buffer {
  if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) return Buffer.from(raw.slice(1, -1), 'utf8');
  if (HEX.test(raw)) return Buffer.from(raw, 'hex');
  return Buffer.from(raw, 'utf8');
}

/**
 * Rebuilds argv from the EXECVE records of one event: `argc`, plain `aN=` values and arguments split
 * into `aN_len` + `aN[i]` chunks (possibly across several records). Missing arguments become ''.
 */
export function decodeExecveArgs(records: readonly AuditRecord[]): string[] {
  let argc = 0;
  const whole = new Map<number, string>();
  const chunks = new Map<number, Map<number, Buffer>>();
  for (const r of records) {
    for (const [name, raw] of r.fields) {
      if (name === 'argc') {
        argc = Number(raw);
        continue;
      }
      const m = /^a(\d+)(?:\[(\d+)\])?$/.exec(name);
      if (!m) continue;
      const arg = Number(m[1]);
      if (m[2] === undefined) whole.set(arg, decodeAuditString(raw) ?? '');
      else {
        const parts = chunks.get(arg) ?? new Map<number, Buffer>();
        parts.set(Number(m[2]), valueBytes(raw));
        chunks.set(arg, parts);
      }
    }
  }
  const argv: string[] = [];
  for (let i = 0; i < argc; i++) {
    const parts = chunks.get(i);
    if (parts) {
      const ordered = [...parts.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
      argv.push(Buffer.concat(ordered).toString('utf8'));
    } else argv.push(whole.get(i) ?? '');
  }
  return argv;
}
