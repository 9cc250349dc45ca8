/**
 * The allow-list in front of user SQL: `checkReadOnlySql` reads the statement token by token (string
 * literals, quoted identifiers and comments skipped, so a word inside them never counts) and refuses
 * more than one statement, any statement that does not start as a query (`SELECT`, `WITH`, `VALUES`,
 * `EXPLAIN`), and any keyword or function that writes, attaches, loads an extension or touches
 * pragmas or transactions. It is the first of three locks: the query runner then lets SQLite itself
 * compile the statement and refuses it unless SQLite calls it read-only and row-returning, on a
 * connection opened read-only with `query_only` on. This module only inspects text.
 */
import { storeErrors } from './errors.ts';

/** Statement keywords that never appear in a read-only query (unquoted). */
const FORBIDDEN_WORDS = new Set([
  'INSERT',
  'UPDATE',
  'DELETE',
  'UPSERT',
  'CREATE',
  'DROP',
  'ALTER',
  'ATTACH',
  'DETACH',
  'PRAGMA',
  'VACUUM',
  'REINDEX',
  'ANALYZE',
  'BEGIN',
  'COMMIT',
  'ROLLBACK',
  'SAVEPOINT',
  'RELEASE',
  'TRANSACTION',
]);

/** Functions and virtual tables that read or write outside the store, or load code. */
const FORBIDDEN_FUNCTIONS = new Set([
  'LOAD_EXTENSION',
  'READFILE',
  'WRITEFILE',
  'EDIT',
  'FTS3_TOKENIZER',
  'SQLITE_DBPAGE',
  'ZIPFILE',
  'SQLAR_COMPRESS',
  'SQLAR_UNCOMPRESS',
]);

const FIRST_WORDS = new Set(['SELECT', 'WITH', 'VALUES', 'EXPLAIN']);

/** A token of SQL text: a bare word (upper-cased), or one punctuation character. */
interface Token {
  readonly word?: string;
  readonly punct?: string;
}

function refuse(message: string, offending: string): never {
  throw storeErrors.error(
    'ERR_QUERY_REFUSED',
    `${message}: only read-only queries run (no writing, ATTACH, extensions, pragmas or transactions)`,
    { details: { offending } },
  );
}

function skipQuoted(sql: string, at: number, close: string): number {
  let i = at + 1;
  for (;;) {
    const end = sql.indexOf(close, i);
    if (end < 0) return sql.length;
    // A doubled quote is an escaped quote inside the literal.
    if (close !== ']' && sql[end + 1] === close) {
      i = end + 2;
      continue;
    }
    return end + 1;
  }
}

/** The words and punctuation of `sql`, literals, quoted names and comments left out. */
export function sqlTokens(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] as string;
    if (/\s/.test(c)) i++;
    else if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? sql.length : nl + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else if (c === "'" || c === '"' || c === '`') {
      out.push({ punct: 'literal' });
      i = skipQuoted(sql, i, c);
    } else if (c === '[') {
      out.push({ punct: 'literal' });
      i = skipQuoted(sql, i, ']');
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(sql.slice(i, i + 256)) as RegExpExecArray;
      // x'ABCD' is a blob literal: the quote that follows is skipped as a literal next.
      out.push({ word: m[0].toUpperCase() });
      i += m[0].length;
    } else if (/[0-9.]/.test(c)) {
      const m = /^[0-9.]+([eE][-+]?[0-9]+)?/.exec(sql.slice(i, i + 64)) as RegExpExecArray;
      i += m[0].length;
    } else {
      out.push({ punct: c });
      i++;
    }
  }
  return out;
}

/**
 * Throws `ERR_QUERY_REFUSED` (with `details.offending`) unless `sql` is one read-only query. Passing
 * this check is necessary, not sufficient: the query runner also has SQLite compile the statement
 * and checks that it is read-only.
 */
export function checkReadOnlySql(sql: string): void {
  const tokens = sqlTokens(sql);
  let end = tokens.length;
  while (end > 0 && tokens[end - 1]?.punct === ';') end--;
  const body = tokens.slice(0, end);
  const first = body[0]?.word;
  if (first === undefined) refuse('the query is empty', '');
  if (!FIRST_WORDS.has(first)) refuse(`a statement starting with ${first} is not a query`, first);
  if (body.some((t) => t.punct === ';')) refuse('more than one statement', ';');
  for (let i = 0; i < body.length; i++) {
    const w = body[i]?.word;
    if (w === undefined) continue;
    if (FORBIDDEN_WORDS.has(w)) refuse(`${w} is not allowed`, w);
    if (w === 'REPLACE' && body[i + 1]?.word === 'INTO') refuse('REPLACE INTO is not allowed', 'REPLACE');
    if (FORBIDDEN_FUNCTIONS.has(w)) refuse(`${w.toLowerCase()} is not allowed`, w.toLowerCase());
  }
}
