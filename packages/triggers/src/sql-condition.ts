/**
 * Trigger conditions in SQL: a boolean expression as it would follow `WHERE`, parsed once with
 * node-sql-parser, checked against an allow-list (comparisons, AND/OR/NOT, IN, BETWEEN, LIKE/GLOB,
 * IS [NOT] NULL, arithmetic, `||` and a few string and number functions over the columns of
 * `columns.ts`), type-checked (text is never compared with a number, as SQLite would silently convert)
 * and compiled to a closure with SQL's three-valued NULL logic and SQLite's semantics. Anything else —
 * a subquery, a statement, `;`, an unknown column or function — is refused with `ERR_TRIGGER_SQL`
 * naming the problem and its line and column in the condition. This module compiles; it keeps no state.
 */
import type { CollectionEvent } from '@daemoneye/core';
// The SQLite grammar alone (200 KB): the package's main entry bundles every dialect (2.5 MB of source
// the collector would keep in its heap for the process's life).
import sqlParser from 'node-sql-parser/build/sqlite.js';
import { COLUMNS, type EvalContext, type SqlType, type SqlValue } from './columns.ts';
import { triggerErrors } from './errors.ts';
import {
  asciiLower,
  asciiUpper,
  charLength,
  compareText,
  globMatcher,
  globRegExp,
  instr,
  likeMatcher,
  likeRegExp,
  PatternCache,
  trimChars,
} from './sql-runtime.ts';

/** A compiled condition. */
export interface CompiledCondition {
  readonly sql: string;
  /** The columns it reads. */
  readonly columns: readonly string[];
  /**
   * A disjunction of tests the condition cannot be true without: it can only be true for an event on
   * which at least one of them holds (a column equal to one of some values, starting with a prefix, or
   * containing a text). Empty when nothing of the kind is known. From an AND the most selective operand
   * gives them, from an OR the union of its operands' (when every operand has some). The trigger manager
   * indexes conditions by them, so an event only meets the conditions it could match.
   */
  readonly hints: readonly IndexHint[];
  /** True only when the condition evaluates to a non-NULL, non-zero value (SQL's WHERE). */
  test(event: CollectionEvent, ctx: EvalContext): boolean;
  /** The three-valued result: 1, 0 or NULL (as `null`). */
  evaluate(event: CollectionEvent, ctx: EvalContext): SqlValue;
}

/** A necessary test of a condition (see `CompiledCondition.hints`). */
export type IndexHint =
  | {
      readonly column: string;
      readonly kind: 'equal';
      readonly values: readonly (string | number)[];
      /** Set when the test is on the column's ASCII-lowercased text (`lower(name) = 'x'`); `values` are lowercase. */
      readonly fold?: boolean;
    }
  | { readonly column: string; readonly kind: 'prefix'; readonly prefix: string; readonly fold: boolean }
  | { readonly column: string; readonly kind: 'contains'; readonly text: string; readonly fold: boolean };

/** How much of the event stream a hint lets through, roughly (lower is more selective). */
function hintCost(hs: readonly IndexHint[]): number {
  let n = 0;
  for (const h of hs) {
    if (h.kind === 'equal') n += h.values.every((v) => typeof v === 'string') ? 1 : 4;
    else if (h.kind === 'prefix') n += h.prefix.length >= 4 ? 2 : 5 - h.prefix.length / 2;
    else n += h.text.length >= 4 ? 3 : 6;
  }
  return n;
}

/** The hints of an AND (the cheapest operand's) or an OR (all operands', when each has some). */
function combineHints(op: 'AND' | 'OR', parts: readonly Expr[]): readonly IndexHint[] {
  if (op === 'OR') {
    if (parts.some((p) => (p.hints ?? []).length === 0)) return [];
    return parts.flatMap((p) => p.hints ?? []);
  }
  let best: readonly IndexHint[] = [];
  let cost = Number.POSITIVE_INFINITY;
  for (const p of parts) {
    const hs = p.hints ?? [];
    if (hs.length === 0) continue;
    const c = hintCost(hs);
    if (c < cost) {
      cost = c;
      best = hs;
    }
  }
  return best;
}

type Fn = (e: CollectionEvent, ctx: EvalContext) => SqlValue;
type Pred = (e: CollectionEvent, ctx: EvalContext) => boolean;
interface Expr {
  readonly type: SqlType;
  readonly fn: Fn;
  /** Set for literals: the constant value. */
  readonly constant?: SqlValue;
  /** Specialised tests "is true" (non-NULL, non-zero) and "is false" (zero), when cheaper than `fn`. */
  readonly isTrue?: Pred;
  readonly isFalse?: Pred;
  /** Set when the expression is a plain column. */
  readonly column?: string;
  readonly hints?: readonly IndexHint[];
  /** Set for `lower(column)` / `upper(column)`: the column (equality on it can be indexed case-folded). */
  readonly foldOf?: string;
  /** For AND/OR: the operator and its flattened operands. */
  readonly op?: 'AND' | 'OR';
  readonly parts?: readonly Expr[];
  /**
   * JavaScript source of the same computation for the generated `test` (see `Gen`): `code` yields the
   * value, `tc` is true when the value is true, `fc` when it is false. Absent parts are called as closures.
   */
  readonly code?: string;
  readonly tc?: string;
  readonly fc?: string;
}

