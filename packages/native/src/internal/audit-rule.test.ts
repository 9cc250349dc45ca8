import { describe, expect, it } from 'vitest';
import { isNativeError } from '../native-error.ts';
import { decodeAuditRule, encodeExecRule, execRuleTargets, formatAuditRule } from './audit-rule.ts';

describe('audit rules', () => {
  it('encodes the exec rule and formats it like auditctl', () => {
    const b = encodeExecRule({ arch: 0xc000003e, syscalls: [59, 322], key: 'daemoneye-exec' });
    expect(b.length).toBe(1040 + 'daemoneye-exec'.length);
    const r = decodeAuditRule(b);
    expect(r).toEqual({
      list: 4,
      action: 2,
      fields: [
        { field: 11, op: 0x40000000, value: 0xc000003e },
        { field: 210, op: 0x40000000, value: 14, str: 'daemoneye-exec' },
      ],
      syscalls: [59, 322],
      key: 'daemoneye-exec',
    });
    expect(formatAuditRule(r ?? expect.fail('decode'))).toBe(
      '-a always,exit -F arch=b64 -S 59,322 -F key=daemoneye-exec',
    );
  });

  it('targets b64 and b32 execve/execveat on x86_64, b64 on arm64, nothing elsewhere', () => {
    expect(execRuleTargets('x64')).toEqual([
      { arch: 0xc000003e, syscalls: [59, 322] },
      { arch: 0x40000003, syscalls: [11, 358] },
    ]);
    expect(execRuleTargets('arm64')).toEqual([{ arch: 0xc00000b7, syscalls: [221, 281] }]);
    expect(execRuleTargets('riscv64')).toEqual([]);
  });

  it('rejects empty and oversized keys, and truncated rule data', () => {
    const thrown = (key: string): unknown => {
      try {
        encodeExecRule({ arch: 1, syscalls: [], key });
      } catch (e) {
        return e;
      }
      return undefined;
    };
    for (const key of ['', 'k'.repeat(257)]) {
      const e = thrown(key);
      expect(isNativeError(e, 'ERR_NATIVE_INVALID_ARGUMENT')).toBe(true);
      expect((e as Error).message).toBe(`key must be 1..256 bytes of UTF-8, got ${JSON.stringify(key)}`);
    }
    expect(decodeAuditRule(Buffer.alloc(100))).toBeUndefined();
  });
});
