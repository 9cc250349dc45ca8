/**
 * struct audit_rule_data in both directions: encoding the exec-watching rule this package adds (the
 * equivalent of `auditctl -a always,exit -F arch=b64 -S execve,execveat -k KEY`), decoding the rules
 * the kernel lists, and a textual auditctl-like form used to compare rule sets. Pure: no system calls.
 */
import { invalidArgument } from '../native-error.ts';
import { Audit, ExecSyscalls } from './constants.ts';
import { AuditRuleData } from './structs.ts';

/** One field comparison of a rule: `field op value`, with the string for string-valued fields. */
export interface AuditRuleField {
  readonly field: number;
  readonly op: number;
  readonly value: number;
  readonly str?: string;
}

/** A decoded audit rule. */
export interface AuditRule {
  /** The filter list (AUDIT_FILTER_EXIT = 4, ...). */
  readonly list: number;
  /** AUDIT_NEVER 0, AUDIT_POSSIBLE 1, AUDIT_ALWAYS 2. */
  readonly action: number;
  readonly fields: readonly AuditRuleField[];
  /** The syscall numbers whose bit is set in the rule mask. */
  readonly syscalls: readonly number[];
  /** The key (AUDIT_FILTERKEY string), when the rule has one. */
  readonly key?: string;
}

const STRING_FIELDS = new Set([13, 14, 15, 16, 17, 19, 20, 21, 22, 23, 105, 107, 112, Audit.AUDIT_FILTERKEY]);
const FIELD_NAMES: Readonly<Record<number, string>> = {
  0: 'pid',
  1: 'uid',
  2: 'euid',
  3: 'suid',
  4: 'fsuid',
  5: 'gid',
  6: 'egid',
  7: 'sgid',
  8: 'fsgid',
  9: 'auid',
  10: 'pers',
  11: 'arch',
  12: 'msgtype',
  18: 'ppid',
  100: 'devmajor',
  101: 'devminor',
  102: 'inode',
  103: 'exit',
  104: 'success',
  105: 'path',
  106: 'perm',
  107: 'dir',
  108: 'filetype',
  109: 'obj_uid',
  110: 'obj_gid',
  112: 'exe',
  210: 'key',
};
const OPS: Readonly<Record<number, string>> = {
  134217728: '&',
  268435456: '<',
  536870912: '>',
  805306368: '!=',
  1073741824: '=',
  1207959552: '&=',
  1342177280: '<=',
  1610612736: '>=',
};
const LISTS: Readonly<Record<number, string>> = {
  0: 'user',
  1: 'task',
  2: 'entry',
  3: 'watch',
  4: 'exit',
  5: 'exclude',
  6: 'filesystem',
  7: 'io_uring',
};
const ACTIONS: Readonly<Record<number, string>> = { 0: 'never', 1: 'possible', 2: 'always' };
const ARCH_NAMES: Readonly<Record<number, string>> = {
  [Audit.AUDIT_ARCH_X86_64]: 'b64',
  [Audit.AUDIT_ARCH_AARCH64]: 'b64',
  [Audit.AUDIT_ARCH_I386]: 'b32',
};

/** The audit architectures and exec syscalls to watch on the running CPU architecture (empty when unknown). */
export function execRuleTargets(nodeArch: string = process.arch): { arch: number; syscalls: readonly number[] }[] {
  const pick = (arch: number): { arch: number; syscalls: readonly number[] } => ({
    arch,
    syscalls: ExecSyscalls[arch] ?? [],
  });
  if (nodeArch === 'x64') return [pick(Audit.AUDIT_ARCH_X86_64), pick(Audit.AUDIT_ARCH_I386)];
  if (nodeArch === 'arm64') return [pick(Audit.AUDIT_ARCH_AARCH64)];
  return [];
}

