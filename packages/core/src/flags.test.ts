import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isCollectorError } from './errors.ts';
import { defineFlags } from './flags.ts';
import { capabilityLabels, hasCapabilities, parseCapabilities, SourceCaps, SourceCapsFlags } from './source-caps.ts';

const Perm = defineFlags({ READ: 1, WRITE: 2, MID: 1 << 15, HIGH: 0x80000000 });
type PermName = keyof typeof Perm.spec;
const PERM_NAMES: PermName[] = ['READ', 'WRITE', 'MID', 'HIGH'];

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isCollectorError(e) ? e.code : `not a CollectorError: ${String(e)}`;
  }
  return undefined;
}

describe('SourceCaps', () => {
  it('has the seed values PROCESS=1 … SYSTEM_WIDE=64', () => {
    expect(SourceCaps).toEqual({
      NONE: 0,
      PROCESS: 1,
      NETWORK: 2,
      FILESYSTEM: 4,
      PERFORMANCE: 8,
      REALTIME: 16,
      KERNEL_LEVEL: 32,
      SYSTEM_WIDE: 64,
    });
    expect(SourceCapsFlags.all).toBe(127);
  });

  it('names, labels and tests combined capabilities', () => {
    const caps = SourceCaps.PROCESS | SourceCaps.REALTIME | SourceCaps.KERNEL_LEVEL;
    expect(caps).toBe(49);
    expect(SourceCapsFlags.from(caps).names()).toEqual(['PROCESS', 'REALTIME', 'KERNEL_LEVEL']);
    expect(capabilityLabels(caps)).toEqual(['process', 'realtime', 'kernel']);
    expect(capabilityLabels(SourceCaps.SYSTEM_WIDE)).toEqual(['system-wide']);
    expect(hasCapabilities(caps, SourceCaps.PROCESS | SourceCaps.REALTIME)).toBe(true);
    expect(hasCapabilities(caps, SourceCaps.PROCESS | SourceCaps.NETWORK)).toBe(false);
    expect(hasCapabilities(caps, 0)).toBe(true);
    expect(SourceCapsFlags.from(caps).toString()).toBe('PROCESS|REALTIME|KERNEL_LEVEL');
    expect(SourceCapsFlags.from(0).toString()).toBe('(none)');
  });

  it('parses labels and flag names in any separator style', () => {
    expect(parseCapabilities('process|realtime')).toBe(17);
    expect(parseCapabilities('PROCESS, KERNEL_LEVEL')).toBe(33);
    expect(parseCapabilities('kernel system-wide')).toBe(96);
    expect(parseCapabilities('Network | filesystem')).toBe(6);
    expect(parseCapabilities('')).toBe(0);
    expect(codeOf(() => parseCapabilities('process|gpu'))).toBe('ERR_FLAGS_INVALID');
  });

  it('keeps unknown bits visible in toString and rejects them when strict', () => {
    expect(SourceCapsFlags.from(0x81).toString()).toBe('PROCESS|0x80');
    expect(codeOf(() => SourceCapsFlags.from(0x81, true))).toBe('ERR_FLAGS_INVALID');
    expect(SourceCapsFlags.from(0x41, true).bits).toBe(0x41);
  });
});

