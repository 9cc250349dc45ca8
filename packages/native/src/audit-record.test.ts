import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  type AuditExecRecord,
  decodeAuditDatagram,
  decodeAuditString,
  decodeExecveArgs,
  parseAuditRecordText,
} from './audit-record.ts';
import { createAuditAssembler } from './internal/audit-assembler.ts';

interface Fixture {
  pids: number[];
  datagrams: string[];
}
const load = (name: string): Fixture =>
  JSON.parse(readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8')) as Fixture;

function assemble(f: Fixture, key?: string): AuditExecRecord[] {
  const asm = createAuditAssembler(key === undefined ? {} : { key });
  const out: AuditExecRecord[] = [];
  for (const hex of f.datagrams) {
    for (const r of decodeAuditDatagram(Buffer.from(hex, 'hex'))) {
      const rec = asm.push(r);
      if (rec) out.push(rec);
    }
  }
  expect(asm.pending()).toBe(0);
  return out;
}

describe('decodeAuditDatagram', () => {
  it('decodes unicast records (nlmsg_len without header) and skips the ack', () => {
    const f = load('audit-unicast.json');
    const types = f.datagrams.flatMap((h) => decodeAuditDatagram(Buffer.from(h, 'hex')).map((r) => r.type));
    expect(types.slice(0, 8)).toEqual([1300, 1321, 1309, 1307, 1302, 1302, 1327, 1320]);
    expect(types.length).toBe(f.datagrams.length - 1);
  });

  it('decodes multicast records (nlmsg_len with header) the same way', () => {
    const uni = load('audit-unicast.json');
    const multi = load('audit-multicast.json');
    const typesOf = (f: Fixture): number[] =>
      f.datagrams.flatMap((h) => decodeAuditDatagram(Buffer.from(h, 'hex')).map((r) => r.type));
    expect(typesOf(multi)).toEqual(typesOf(uni));
  });

  it('parses the header into serial and milliseconds', () => {
    const r = parseAuditRecordText(1307, 'audit(1795782605.622:2): cwd="/work/main"');
    expect(r?.serial).toBe(2);
    expect(r?.timestampMs).toBe(1795782605622);
    expect(r?.fields.get('cwd')).toBe('"/work/main"');
    expect(parseAuditRecordText(1307, 'no header')).toBeUndefined();
  });
});

describe('exec record assembly', () => {
  it('yields one record per exec with exe, argv (quoted, hex and split arguments) and cwd', () => {
    const f = load('audit-unicast.json');
    const recs = assemble(f);
    expect(recs.length).toBe(3);
    const [echo, longArg, failed] = recs;
    expect(echo).toEqual({
      serial: 2,
      timestampMs: 1795782605622,
      pid: f.pids[0],
      ppid: 8452,
      uid: 0,
      euid: 0,
      gid: 0,
      auid: 4294967295,
      exe: '/usr/bin/echo',
      comm: 'echo',
      argv: ['/bin/echo', 'hello', 'a b', 'q"uote'],
      cwd: '/work/main',
      success: true,
      exitCode: 0,
      key: 'daemoneye-cap',
    });
    expect(longArg?.exe).toBe('/usr/bin/true');
    expect(longArg?.argv).toEqual(['/bin/true', 'x'.repeat(9000)]);
    expect(failed).toMatchObject({ success: false, exitCode: -2, argv: [], exe: '/usr/bin/node' });
  });

  it('assembles the same records from multicast bytes', () => {
    const recs = assemble(load('audit-multicast.json'));
    expect(recs.map((r) => r.argv.length)).toEqual([4, 2, 0]);
    expect(recs[0]?.argv).toEqual(['/bin/echo', 'hello', 'a b', 'q"uote']);
  });

  it('ignores non-exec events and bounds unfinished ones', () => {
    const asm = createAuditAssembler({ maxPending: 2 });
    const sys = (serial: number, syscall: number): string =>
      `audit(1.000:${serial}): arch=c000003e syscall=${syscall} success=yes exit=0 pid=1 ppid=0 uid=0 euid=0 gid=0 auid=0 key=(null)`;
    for (const s of [1, 2, 3]) asm.push(parseAuditRecordText(1300, sys(s, 2)) ?? expect.fail('parse'));
    expect(asm.evicted()).toBe(1);
    expect(asm.push(parseAuditRecordText(1320, 'audit(1.000:3): ') ?? expect.fail('parse'))).toBeUndefined();
    asm.push(parseAuditRecordText(1300, sys(9, 59)) ?? expect.fail('parse'));
    const rec = asm.push(parseAuditRecordText(1320, 'audit(1.000:9): ') ?? expect.fail('parse'));
    expect(rec).toMatchObject({ serial: 9, argv: [], success: true });
    expect(rec?.key).toBeUndefined();
  });
});

describe('value decoding', () => {
  it('decodes quoted, hex and null values', () => {
    expect(decodeAuditString('"plain"')).toBe('plain');
    expect(decodeAuditString('612062')).toBe('a b');
    expect(decodeAuditString('(null)')).toBeUndefined();
    expect(decodeAuditString(undefined)).toBeUndefined();
  });

  it('rebuilds split arguments across records and pads missing ones', () => {
    const a = parseAuditRecordText(1309, 'audit(1.000:5): argc=3 a0="x" a1_len=6 a1[0]=616263') ?? expect.fail('parse');
    const b = parseAuditRecordText(1309, 'audit(1.000:5):  a1[1]="def"') ?? expect.fail('parse');
    expect(decodeExecveArgs([a, b])).toEqual(['x', 'abcdef', '']);
  });
});