/** A constant as a JavaScript literal. */
function jsLiteral(v: SqlValue): string {
  return typeof v === 'string' ? JSON.stringify(v) : v === null ? 'null' : Object.is(v, -0) ? '-0' : String(v);
}

/**
 * Generates the JavaScript source of a condition's `test`: one function per condition, so every
 * property read and call in it is monomorphic and V8 inlines the pieces. Column values are read at most
 * once per evaluation, lazily, into locals; three-valued results stay in locals (never boxed). Parts
 * without inline code are closures reached through `k`, the array of references the function closes
 * over. Only identifiers made here, `k[i]` and JSON-encoded literals reach the source.
 */
class Gen {
  readonly refs: unknown[] = [];
  readonly columnVars = new Map<string, string>();
  temps = 0;
  ref(x: unknown): string {
    this.refs.push(x);
    return `k[${this.refs.length - 1}]`;
  }
  tmp(): string {
    return `t${this.temps++}`;
  }
  value(x: Expr): string {
    if (x.code !== undefined) return x.code;
    if (x.constant !== undefined) return jsLiteral(x.constant);
    return `${this.ref(x.fn)}(e, c)`;
  }
  truth(x: Expr): string {
    if (x.tc !== undefined) return x.tc;
    if (typeof x.constant === 'number') return x.constant !== 0 ? 'true' : 'false';
    if (x.constant === null) return 'false';
    const t = this.tmp();
    return `((${t} = ${this.value(x)}) !== null && ${t} !== 0)`;
  }
  falsity(x: Expr): string {
    if (x.fc !== undefined) return x.fc;
    if (typeof x.constant === 'number') return x.constant === 0 ? 'true' : 'false';
    if (x.constant === null) return 'false';
    return `(${this.value(x)} === 0)`;
  }
  /** The `test` function, or undefined where the runtime refuses code generation from strings. */
  build(truth: string): ((e: CollectionEvent, ctx: EvalContext) => boolean) | undefined {
    const vars = [...this.columnVars.values(), ...Array.from({ length: this.temps }, (_, i) => `t${i}`)];
    const decl = vars.length > 0 ? `let ${vars.join(', ')};` : '';
    const src = `'use strict'; return function test(e, c) { ${decl} return ${truth}; };`;
    try {
      return new Function('k', src)(this.refs);
    } catch (err) {
      if (err instanceof EvalError) return undefined;
      throw err;
    }
  }
}

/** The generator of the condition being compiled (compilation is synchronous). */
let gen = new Gen();

/** "Is true" of an expression: WHERE keeps a row only then. */
function truePred(x: Expr): Pred {
  if (x.isTrue !== undefined) return x.isTrue;
  const f = x.fn;
  return (e, c) => {
    const v = f(e, c);
    return v !== null && v !== 0;
  };
}
/** "Is false" of an expression (NULL is neither true nor false). */
function falsePred(x: Expr): Pred {
  if (x.isFalse !== undefined) return x.isFalse;
  const f = x.fn;
  return (e, c) => f(e, c) === 0;
}
/** All of `ps` (n-ary, flattened for the common sizes). */
function every(ps: Pred[]): Pred {
  const [a, b, c, d] = ps as [Pred, Pred, Pred, Pred];
  if (ps.length === 2) return (e, x) => a(e, x) && b(e, x);
  if (ps.length === 3) return (e, x) => a(e, x) && b(e, x) && c(e, x);
  if (ps.length === 4) return (e, x) => a(e, x) && b(e, x) && c(e, x) && d(e, x);
  return (e, x) => {
    for (const p of ps) if (!p(e, x)) return false;
    return true;
  };
}
function some(ps: Pred[]): Pred {
  const [a, b, c, d] = ps as [Pred, Pred, Pred, Pred];
  if (ps.length === 2) return (e, x) => a(e, x) || b(e, x);
  if (ps.length === 3) return (e, x) => a(e, x) || b(e, x) || c(e, x);
  if (ps.length === 4) return (e, x) => a(e, x) || b(e, x) || c(e, x) || d(e, x);
  return (e, x) => {
    for (const p of ps) if (p(e, x)) return true;
    return false;
  };
}

interface AstNode {
  readonly type: string;
  readonly [key: string]: unknown;
}

const PREFIX = 'SELECT * FROM t WHERE ';
const parser = new sqlParser.Parser();
const OPTIONS = { database: 'sqlite' } as const;
const BASELINE = JSON.stringify({ ...(parser.astify(`${PREFIX}1`, OPTIONS) as unknown as object), where: null });

/** The functions a condition may call, with their arity. */
export const SQL_FUNCTIONS: Readonly<Record<string, readonly [number, number]>> = {
  lower: [1, 1],
  upper: [1, 1],
  length: [1, 1],
  trim: [1, 2],
  ltrim: [1, 2],
  rtrim: [1, 2],
  instr: [2, 2],
  replace: [3, 3],
  abs: [1, 1],
  coalesce: [2, 16],
  ifnull: [2, 2],
};