describe('defineFlags with a flag at bit 31', () => {
  it('has/with/without/names/union/contains keep bits unsigned', () => {
    const high = Perm.of('HIGH');
    expect(high.bits).toBe(0x80000000);
    expect(high.bits).toBe(2147483648);
    expect(high.has('HIGH')).toBe(true);
    expect(high.has('READ')).toBe(false);
    expect(high.names()).toEqual(['HIGH']);

    const rwh = high.with('READ', 'WRITE');
    expect(rwh.bits).toBe(0x80000003);
    expect(rwh.bits).toBeGreaterThan(0);
    expect(rwh.has('READ', 'WRITE', 'HIGH')).toBe(true);
    expect(rwh.names()).toEqual(['READ', 'WRITE', 'HIGH']);
    expect(rwh.toString()).toBe('READ|WRITE|HIGH');
    expect(+rwh).toBe(0x80000003);

    const rw = rwh.without('HIGH');
    expect(rw.bits).toBe(3);
    expect(rw.has('HIGH')).toBe(false);
    expect(rwh.without('READ', 'WRITE').bits).toBe(0x80000000);

    const all = rw.union(Perm.of('MID', 'HIGH'));
    expect(all.bits).toBe(0x80008003);
    expect(all.bits).toBe(Perm.all);
    expect(all.contains(rwh)).toBe(true);
    expect(all.contains(0x80000000)).toBe(true);
    expect(rw.contains(high)).toBe(false);
    expect(rw.intersects(high)).toBe(false);
    expect(rwh.intersects(high)).toBe(true);
    expect(Perm.of().isEmpty()).toBe(true);
    expect(high.isEmpty()).toBe(false);

    // union with a negative int32 (the signed view of bit 31) stays unsigned
    expect(Perm.of('READ').union(1 << 31).bits).toBe(0x80000001);
    expect(Perm.from(0xffffffff).bits).toBe(4294967295);
    expect(Perm.from(0xffffffff).toString()).toBe('READ|WRITE|MID|HIGH|0x7fff7ffc');
  });

  it('is immutable: with/without return new sets', () => {
    const a = Perm.of('READ');
    const b = a.with('HIGH');
    expect(a.bits).toBe(1);
    expect(b.bits).toBe(0x80000001);
    expect(Object.isFrozen(a)).toBe(true);
  });

  it('parses names, labels, decimal and hex', () => {
    expect(Perm.parse('read|high').bits).toBe(0x80000001);
    expect(Perm.parse(' WRITE , MID ').bits).toBe(0x8002);
    expect(Perm.parse('0x80000000').bits).toBe(0x80000000);
    expect(Perm.parse('0X80000001').bits).toBe(0x80000001);
    expect(Perm.parse('2147483648').bits).toBe(0x80000000);
    expect(Perm.parse('4294967295').bits).toBe(0xffffffff);
    expect(Perm.parse('r+w', { 'r+w': 'READ' }).bits).toBe(1);
    expect(Perm.parse('top', { top: 'HIGH' }).bits).toBe(0x80000000);
  });

  it('rejects unknown names with ERR_FLAGS_INVALID naming the flag', () => {
    let err: unknown;
    try {
      Perm.parse('READ|EXECUTE');
    } catch (e) {
      err = e;
    }
    expect(isCollectorError(err, 'ERR_FLAGS_INVALID')).toBe(true);
    expect((err as Error).message).toBe('unknown flag "EXECUTE" in "READ|EXECUTE"');
  });

  it('rejects names that only exist on Object.prototype', () => {
    for (const text of ['constructor', 'toString', 'hasOwnProperty', '__proto__']) {
      let err: unknown;
      try {
        Perm.parse(text);
      } catch (e) {
        err = e;
      }
      expect(isCollectorError(err, 'ERR_FLAGS_INVALID')).toBe(true);
      expect((err as Error).message).toBe(`unknown flag "${text}" in "${text}"`);
    }
  });

  it('rejects numbers that do not fit in 32 bits instead of wrapping them', () => {
    expect(codeOf(() => Perm.parse('0x100000000'))).toBe('ERR_FLAGS_INVALID');
    expect(codeOf(() => Perm.parse('0x100000001'))).toBe('ERR_FLAGS_INVALID');
    expect(codeOf(() => Perm.parse('4294967296'))).toBe('ERR_FLAGS_INVALID');
  });

  it('rejects invalid specs and raw bits', () => {
    expect(codeOf(() => defineFlags({ NEG: 1 << 31 }))).toBe('ERR_FLAGS_INVALID');
    expect(codeOf(() => defineFlags({ BIG: 2 ** 32 }))).toBe('ERR_FLAGS_INVALID');
    expect(codeOf(() => defineFlags({ FRAC: 1.5 }))).toBe('ERR_FLAGS_INVALID');
    expect(codeOf(() => Perm.from(-1))).toBe('ERR_FLAGS_INVALID');
    expect(codeOf(() => Perm.from(2 ** 32))).toBe('ERR_FLAGS_INVALID');
    expect(codeOf(() => Perm.from(0.5))).toBe('ERR_FLAGS_INVALID');
    expect(codeOf(() => Perm.from(0x10, true))).toBe('ERR_FLAGS_INVALID');
    expect(codeOf(() => Perm.of('NOPE' as PermName))).toBe('ERR_FLAGS_INVALID');
  });
});

describe('flags properties', () => {
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  const name = fc.constantFrom(...PERM_NAMES);

  it('from(bits).bits === bits >>> 0 for every u32, and never negative', () => {
    fc.assert(
      fc.property(u32, (bits) => {
        const f = Perm.from(bits);
        expect(f.bits).toBe(bits >>> 0);
        expect(f.bits).toBeGreaterThanOrEqual(0);
        expect(f.valueOf()).toBe(bits);
      }),
    );
  });

  it('with then without round-trips; with sets, without clears', () => {
    fc.assert(
      fc.property(u32, name, (bits, n) => {
        const f = Perm.from(bits);
        const bit = Perm.spec[n] >>> 0;
        const w = f.with(n);
        expect(w.has(n)).toBe(true);
        expect(w.bits).toBe((bits | bit) >>> 0);
        const wo = w.without(n);
        expect(wo.has(n)).toBe(false);
        expect(wo.bits).toBe((bits & ~bit) >>> 0);
        if (!f.has(n)) expect(wo.bits).toBe(bits);
        if (f.has(n)) expect(wo.with(n).bits).toBe(bits);
        expect(w.bits).toBeGreaterThanOrEqual(0);
        expect(wo.bits).toBeGreaterThanOrEqual(0);
      }),
    );
  });

  it('union is commutative, unsigned and contains both operands', () => {
    fc.assert(
      fc.property(u32, u32, (a, b) => {
        const ab = Perm.from(a).union(b);
        const ba = Perm.from(b).union(a);
        expect(ab.bits).toBe(ba.bits);
        expect(ab.bits).toBe((a | b) >>> 0);
        expect(ab.bits).toBeGreaterThanOrEqual(0);
        expect(ab.contains(a)).toBe(true);
        expect(ab.contains(Perm.from(b))).toBe(true);
      }),
    );
  });

  it('parse(toString()) round-trips known flags; names() reflects has()', () => {
    fc.assert(
      fc.property(fc.subarray(PERM_NAMES), (ns) => {
        const f = Perm.of(...ns);
        expect(Perm.parse(f.toString() === '(none)' ? '' : f.toString()).bits).toBe(f.bits);
        expect(f.names()).toEqual(PERM_NAMES.filter((n) => ns.includes(n)));
        for (const n of PERM_NAMES) expect(f.has(n)).toBe(ns.includes(n));
      }),
    );
  });

  it('parse of a hex or decimal u32 gives the same bits', () => {
    fc.assert(
      fc.property(u32, (bits) => {
        expect(Perm.parse(`0x${bits.toString(16)}`).bits).toBe(bits);
        expect(Perm.parse(String(bits)).bits).toBe(bits);
      }),
    );
  });
});
