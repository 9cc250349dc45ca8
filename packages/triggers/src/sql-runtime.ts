/**
 * The runtime pieces of compiled conditions that follow SQLite exactly: BINARY text ordering (by code
 * point, as memcmp on UTF-8 orders), LIKE (ASCII case folding, `%`, `_`, an optional escapeChar
 * character), GLOB (`*`, `?`, `[...]`, case-sensitive) and the string and number functions the
 * allow-list admits. Everything here is pure; NULL handling is the caller's.
 */

/** Compares two strings as SQLite's BINARY collation does (UTF-8 byte order = code point order). */
export function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // UTF-16 puts surrogates (U+10000 and up) below U+E000–U+FFFF; code point order does not.
      const sx = x >= 0xd800 && x <= 0xdfff;
      const sy = y >= 0xd800 && y <= 0xdfff;
      if (sx !== sy && x >= 0xd800 && y >= 0xd800) return sx ? 1 : -1;
      return x < y ? -1 : 1;
    }
  }
  return a.length - b.length;
}

const SPECIAL = /[\\^$.*+?()[\]{}|/]/;
const lit = (c: string): string => {
  const code = c.charCodeAt(0);
  const lower = code >= 97 && code <= 122;
  const upper = code >= 65 && code <= 90;
  if (lower || upper) return `[${c.toLowerCase()}${c.toUpperCase()}]`;
  return SPECIAL.test(c) ? `\\${c}` : c;
};

/** A LIKE pattern as a regular expression; `null` when the pattern can never match (a dangling escapeChar). */
export function likeRegExp(pattern: string, escapeChar: string | undefined): RegExp | null {
  let src = '';
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (escapeChar !== undefined && c === escapeChar) {
      const next = chars[++i];
      if (next === undefined) return null;
      src += lit(next);
      continue;
    }
    if (c === '%') src += '[\\s\\S]*';
    else if (c === '_') src += '.';
    else src += lit(c);
  }
  return new RegExp(`^${src}$`, 'su');
}

/** A GLOB pattern as a regular expression; `null` when it can never match (an unclosed `[`). */
export function globRegExp(pattern: string): RegExp | null {
  const chars = [...pattern];
  let src = '';
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === '*') src += '[\\s\\S]*';
    else if (c === '?') src += '.';
    else if (c === '[') {
      let j = i + 1;
      let negate = false;
      if (chars[j] === '^') {
        negate = true;
        j++;
      }
      const members: string[] = [];
      if (chars[j] === ']') {
        members.push('\\]');
        j++;
      }
      while (j < chars.length && chars[j] !== ']') {
        const m = chars[j] as string;
        if (chars[j + 1] === '-' && chars[j + 2] !== undefined && chars[j + 2] !== ']') {
          const hi = chars[j + 2] as string;
          // SQLite's range test is lo <= c <= hi; an inverted range matches nothing.
          if ((m.codePointAt(0) ?? 0) <= (hi.codePointAt(0) ?? 0)) members.push(`${esc(m)}-${esc(hi)}`);
          j += 3;
        } else {
          members.push(esc(m));
          j++;
        }
      }
      if (j >= chars.length) return null;
      const set = members.join('');
      src += negate ? (set === '' ? '.' : `[^${set}]`) : set === '' ? '(?!)' : `[${set}]`;
      i = j;
    } else src += SPECIAL.test(c) ? `\\${c}` : c;
  }
  return new RegExp(`^${src}$`, 'su');
}

function esc(c: string): string {
  return /[\\\]^[-]/.test(c) ? `\\${c}` : c;
}

/** Matches through a small cache of compiled patterns (for patterns that are not literals). */
export class PatternCache {
  readonly #map = new Map<string, RegExp | null>();
  readonly #build: (p: string) => RegExp | null;
  constructor(build: (p: string) => RegExp | null) {
    this.#build = build;
  }
  test(pattern: string, text: string): boolean {
    let re = this.#map.get(pattern);
    if (re === undefined) {
      re = this.#build(pattern);
      if (this.#map.size >= 256) this.#map.clear();
      this.#map.set(pattern, re);
    }
    return re?.test(text) === true;
  }
}

/** ASCII-only case mapping, as SQLite's built-in lower() and upper(). */
export function asciiLower(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
  }
  return s;
}
export function asciiUpper(s: string): string {
  return s.replace(/[a-z]+/g, (m) => m.toUpperCase());
}

/** Length in characters (code points), as SQLite's length() of text. */
export function charLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) n++;
  }
  return n;
}

/** instr(): 1-based character position of `needle` in `hay`, 0 when absent. */
export function instr(hay: string, needle: string): number {
  const at = hay.indexOf(needle);
  return at < 0 ? 0 : charLength(hay.slice(0, at)) + 1;
}

/** trim(), ltrim(), rtrim(): removes any of the characters of `set` (default a space). */
export function trimChars(s: string, set: string, left: boolean, right: boolean): string {
  const chars = new Set([...set]);
  const cps = [...s];
  let a = 0;
  let b = cps.length;
  if (left) while (a < b && chars.has(cps[a] as string)) a++;
  if (right) while (b > a && chars.has(cps[b - 1] as string)) b--;
  return cps.slice(a, b).join('');
}

/** A matcher for a literal pattern: plain string tests for the common shapes, a RegExp otherwise. */
export type TextMatcher = (text: string) => boolean;

function foldsEqual(text: string, at: number, lowerNeedle: string): boolean {
  for (let i = 0; i < lowerNeedle.length; i++) {
    let c = text.charCodeAt(at + i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lowerNeedle.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Compiles a literal LIKE pattern: `abc%` (prefix), `%abc` (suffix) and `abc` (exact) become string
 * tests with ASCII case folding; anything else a RegExp. Never matches when the pattern cannot match.
 */
export function likeMatcher(pattern: string, escapeChar: string | undefined): TextMatcher {
  const plain = (x: string) =>
    !x.includes('%') && !x.includes('_') && (escapeChar === undefined || !x.includes(escapeChar));
  const ascii = (x: string) => !/[^ -~\t\n\r]/.test(x);
  if (pattern.length >= 2 && pattern.startsWith('%') && pattern.endsWith('%')) {
    const inner = pattern.slice(1, -1);
    if (plain(inner) && ascii(inner)) {
      const low = asciiLower(inner);
      return (t) => asciiLower(t).includes(low);
    }
  }
  const body = pattern.endsWith('%') ? pattern.slice(0, -1) : pattern.startsWith('%') ? pattern.slice(1) : pattern;
  if (plain(body) && ascii(body)) {
    const low = asciiLower(body);
    const n = low.length;
    if (pattern === body) return (t) => t.length === n && foldsEqual(t, 0, low);
    if (pattern.endsWith('%')) return (t) => t.startsWith(low) || (t.length >= n && foldsEqual(t, 0, low));
    return (t) => t.length >= n && foldsEqual(t, t.length - n, low);
  }
  const re = likeRegExp(pattern, escapeChar);
  return re === null ? () => false : (t) => re.test(t);
}

/** Compiles a literal GLOB pattern: `abc*` and `abc` become string tests; anything else a RegExp. */
export function globMatcher(pattern: string): TextMatcher {
  const meta = /[*?[]/;
  if (!meta.test(pattern)) return (t) => t === pattern;
  const head = pattern.slice(0, -1);
  if (pattern.endsWith('*') && !meta.test(head)) return (t) => t.startsWith(head);
  const re = globRegExp(pattern);
  return re === null ? () => false : (t) => re.test(t);
}