/** Encodes an `always,exit` rule for `syscalls` on `arch` tagged with `key`; a bad key throws `ERR_NATIVE_INVALID_ARGUMENT`. */
export function encodeExecRule(opts: { arch: number; syscalls: readonly number[]; key: string }): Buffer {
  const key = Buffer.from(opts.key, 'utf8');
  if (key.length === 0 || key.length > Audit.AUDIT_MAX_KEY_LEN)
    throw invalidArgument('key', opts.key, `1..${Audit.AUDIT_MAX_KEY_LEN} bytes of UTF-8`);
  const b = Buffer.alloc(AuditRuleData.BUF + key.length);
  b.writeUInt32LE(Audit.AUDIT_FILTER_EXIT, AuditRuleData.FLAGS);
  b.writeUInt32LE(Audit.AUDIT_ALWAYS, AuditRuleData.ACTION);
  for (const nr of opts.syscalls) {
    const word = AuditRuleData.MASK + Math.floor(nr / 32) * 4;
    b.writeUInt32LE((b.readUInt32LE(word) | (1 << (nr % 32))) >>> 0, word);
  }
  const fields: AuditRuleField[] = [
    { field: Audit.AUDIT_ARCH_FIELD, op: Audit.AUDIT_EQUAL, value: opts.arch },
    { field: Audit.AUDIT_FILTERKEY, op: Audit.AUDIT_EQUAL, value: key.length },
  ];
  b.writeUInt32LE(fields.length, AuditRuleData.FIELD_COUNT);
  fields.forEach((f, i) => {
    b.writeUInt32LE(f.field, AuditRuleData.FIELDS + i * 4);
    b.writeUInt32LE(f.value >>> 0, AuditRuleData.VALUES + i * 4);
    b.writeUInt32LE(f.op >>> 0, AuditRuleData.FIELDFLAGS + i * 4);
  });
  b.writeUInt32LE(key.length, AuditRuleData.BUFLEN);
  key.copy(b, AuditRuleData.BUF);
  return b;
}

/** Decodes one struct audit_rule_data; returns undefined when it is truncated. */
export function decodeAuditRule(b: Buffer): AuditRule | undefined {
  if (b.length < AuditRuleData.BUF) return undefined;
  const count = Math.min(b.readUInt32LE(AuditRuleData.FIELD_COUNT), Audit.AUDIT_MAX_FIELDS);
  const buflen = b.readUInt32LE(AuditRuleData.BUFLEN);
  if (b.length < AuditRuleData.BUF + buflen) return undefined;
  let strOff = AuditRuleData.BUF;
  const fields: AuditRuleField[] = [];
  let key: string | undefined;
  for (let i = 0; i < count; i++) {
    const field = b.readUInt32LE(AuditRuleData.FIELDS + i * 4);
    const value = b.readUInt32LE(AuditRuleData.VALUES + i * 4);
    const op = b.readUInt32LE(AuditRuleData.FIELDFLAGS + i * 4);
    if (STRING_FIELDS.has(field)) {
      const str = b.toString('utf8', strOff, Math.min(strOff + value, AuditRuleData.BUF + buflen));
      strOff += value;
      fields.push({ field, op, value, str });
      if (field === Audit.AUDIT_FILTERKEY) key = str;
    } else fields.push({ field, op, value });
  }
  const syscalls: number[] = [];
  for (let w = 0; w < Audit.AUDIT_BITMASK_SIZE; w++) {
    const word = b.readUInt32LE(AuditRuleData.MASK + w * 4);
    for (let bit = 0; bit < 32; bit++) if ((word >>> bit) & 1) syscalls.push(w * 32 + bit);
  }
  const rule = {
    list: b.readUInt32LE(AuditRuleData.FLAGS),
    action: b.readUInt32LE(AuditRuleData.ACTION),
    fields,
    syscalls,
  };
  return key === undefined ? rule : { ...rule, key };
}

function formatField(f: AuditRuleField): string {
  const name = FIELD_NAMES[f.field] ?? `f${f.field}`;
  const op = OPS[f.op] ?? `?${f.op.toString(16)}?`;
  if (f.str !== undefined) return `-F ${name}${op}${f.str}`;
  if (f.field === Audit.AUDIT_ARCH_FIELD) return `-F ${name}${op}${ARCH_NAMES[f.value] ?? `0x${f.value.toString(16)}`}`;
  return `-F ${name}${op}${f.value}`;
}

/**
 * An auditctl-like line for a rule, e.g. `-a always,exit -F arch=b64 -S 59,322 -F key=k`. Syscalls
 * are numbers (`all` when every bit is set). Two rules format the same exactly when the kernel
 * treats them as the same rule.
 */
export function formatAuditRule(r: AuditRule): string {
  const parts = [`-a ${ACTIONS[r.action] ?? r.action},${LISTS[r.list] ?? r.list}`];
  const arch = r.fields.filter((f) => f.field === Audit.AUDIT_ARCH_FIELD);
  for (const f of arch) parts.push(formatField(f));
  if (r.syscalls.length === Audit.AUDIT_BITMASK_SIZE * 32) parts.push('-S all');
  else if (r.syscalls.length > 0) parts.push(`-S ${r.syscalls.join(',')}`);
  for (const f of r.fields) if (f.field !== Audit.AUDIT_ARCH_FIELD) parts.push(formatField(f));
  return parts.join(' ');
}
