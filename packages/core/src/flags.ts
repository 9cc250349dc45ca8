/**
 * A small typed bit-flags helper: a spec of named bits becomes a value type with `has`, `with`,
 * `without`, `names`, formatting and parsing. It stands in for a `bitflags` crate (no maintained
 * TypeScript package exists). All arithmetic is unsigned 32-bit (`>>> 0`) so bit 31 behaves like the
 * others. It does not know what the bits mean.
 */
import { CollectorError } from './errors.ts';

/** A spec: flag names to single- or multi-bit unsigned 32-bit values. */
export type FlagSpec = Readonly<Record<string, number>>;

/** An immutable set of flags from one spec. `bits` is always an unsigned 32-bit integer. */
export interface Flags<S extends FlagSpec> {
  readonly bits: number;
  has(...names: (keyof S & string)[]): boolean;
  intersects(other: Flags<S> | number): boolean;
  contains(other: Flags<S> | number): boolean;
  with(...names: (keyof S & string)[]): Flags<S>;
  without(...names: (keyof S & string)[]): Flags<S>;
  union(other: Flags<S> | number): Flags<S>;
  names(): (keyof S & string)[];
  isEmpty(): boolean;
  toString(): string;
  valueOf(): number;
}

/** The flag-set factory returned by {@link defineFlags}. */
export interface FlagsType<S extends FlagSpec> {
  readonly spec: S;
  /** Every known bit set. */
  readonly all: number;
  /** A flag set from raw bits; unknown bits are kept unless `strict` is true, then rejected. */
  from(bits: number, strict?: boolean): Flags<S>;
  /** A flag set of the named flags. */
  of(...names: (keyof S & string)[]): Flags<S>;
  /** Parses `"A|B"`, `"a, b"` or a number string; unknown names throw `ERR_FLAGS_INVALID`. */
  parse(text: string, labels?: Readonly<Record<string, keyof S & string>>): Flags<S>;
  /** Names of the flags set in `bits`. */
  names(bits: number): (keyof S & string)[];
}

function toBits(v: { bits: number } | number): number {
  return (typeof v === 'number' ? v : v.bits) >>> 0;
}

/** Defines a typed flags type from a spec. Every value must be an integer in [0, 2^32). */
export function defineFlags<const S extends FlagSpec>(spec: S): FlagsType<S> {
  const entries = Object.entries(spec) as [keyof S & string, number][];
  for (const [k, v] of entries) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
      throw new CollectorError('ERR_FLAGS_INVALID', `flag ${k} has value ${v}, not an unsigned 32-bit integer`);
    }
  }
  const all = entries.reduce((b, [, v]) => (b | v) >>> 0, 0);
  const namesOf = (bits: number): (keyof S & string)[] =>
    entries.filter(([, v]) => v !== 0 && (bits & v) >>> 0 === v).map(([k]) => k);
  const bitOf = (n: keyof S & string): number => {
    const v = Object.hasOwn(spec, n) ? spec[n] : undefined;
    if (v === undefined) throw new CollectorError('ERR_FLAGS_INVALID', `unknown flag ${String(n)}`);
    return v >>> 0;
  };
  const make = (raw: number): Flags<S> => {
    const bits = raw >>> 0;
    const flags: Flags<S> = {
      bits,
      has: (...ns) => ns.every((n) => (bits & bitOf(n)) >>> 0 === bitOf(n)),
      intersects: (o) => (bits & toBits(o)) >>> 0 !== 0,
      contains: (o) => (bits & toBits(o)) >>> 0 === toBits(o),
      with: (...ns) => make(ns.reduce((b, n) => (b | bitOf(n)) >>> 0, bits)),
      without: (...ns) => make(ns.reduce((b, n) => (b & ~bitOf(n)) >>> 0, bits)),
      union: (o) => make((bits | toBits(o)) >>> 0),
      names: () => namesOf(bits),
      isEmpty: () => bits === 0,
      toString: () => {
        const ns = namesOf(bits);
        const rest = (bits & ~all) >>> 0;
        if (rest !== 0) ns.push(`0x${rest.toString(16)}` as keyof S & string);
        return ns.length === 0 ? '(none)' : ns.join('|');
      },
      valueOf: () => bits,
    };
    return Object.freeze(flags);
  };
  return {
    spec,
    all,
    from: (bits, strict = false) => {
      if (!Number.isInteger(bits) || bits < 0 || bits > 0xffffffff) {
        throw new CollectorError('ERR_FLAGS_INVALID', `flag bits ${bits} are not an unsigned 32-bit integer`);
      }
      if (strict && (bits & ~all) >>> 0 !== 0) {
        throw new CollectorError('ERR_FLAGS_INVALID', `unknown flag bits 0x${((bits & ~all) >>> 0).toString(16)}`);
      }
      return make(bits);
    },
    of: (...ns) => make(ns.reduce((b, n) => (b | bitOf(n)) >>> 0, 0)),
    parse: (text, labels = {}) => {
      const trimmed = text.trim();
      if (/^(0x[0-9a-f]+|\d+)$/i.test(trimmed)) {
        const n = Number(trimmed);
        if (n > 0xffffffff) throw new CollectorError('ERR_FLAGS_INVALID', `flag bits ${trimmed} do not fit in 32 bits`);
        return make(n);
      }
      let bits = 0;
      for (const part of trimmed.split(/[|,\s]+/).filter((p) => p.length > 0)) {
        const label = part.toLowerCase();
        const byLabel = Object.hasOwn(labels, label) ? labels[label] : undefined;
        const upper = part.toUpperCase().replace(/-/g, '_');
        const name = byLabel ?? (Object.hasOwn(spec, upper) ? (upper as keyof S & string) : undefined);
        if (name === undefined) throw new CollectorError('ERR_FLAGS_INVALID', `unknown flag "${part}" in "${text}"`);
        bits = (bits | bitOf(name)) >>> 0;
      }
      return make(bits);
    },
    names: namesOf,
  };
}