/** Line and column (1-based) of offset `at` in `text`. */
function lineCol(text: string, at: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, at));
  const lines = before.split('\n');
  return { line: lines.length, column: (lines[lines.length - 1]?.length ?? 0) + 1 };
}

/** Offset of the first occurrence of `word` outside string literals (case-insensitive), or -1. */
function locate(text: string, word: string): number {
  const lower = text.toLowerCase();
  const w = word.toLowerCase();
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      continue;
    }
    if (c === "'" || (c === '"' && !w.startsWith('"'))) {
      quote = c;
      continue;
    }
    if (lower.startsWith(w, i)) {
      const before = i === 0 ? ' ' : (lower[i - 1] as string);
      const after = lower[i + w.length] ?? ' ';
      const wordy = /[a-z0-9_]/;
      if (!wordy.test(w[0] as string) || (!wordy.test(before) && !wordy.test(after))) return i;
      if (!wordy.test(before) && !wordy.test(w[w.length - 1] as string)) return i;
    }
  }
  return -1;
}

class Compiler {
  readonly sql: string;
  readonly columns = new Set<string>();
  constructor(sql: string) {
    this.sql = sql;
  }

  fail(problem: string, near?: string | number): never {
    const at = typeof near === 'number' ? near : near === undefined ? -1 : locate(this.sql, near);
    const where = at >= 0 ? lineCol(this.sql, at) : undefined;
    const pos = where === undefined ? '' : ` at line ${where.line}, column ${where.column}`;
    throw triggerErrors.error('ERR_TRIGGER_SQL', `${problem}${pos} in condition ${JSON.stringify(this.sql)}`, {
      details: { problem, sql: this.sql, ...(where ?? {}) },
    });
  }

  expr(n: AstNode): Expr {
    switch (n.type) {
      case 'number':
      case 'bigint':
        return this.number(n);
      case 'single_quote_string':
        return this.text(n);
      case 'null':
        return { type: 'null', fn: () => null, constant: null };
      case 'bool':
        return this.constant(n.value === true ? 1 : 0, 'boolean');
      case 'column_ref':
        return this.column(n);
      case 'double_quote_string':
        return this.column({ type: 'column_ref', table: null, column: n.value });
      case 'binary_expr':
        return this.binary(n);
      case 'unary_expr':
        return this.unary(String(n.operator), n.expr as AstNode);
      case 'function':
        return this.call(n);
      case 'expr_list':
        return this.fail('a list in parentheses is only allowed after IN');
      case 'cast':
        return this.fail('CAST is not allowed', 'cast');
      case 'case':
        return this.fail('CASE is not allowed', 'case');
      default:
        if ('ast' in n) return this.fail('subqueries are not allowed', 'select');
        return this.fail(`${n.type.replace(/_/g, ' ')} is not allowed`);
    }
  }

  constant(value: SqlValue, type: SqlType): Expr {
    return { type, fn: () => value, constant: value };
  }

  number(n: AstNode): Expr {
    const raw = String(n.value);
    if (!/^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(raw)) return this.fail(`the number ${raw} is not allowed`, raw);
    const value = Number(raw);
    const isInt = /^-?\d+$/.test(raw);
    if (isInt && !Number.isSafeInteger(value)) return this.fail(`the integer ${raw} is out of range (±2^53)`, raw);
    return this.constant(value, isInt ? 'integer' : 'real');
  }

  text(n: AstNode): Expr {
    const raw = String(n.value);
    return this.constant(raw.replace(/''/g, "'"), 'text');
  }

  column(n: AstNode): Expr {
    const name = String(n.column);
    if (n.table !== null && n.table !== undefined)
      return this.fail(`qualified column names are not allowed`, String(n.table));
    if (n.collate !== null && n.collate !== undefined) return this.fail('COLLATE is not allowed', 'collate');
    if (name === '*') return this.fail('"*" is not a value', '*');
    const col = COLUMNS[name];
    if (col === undefined || !Object.hasOwn(COLUMNS, name)) return this.fail(`unknown column "${name}"`, name);
    this.columns.add(name);
    let v = gen.columnVars.get(name);
    if (v === undefined) {
      v = `v${gen.columnVars.size}`;
      gen.columnVars.set(name, v);
    }
    const read = col.js ?? `${gen.ref(col.read)}(e, c)`;
    return { type: col.type, fn: col.read, column: name, code: `(${v} !== undefined ? ${v} : (${v} = ${read}))` };
  }

  numeric(e: Expr, what: string, near: string): Expr {
    if (e.type === 'text') this.fail(`${what} needs a number, not text`, near);
    return e;
  }
  textual(e: Expr, what: string, near: string): Expr {
    if (e.type !== 'text' && e.type !== 'null') this.fail(`${what} needs text, not a number`, near);
    return e;
  }

  /** Both sides comparable: text with text, numbers with numbers, NULL with either. */
  comparable(l: Expr, r: Expr, op: string): void {
    if (l.type === 'null' || r.type === 'null') return;
    if ((l.type === 'text') !== (r.type === 'text')) this.fail(`"${op}" compares text with a number`, op);
  }

  binary(n: AstNode): Expr {
    const op = String(n.operator).toUpperCase();
    const left = n.left as AstNode;
    const right = n.right as AstNode;
    switch (op) {
      case 'AND':
      case 'OR':
        return logical(op, this.truth(this.expr(left), op), this.truth(this.expr(right), op));
      case 'IN':
      case 'NOT IN':
        return this.inList(this.expr(left), right, op === 'NOT IN');
      case 'BETWEEN':
      case 'NOT BETWEEN': {
        const list = (right.value ?? []) as AstNode[];
        const [lo, hi] = list.map((x) => this.expr(x)) as [Expr, Expr];
        const x = this.expr(left);
        this.comparable(x, lo, 'BETWEEN');
        this.comparable(x, hi, 'BETWEEN');
        const inside = logical('AND', compare('>=', x, lo), compare('<=', x, hi));
        return op === 'BETWEEN' ? inside : not(inside);
      }
      case 'LIKE':
      case 'NOT LIKE':
      case 'GLOB':
        return this.pattern(op, left, right);
      case 'IS':
      case 'IS NOT': {
        // node-sql-parser reads `x IS NOT (y)` as `x IS (NOT (y))`; SQLite's grammar has IS NOT there.
        let negate = op === 'IS NOT';
        let r0 = right;
        const args = (right.args as { value?: AstNode[] } | undefined)?.value;
        if (op === 'IS' && isNotCall(right) && right.parentheses !== true && args?.length === 1) {
          negate = true;
          r0 = args[0] as AstNode;
        }
        const l = this.expr(left);
        const r = this.expr(r0);
        this.comparable(l, r, op);
        return isOp(l, r, negate);
      }
      case '=':
      case '==':
      case '!=':
      case '<>':
      case '<':
      case '<=':
      case '>':
      case '>=': {
        const l = this.expr(left);
        const r = this.expr(right);
        this.comparable(l, r, op);
        return compare(op === '==' ? '=' : op === '<>' ? '!=' : op, l, r);
      }
      case '+':
      case '-':
      case '*':
      case '/':
      case '%': {
        const l = this.numeric(this.expr(left), `"${op}"`, op);
        const r = this.numeric(this.expr(right), `"${op}"`, op);
        return arithmetic(op, l, r);
      }
      case '||': {
        const l = this.textual(this.expr(left), '"||"', '||');
        const r = this.textual(this.expr(right), '"||"', '||');
        return { type: 'text', fn: nullary2(l.fn, r.fn, (a, b) => `${a}${b}`) };
      }
      default:
        return this.fail(`the operator ${op} is not allowed`, op.split(' ')[0]);
    }
  }

  truth(e: Expr, op: string): Expr {
    if (e.type === 'text') this.fail(`${op} needs a condition or a number, not text`, op);
    if (e.type === 'boolean' || e.type === 'null') return e;
    const f = e.fn;
    const t = gen.tmp();
    return {
      type: 'boolean',
      fn: (ev, c) => {
        const v = f(ev, c);
        return v === null ? null : v !== 0 ? 1 : 0;
      },
      code: `((${t} = ${gen.value(e)}) === null ? null : ${t} !== 0 ? 1 : 0)`,
      tc: gen.truth(e),
      fc: gen.falsity(e),
    };
  }

  unary(op: string, operand: AstNode): Expr {
    const o = op.toUpperCase();
    if (o === 'NOT') return not(this.truth(this.expr(operand), 'NOT'));
    if (o === '-' || o === '+') {
      const e = this.numeric(this.expr(operand), `unary "${o}"`, o);
      if (o === '+') return e;
      const f = e.fn;
      return {
        type: e.type === 'boolean' ? 'integer' : e.type,
        fn: (ev, c) => {
          const v = f(ev, c);
          return v === null ? null : -(v as number);
        },
      };
    }
    return this.fail(`the operator ${o} is not allowed`, o);
  }

  inList(x: Expr, right: AstNode, negate: boolean): Expr {
    if (right.type !== 'expr_list') return this.fail('IN needs a list of values in parentheses', 'in');
    const items = (right.value as AstNode[]).map((i) => {
      if ('ast' in i) this.fail('subqueries are not allowed', 'select');
      return this.expr(i);
    });
    for (const i of items) this.comparable(x, i, 'IN');
    const xf = x.fn;
    let fn: Fn;
    if (items.every((i) => i.constant !== undefined)) {
      const values = items.map((i) => i.constant as SqlValue);
      const hasNull = values.includes(null);
      const set = new Set(values.filter((v) => v !== null));
      fn = (e, c) => {
        const v = xf(e, c);
        if (v === null) return null;
        if (set.has(v)) return 1;
        return hasNull ? null : 0;
      };
      const isTrue: Pred = (e, c) => {
        const v = xf(e, c);
        return v !== null && set.has(v);
      };
      const isFalse: Pred = hasNull
        ? () => false
        : (e, c) => {
            const v = xf(e, c);
            return v !== null && !set.has(v);
          };
      const hints = equalHints(x, values as (string | number)[], hasNull || negate);
      // A few values: a chain of ===; more: the Set.
      const t = gen.tmp();
      const member =
        set.size <= 6
          ? set.size === 0
            ? 'false'
            : `(${[...set].map((k) => `${t} === ${jsLiteral(k)}`).join(' || ')})`
          : `${gen.ref(set)}.has(${t})`;
      const xv = gen.value(x);
      const code = {
        code: `((${t} = ${xv}) === null ? null : ${member} ? 1 : ${hasNull ? 'null' : '0'})`,
        tc: `((${t} = ${xv}) !== null && ${member})`,
        fc: hasNull ? 'false' : `((${t} = ${xv}) !== null && !${member})`,
      };
      const inExpr: Expr = { type: 'boolean', fn, isTrue, isFalse, hints, ...code };
      return negate ? not(inExpr) : inExpr;
    } else {
      const fs = items.map((i) => i.fn);
      fn = (e, c) => {
        const v = xf(e, c);
        if (v === null) return null;
        let sawNull = false;
        for (const f of fs) {
          const w = f(e, c);
          if (w === null) sawNull = true;
          else if (w === v) return 1;
        }
        return sawNull ? null : 0;
      };
    }
    const e: Expr = { type: 'boolean', fn };
    return negate ? not(e) : e;
  }

  pattern(op: string, left: AstNode, right: AstNode): Expr {
    const word = op.replace('NOT ', '');
    const escapeNode = (right.escape as { value?: AstNode } | undefined)?.value;
    const x = this.textual(this.expr(left), word, word);
    const p = this.textual(this.expr({ ...right, escape: undefined }), word, word);
    let escapeChar: string | undefined;
    if (escapeNode !== undefined) {
      if (word !== 'LIKE') this.fail('ESCAPE is only allowed with LIKE', 'escape');
      const esc = this.expr(escapeNode);
      if (typeof esc.constant !== 'string' || [...esc.constant].length !== 1) {
        this.fail('ESCAPE needs a single character', 'escape');
      }
      escapeChar = esc.constant as string;
    }
    const build = word === 'LIKE' ? (s: string) => likeRegExp(s, escapeChar) : globRegExp;
    const xf = x.fn;
    let fn: Fn;
    if (typeof p.constant === 'string') {
      const match = word === 'LIKE' ? likeMatcher(p.constant, escapeChar) : globMatcher(p.constant);
      fn = (e, c) => {
        const v = xf(e, c);
        if (v === null) return null;
        return match(v as string) ? 1 : 0;
      };
      const isTrue: Pred = (e, c) => {
        const v = xf(e, c);
        return v !== null && match(v as string);
      };
      const isFalse: Pred = (e, c) => {
        const v = xf(e, c);
        return v !== null && !match(v as string);
      };
      const t = gen.tmp();
      const mv = gen.ref(match);
      const xv = gen.value(x);
      const m: Expr = {
        type: 'boolean',
        fn,
        isTrue,
        isFalse,
        hints: patternHints(word, x.column, p.constant, escapeChar),
        code: `((${t} = ${xv}) === null ? null : ${mv}(${t}) ? 1 : 0)`,
        tc: `((${t} = ${xv}) !== null && ${mv}(${t}))`,
        fc: `((${t} = ${xv}) !== null && !${mv}(${t}))`,
      };
      return op === 'NOT LIKE' ? not(m) : m;
    } else if (p.constant === null) {
      const nul: Expr = { type: 'boolean', fn: () => null, constant: null };
      return nul;
    } else {
      const cache = new PatternCache(build);
      const pf = p.fn;
      fn = (e, c) => {
        const v = xf(e, c);
        const q = pf(e, c);
        if (v === null || q === null) return null;
        return cache.test(q as string, v as string) ? 1 : 0;
      };
    }
    const e: Expr = { type: 'boolean', fn };
    return op === 'NOT LIKE' ? not(e) : e;
  }

  call(n: AstNode): Expr {
    const nameParts = ((n.name as { name?: { value?: unknown }[] } | undefined)?.name ?? []).map((p) =>
      String(p.value),
    );
    const name = nameParts.join('.').toLowerCase();
    const args = ((n.args as { value?: AstNode[] } | undefined)?.value ?? []) as AstNode[];
    if (name === 'not' && args.length === 1) return not(this.truth(this.expr(args[0] as AstNode), 'NOT'));
    if (name === 'exists') return this.fail('subqueries are not allowed', 'exists');
    const arity = SQL_FUNCTIONS[name];
    if (arity === undefined || !Object.hasOwn(SQL_FUNCTIONS, name)) {
      return this.fail(`unknown function "${name}" (allowed: ${Object.keys(SQL_FUNCTIONS).join(', ')})`, nameParts[0]);
    }
    if (args.length < arity[0] || args.length > arity[1]) {
      const want = arity[0] === arity[1] ? `${arity[0]}` : `${arity[0]} to ${arity[1]}`;
      return this.fail(`${name}() takes ${want} arguments, got ${args.length}`, nameParts[0]);
    }
    if (args.some((a) => 'ast' in a)) return this.fail('subqueries are not allowed', 'select');
    const xs = args.map((a) => this.expr(a));
    const fs = xs.map((x) => x.fn);
    const [a, b, c] = fs as [Fn, Fn, Fn];
    const text = () => {
      for (const x of xs) this.textual(x, `${name}()`, name);
    };
    switch (name) {
      case 'lower':
      case 'upper': {
        text();
        const m = name === 'lower' ? asciiLower : asciiUpper;
        const t = gen.tmp();
        const arg = xs[0] as Expr;
        return {
          type: 'text',
          fn: nullary1(a, (v) => m(v as string)),
          code: `((${t} = ${gen.value(arg)}) === null ? null : ${gen.ref(m)}(${t}))`,
          ...(arg.column !== undefined ? { foldOf: arg.column } : {}),
        };
      }
      case 'length':
        text();
        return { type: 'integer', fn: nullary1(a, (v) => charLength(v as string)) };
      case 'trim':
      case 'ltrim':
      case 'rtrim': {
        text();
        const l = name !== 'rtrim';
        const r = name !== 'ltrim';
        if (fs.length === 1) return { type: 'text', fn: nullary1(a, (v) => trimChars(v as string, ' ', l, r)) };
        return { type: 'text', fn: nullary2(a, b, (v, s) => trimChars(v as string, s as string, l, r)) };
      }
      case 'instr':
        text();
        return { type: 'integer', fn: nullary2(a, b, (h, s) => instr(h as string, s as string)) };
      case 'replace':
        text();
        return {
          type: 'text',
          fn: (e, ctx) => {
            const x = a(e, ctx);
            const y = b(e, ctx);
            const z = c(e, ctx);
            if (x === null || y === null || z === null) return null;
            return y === '' ? x : (x as string).split(y as string).join(z as string);
          },
        };
      case 'abs': {
        const x = this.numeric(xs[0] as Expr, 'abs()', 'abs');
        return { type: x.type === 'boolean' ? 'integer' : x.type, fn: nullary1(a, (v) => Math.abs(v as number)) };
      }
      default: {
        // coalesce, ifnull: the first non-NULL argument; all of one kind.
        const kinds = new Set(xs.filter((x) => x.type !== 'null').map((x) => x.type === 'text'));
        if (kinds.size > 1) this.fail(`${name}() mixes text and numbers`, name);
        const type = xs.find((x) => x.type !== 'null')?.type ?? 'null';
        return {
          type: type === 'boolean' ? 'integer' : type,
          fn: (e, ctx) => {
            for (const f of fs) {
              const v = f(e, ctx);
              if (v !== null) return v;
            }
            return null;
          },
        };
      }
    }
  }
}

/** The hint of `x = value` / `x IN (values)` when `x` is a column or lower()/upper() of one. */
function equalHints(x: Expr, values: readonly (string | number)[], none: boolean): IndexHint[] {
  if (none) return [];
  if (x.column !== undefined) return [{ column: x.column, kind: 'equal', values }];
  if (x.foldOf === undefined) return [];
  // upper(c) = 'X' implies lower(c) = lower('X'): one case-folded lookup serves both.
  const folded = values.map((v) => (typeof v === 'string' ? asciiLower(v) : v));
  return [{ column: x.foldOf, kind: 'equal', values: folded, fold: true }];
}

/** The index hint of `column LIKE 'abc%'` / `column GLOB 'abc*'` / `column GLOB 'abc'`, when it has one. */
function patternHints(
  word: string,
  column: string | undefined,
  pattern: string,
  escapeChar: string | undefined,
): IndexHint[] {
  if (column === undefined) return [];
  if (word === 'GLOB') {
    const meta = /[*?[]/;
    if (!meta.test(pattern)) return [{ column, kind: 'equal', values: [pattern] }];
    const head = pattern.slice(0, -1);
    if (pattern.endsWith('*') && !meta.test(head)) return [{ column, kind: 'prefix', prefix: head, fold: false }];
    const inner = pattern.slice(1, -1);
    if (pattern.length >= 3 && pattern.startsWith('*') && pattern.endsWith('*') && !meta.test(inner)) {
      return [{ column, kind: 'contains', text: inner, fold: false }];
    }
    return [];
  }
  // A literal stretch of the pattern: no wildcard, no escape character, ASCII only (LIKE folds ASCII).
  const plain = (x: string) =>
    !/[%_]/.test(x) && (escapeChar === undefined || !x.includes(escapeChar)) && !/[^ -~\t\n\r]/.test(x);
  if (plain(pattern)) return [{ column, kind: 'equal', values: [asciiLower(pattern)], fold: true }];
  const head = pattern.slice(0, -1);
  if (pattern.endsWith('%') && plain(head)) return [{ column, kind: 'prefix', prefix: asciiLower(head), fold: true }];
  const inner = pattern.slice(1, -1);
  if (pattern.length >= 3 && pattern.startsWith('%') && pattern.endsWith('%') && plain(inner)) {
    return [{ column, kind: 'contains', text: asciiLower(inner), fold: true }];
  }
  return [];
}

function isNotCall(n: AstNode): boolean {
  if (n.type !== 'function') return false;
  const parts = (n.name as { name?: { value?: unknown }[] } | undefined)?.name ?? [];
  return parts.length === 1 && String(parts[0]?.value).toUpperCase() === 'NOT';
}

function nullary1(a: Fn, f: (x: string | number) => SqlValue): Fn {
  return (e, c) => {
    const x = a(e, c);
    return x === null ? null : f(x);
  };
}
function nullary2(a: Fn, b: Fn, f: (x: string | number, y: string | number) => SqlValue): Fn {
  return (e, c) => {
    const x = a(e, c);
    if (x === null) return null;
    const y = b(e, c);
    return y === null ? null : f(x, y);
  };
}

function logical(op: 'AND' | 'OR', l: Expr, r: Expr): Expr {
  const lf = l.fn;
  const rf = r.fn;
  const fn: Fn =
    op === 'AND'
      ? (e, c) => {
          const a = lf(e, c);
          if (a === 0) return 0;
          const b = rf(e, c);
          if (b === 0) return 0;
          return a === null || b === null ? null : 1;
        }
      : (e, c) => {
          const a = lf(e, c);
          if (a === 1) return 1;
          const b = rf(e, c);
          if (b === 1) return 1;
          return a === null || b === null ? null : 0;
        };
  // Nested ANDs (ORs) become one n-ary test: a AND b AND c is true when all are, false when any is.
  const parts = (x: Expr): readonly Expr[] => (x.op === op ? (x.parts ?? [x]) : [x]);
  const all = [...parts(l), ...parts(r)];
  const ts = all.map(truePred);
  const fs = all.map(falsePred);
  const tcs = all.map((x) => gen.truth(x));
  const fcs = all.map((x) => gen.falsity(x));
  const tc = `(${tcs.join(op === 'AND' ? ' && ' : ' || ')})`;
  const fc = `(${fcs.join(op === 'AND' ? ' || ' : ' && ')})`;
  return {
    type: 'boolean',
    fn,
    isTrue: op === 'AND' ? every(ts) : some(ts),
    isFalse: op === 'AND' ? some(fs) : every(fs),
    op,
    parts: all,
    hints: combineHints(op, all),
    tc,
    fc,
  };
}

function not(x: Expr): Expr {
  const f = x.fn;
  return {
    type: 'boolean',
    fn: (e, c) => {
      const v = f(e, c);
      return v === null ? null : v === 0 ? 1 : 0;
    },
    isTrue: falsePred(x),
    isFalse: truePred(x),
    tc: gen.falsity(x),
    fc: gen.truth(x),
  };
}

type Cmp = '=' | '!=' | '<' | '<=' | '>' | '>=';
const CMP: Record<Cmp, (d: number) => boolean> = {
  '=': (d) => d === 0,
  '!=': (d) => d !== 0,
  '<': (d) => d < 0,
  '<=': (d) => d <= 0,
  '>': (d) => d > 0,
  '>=': (d) => d >= 0,
};

function compare(op: string, l: Expr, r: Expr): Expr {
  const test = CMP[op as Cmp];
  const text = l.type === 'text' || r.type === 'text';
  const lf = l.fn;
  const rf = r.fn;
  if (r.constant !== undefined && r.constant !== null && l.constant === undefined) {
    // The common shape, column op literal: read one side only.
    const k = r.constant;
    const t = gen.tmp();
    const lv = gen.value(l);
    const kv = jsLiteral(k);
    if (op === '=') {
      return {
        code: `((${t} = ${lv}) === null ? null : ${t} === ${kv} ? 1 : 0)`,
        tc: `(${lv} === ${kv})`,
        fc: `((${t} = ${lv}) !== null && ${t} !== ${kv})`,
        type: 'boolean',
        fn: (e, c) => {
          const a = lf(e, c);
          return a === null ? null : a === k ? 1 : 0;
        },
        isTrue: (e, c) => lf(e, c) === k,
        isFalse: (e, c) => {
          const a = lf(e, c);
          return a !== null && a !== k;
        },
        hints: equalHints(l, [k], false),
      };
    }
    const jsOp = op === '!=' ? '!==' : op;
    // Text orders by code point (compareText), numbers directly.
    const rel = text ? `${gen.ref(compareText)}(${t}, ${kv}) ${jsOp} 0` : `${t} ${jsOp} ${kv}`;
    const code = {
      code: `((${t} = ${lv}) === null ? null : ${rel} ? 1 : 0)`,
      tc: `((${t} = ${lv}) !== null && ${rel})`,
      fc: `((${t} = ${lv}) !== null && !(${rel}))`,
    };
    if (text) {
      const fnText: Fn = (e, c) => {
        const a = lf(e, c);
        return a === null ? null : test(compareText(a as string, k as string)) ? 1 : 0;
      };
      return { type: 'boolean', fn: fnText, ...code };
    }
    if (!text) {
      const kn = k as number;
      return {
        ...code,
        type: 'boolean',
        fn: (e, c) => {
          const a = lf(e, c);
          return a === null ? null : test((a as number) - kn) ? 1 : 0;
        },
        isTrue: (e, c) => {
          const a = lf(e, c);
          return a !== null && test((a as number) - kn);
        },
      };
    }
  }
  if (r.constant === null || l.constant === null) return { type: 'boolean', fn: () => null, constant: null };
  const fn: Fn = text
    ? (e, c) => {
        const a = lf(e, c);
        if (a === null) return null;
        const b = rf(e, c);
        return b === null ? null : test(compareText(a as string, b as string)) ? 1 : 0;
      }
    : (e, c) => {
        const a = lf(e, c);
        if (a === null) return null;
        const b = rf(e, c);
        return b === null ? null : test((a as number) - (b as number)) ? 1 : 0;
      };
  return { type: 'boolean', fn };
}

function isOp(l: Expr, r: Expr, negate: boolean): Expr {
  const lf = l.fn;
  const rf = r.fn;
  const same = (a: SqlValue, b: SqlValue) => a === b;
  const tc = `(${gen.value(l)} ${negate ? '!==' : '==='} ${gen.value(r)})`;
  const fc = `(${gen.value(l)} ${negate ? '===' : '!=='} ${gen.value(r)})`;
  return {
    type: 'boolean',
    fn: (e, c) => (same(lf(e, c), rf(e, c)) !== negate ? 1 : 0),
    code: `(${tc} ? 1 : 0)`,
    tc,
    fc,
  };
}

function arithmetic(op: string, l: Expr, r: Expr): Expr {
  const real = l.type === 'real' || r.type === 'real';
  const lf = l.fn;
  const rf = r.fn;
  const f =
    (g: (a: number, b: number) => number | null): Fn =>
    (e, c) => {
      const a = lf(e, c);
      if (a === null) return null;
      const b = rf(e, c);
      return b === null ? null : g(a as number, b as number);
    };
  const type: SqlType = l.type === 'null' || r.type === 'null' ? 'null' : real ? 'real' : 'integer';
  switch (op) {
    case '+':
      return { type, fn: f((a, b) => a + b) };
    case '-':
      return { type, fn: f((a, b) => a - b) };
    case '*':
      return { type, fn: f((a, b) => a * b) };
    case '/':
      return {
        type,
        fn: f(real ? (a, b) => (b === 0 ? null : a / b) : (a, b) => (b === 0 ? null : Math.trunc(a / b))),
      };
    default:
      // SQLite's % works on the operands truncated to integers.
      return {
        type,
        fn: f((a, b) => {
          const y = Math.trunc(b);
          if (y === 0) return null;
          const x = Math.trunc(a) % y;
          return x === 0 ? 0 : x;
        }),
      };
  }
}

/** Offset of the first `;` outside string literals and quoted names, or -1. */
function semicolon(sql: string): number {
  let quote: string | undefined;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === ';') return i;
  }
  return -1;
}

/**
 * Parses, checks and compiles a condition. Throws `ERR_TRIGGER_SQL` with the problem and its line and
 * column (`details` carries `problem`, `sql`, `line`, `column`).
 */
export function compileCondition(sql: string): CompiledCondition {
  const c = new Compiler(typeof sql === 'string' ? sql : '');
  gen = new Gen();
  if (typeof sql !== 'string' || sql.trim() === '') c.fail('the condition is empty');
  const slash = sql.indexOf('\\');
  if (slash >= 0) c.fail('backslashes are not supported (SQL dialects disagree on their meaning in strings)', slash);
  const semi = semicolon(sql);
  if (semi >= 0) c.fail('";" is not allowed: a condition is one expression, not statements', semi);
  let ast: unknown;
  try {
    ast = parser.astify(`${PREFIX}${sql}`, OPTIONS);
  } catch (e) {
    const loc = (e as { location?: { start?: { offset?: number } } }).location?.start?.offset;
    const found = (e as { found?: unknown }).found;
    const what =
      found === null || found === undefined
        ? 'unexpected end of condition'
        : `syntax error near ${JSON.stringify(found)}`;
    const end = found === null || found === undefined;
    c.fail(what, end ? sql.length : loc === undefined ? undefined : loc - PREFIX.length);
  }
  const stmt = (Array.isArray(ast) ? ast[0] : ast) as { where?: AstNode } | undefined;
  if (Array.isArray(ast) && ast.length !== 1) c.fail('only one expression is allowed');
  if (stmt === undefined || JSON.stringify({ ...stmt, where: null }) !== BASELINE || stmt.where === undefined) {
    const clause = /\b(order|group|limit|union|having|offset|window|intersect|except)\b/i.exec(sql);
    c.fail('only a boolean expression is allowed (no ORDER BY, GROUP BY, LIMIT, UNION, …)', clause?.index);
  }
  const root = c.expr((stmt as { where: AstNode }).where);
  if (root.type === 'text') c.fail('the condition is text; it must be true or false');
  const fn = root.fn;
  const test = gen.build(gen.truth(root)) ?? truePred(root);
  gen = new Gen();
  const columns = Object.freeze([...c.columns]);
  return {
    sql,
    columns,
    hints: root.hints ?? [],
    evaluate: (e, ctx) => {
      const v = fn(e, ctx);
      return v === null ? null : v !== 0 ? 1 : 0;
    },
    test,
  };
}
