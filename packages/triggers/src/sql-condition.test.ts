import { CollectionEvent, isCollectorError, type ProcessEvent } from '@daemoneye/core';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { COLUMNS, type EvalContext } from './columns.ts';
import { compileCondition } from './sql-condition.ts';

const noLineage: EvalContext = { parentOf: () => undefined };

// The rows both engines see: the same process events, as SQLite rows (NULL where a field is absent).
interface Row {
  pid: number;
  ppid: number | null;
  name: string;
  executable_path: string | null;
  uid: number | null;
  cpu_usage: number | null;
  command_line: string;
}

const db = new Database(':memory:');
db.exec(
  'CREATE TABLE p (pid INTEGER, ppid INTEGER, name TEXT, executable_path TEXT, uid INTEGER, cpu_usage REAL, command_line TEXT)',
);
afterAll(() => db.close());

function eventOf(r: Row): ProcessEvent {
  return CollectionEvent.process({
    subtype: 'exec',
    pid: r.pid,
    name: r.name,
    commandLine: r.command_line === '' ? [] : r.command_line.split(' '),
    accessible: true,
    fileExists: true,
    timestamp: 1,
    ...(r.ppid !== null ? { ppid: r.ppid } : {}),
    ...(r.executable_path !== null ? { executablePath: r.executable_path } : {}),
    ...(r.uid !== null ? { userId: String(r.uid) } : {}),
    ...(r.cpu_usage !== null ? { cpuUsage: r.cpu_usage } : {}),
  });
}

/** SQLite's answer for `cond` on each row (1, 0 or null), in row order. */
function sqlite(cond: string, rows: readonly Row[]): (number | null)[] {
  db.exec('DELETE FROM p');
  const ins = db.prepare(
    'INSERT INTO p VALUES (@pid, @ppid, @name, @executable_path, @uid, @cpu_usage, @command_line)',
  );
  for (const r of rows) ins.run(r);
  return db
    .prepare(`SELECT (${cond}) AS v FROM p ORDER BY rowid`)
    .all()
    .map((x) => {
      const v = (x as { v: number | null }).v;
      return v === null ? null : v !== 0 ? 1 : 0;
    });
}

const ours = (cond: string, rows: readonly Row[]) => {
  const c = compileCondition(cond);
  return rows.map((r) => {
    const v = c.evaluate(eventOf(r), noLineage);
    // The generated `test` (what the trigger manager runs) must agree with the three-valued result.
    if (c.test(eventOf(r), noLineage) !== (v === 1)) throw new Error(`test() disagrees with evaluate() for ${cond}`);
    return v;
  });
};

const ROWS: Row[] = [
  {
    pid: 1,
    ppid: 0,
    name: 'systemd',
    executable_path: '/usr/lib/systemd/systemd',
    uid: 0,
    cpu_usage: 0.5,
    command_line: '/sbin/init',
  },
  { pid: 420, ppid: 1, name: 'sh', executable_path: '/tmp/x/sh', uid: 0, cpu_usage: 12.25, command_line: 'sh -c id' },
  { pid: 421, ppid: 420, name: 'Bash', executable_path: null, uid: 1000, cpu_usage: null, command_line: '' },
  { pid: 7, ppid: null, name: "it's", executable_path: '/TMP/UPPER', uid: null, cpu_usage: 0, command_line: 'a b' },
  { pid: 9000, ppid: 1, name: 'naïve_é', executable_path: '/dev/shm/%x', uid: 33, cpu_usage: 99.5, command_line: '%_' },
];

describe('SQL semantics, checked against SQLite on the same rows', () => {
  it.each([
    "executable_path LIKE '/tmp/%' AND uid = 0",
    "executable_path LIKE '/tmp/%'",
    "executable_path GLOB '/tmp/*'",
    "executable_path GLOB '/[a-z][a-z][a-z]/*'",
    "executable_path GLOB '/[^t]*'",
    "name LIKE 'bash'",
    "name LIKE 'NAÏVE%'",
    "name LIKE 'na_ve%'",
    "command_line LIKE '!%!_' ESCAPE '!'",
    "name NOT LIKE 's%'",
    "name IN ('sh', 'bash', 'Bash')",
    "name NOT IN ('sh', NULL)",
    'uid IN (0, NULL)',
    'uid NOT IN (0, 33)',
    'ppid IS NULL',
    'ppid IS NOT NULL AND ppid = 1',
    'uid IS 1000',
    'uid IS NOT NULL OR executable_path IS NULL',
    'NOT (uid = 0)',
    'uid = 0 OR cpu_usage > 50',
    'uid = 0 AND cpu_usage > 50',
    'pid BETWEEN 7 AND 420',
    'pid NOT BETWEEN 7 AND 420',
    'ppid BETWEEN 0 AND 1',
    'pid + ppid * 2 > 800',
    'pid / 2 = 210',
    'pid / 0 IS NULL',
    'pid % 7 = 0',
    'cpu_usage * 2 >= 24.5',
    'cpu_usage / 2 > 6',
    '-pid < -400',
    'abs(-pid) = pid',
    "lower(name) = 'bash'",
    "upper(name) = 'NAÏVE_é'",
    'length(name) = 7',
    "instr(executable_path, '/') = 1",
    "instr(name, 'é') = 7",
    "trim(name, 'sh') = ''",
    "replace(executable_path, '/', '|') = '|tmp|x|sh'",
    "name || '-' || name = 'sh-sh'",
    "coalesce(executable_path, 'none') = 'none'",
    'ifnull(ppid, -1) < 0',
    "name > 'b' AND name < 'z'",
    "name >= 'naïve'",
    "executable_path < 'a'",
    'uid <> 0',
    'uid != 0',
    'uid == 0',
    'TRUE AND ppid = 1',
    'FALSE OR NULL',
    'NULL IS NULL',
    'NOT NULL',
    'ppid = NULL',
    'cpu_usage',
    'NOT cpu_usage',
    "name = 'it''s'",
  ])('%s', (cond) => {
    expect(ours(cond, ROWS)).toEqual(sqlite(cond, ROWS));
  });
});

describe('generated conditions and rows agree with SQLite (fast-check)', () => {
  const text = fc.stringMatching(/^[a-cA-C%_ /é]{0,5}$/);
  const row = fc.record({
    pid: fc.integer({ min: 0, max: 50 }),
    ppid: fc.option(fc.integer({ min: 0, max: 50 }), { nil: null }),
    name: text,
    executable_path: fc.option(text, { nil: null }),
    uid: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }),
    cpu_usage: fc.option(fc.double({ min: -10, max: 10, noNaN: true, noDefaultInfinity: true }), { nil: null }),
    command_line: fc.constant(''),
  });
  const lit = (s: string) => `'${s}'`;
  const numCol = fc.constantFrom('pid', 'ppid', 'uid', 'cpu_usage');
  const numLit = fc.oneof(fc.integer({ min: -5, max: 50 }).map(String), fc.constant('NULL'), fc.constant('2.5'));
  const numExpr: fc.Arbitrary<string> = fc.oneof(
    numCol,
    numLit,
    fc.tuple(numCol, fc.constantFrom('+', '-', '*', '/', '%'), numLit).map(([a, op, b]) => `(${a} ${op} ${b})`),
    numCol.map((c) => `abs(${c})`),
  );
  const textCol = fc.constantFrom('name', 'executable_path');
  const textExpr = fc.oneof(
    textCol,
    text.map(lit),
    textCol.map((c) => `lower(${c})`),
    textCol.map((c) => `upper(${c})`),
    fc.tuple(textCol, text).map(([c, t]) => `${c} || ${lit(t)}`),
  );
  const leaf = fc.oneof(
    fc
      .tuple(numExpr, fc.constantFrom('=', '!=', '<', '<=', '>', '>=', 'IS', 'IS NOT'), numExpr)
      .map((p) => p.join(' ')),
    fc.tuple(textExpr, fc.constantFrom('=', '<>', '<', '>=', 'IS'), textExpr).map((p) => p.join(' ')),
    fc.tuple(textCol, fc.constantFrom('LIKE', 'NOT LIKE', 'GLOB'), text.map(lit)).map((p) => p.join(' ')),
    fc.tuple(numCol, fc.array(numLit, { minLength: 1, maxLength: 4 })).map(([c, xs]) => `${c} IN (${xs.join(', ')})`),
    fc
      .tuple(textCol, fc.array(text.map(lit), { minLength: 1, maxLength: 3 }))
      .map(([c, xs]) => `${c} NOT IN (${xs.join(', ')})`),
    fc.tuple(numCol, numLit, numLit).map(([c, a, b]) => `${c} BETWEEN ${a} AND ${b}`),
    fc.tuple(fc.oneof(numCol, textCol), fc.constantFrom('IS NULL', 'IS NOT NULL')).map((p) => p.join(' ')),
    textCol.map((c) => `length(${c}) > 2`),
  );
  const cond: fc.Arbitrary<string> = fc.letrec<{ c: string }>((tie) => ({
    c: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.tuple(tie('c'), fc.constantFrom('AND', 'OR'), tie('c')).map(([a, op, b]) => `(${a}) ${op} (${b})`),
      tie('c').map((a) => `NOT (${a})`),
    ),
  })).c;

  it('every generated condition gives SQLite’s answer on every generated row', () => {
    fc.assert(
      fc.property(cond, fc.array(row, { minLength: 1, maxLength: 8 }), (c, rows) => {
        expect(ours(c, rows)).toEqual(sqlite(c, rows));
      }),
      { numRuns: Number(process.env.SQL_PROPERTY_RUNS ?? 400) },
    );
  });
});

describe('conditions that are refused at registration', () => {
  it.each([
    ['', 'the condition is empty'],
    [
      "name = 'x'; DROP TABLE p",
      '";" is not allowed: a condition is one expression, not statements at line 1, column 11',
    ],
    ['pid IN (SELECT pid FROM p)', 'subqueries are not allowed at line 1, column 9'],
    ['EXISTS (SELECT 1)', 'subqueries are not allowed at line 1, column 1'],
    ['secret = 1', 'unknown column "secret" at line 1, column 1'],
    ['pid = 1 AND\n  bogus > 2', 'unknown column "bogus" at line 2, column 3'],
    ['load_extension(name) = 1', 'unknown function "load_extension"'],
    ['sqlite_version() = 1', 'unknown function "sqlite_version"'],
    ['lower(name, name) = 1', 'lower() takes 1 arguments, got 2'],
    ['name = 1', '"=" compares text with a number at line 1, column 6'],
    ["pid + 'a' = 1", '"+" needs a number, not text'],
    ['name LIKE 1', 'LIKE needs text, not a number'],
    ['name', 'the condition is text; it must be true or false'],
    ['name AND pid = 1', 'AND needs a condition or a number, not text'],
    [
      'pid = 1 ORDER BY pid',
      'only a boolean expression is allowed (no ORDER BY, GROUP BY, LIMIT, UNION, …) at line 1, column 9',
    ],
    ['pid = 1 UNION SELECT 1', 'only a boolean expression is allowed'],
    ['pid = 1 LIMIT 1', 'only a boolean expression is allowed'],
    ['p.pid = 1', 'qualified column names are not allowed'],
    ['CAST(pid AS TEXT) = 1', 'CAST is not allowed at line 1, column 1'],
    ['CASE WHEN pid = 1 THEN 1 END = 1', 'CASE is not allowed'],
    ['pid = ?', 'origin is not allowed'],
    ["name COLLATE NOCASE = 'x'", 'COLLATE is not allowed'],
    [
      "name = 'a\\b'",
      'backslashes are not supported (SQL dialects disagree on their meaning in strings) at line 1, column 10',
    ],
    ['pid = 99999999999999999999', 'the integer 99999999999999999999 is out of range'],
    ["name LIKE 'a' ESCAPE 'ab'", 'ESCAPE needs a single character'],
    ['pid = ', 'unexpected end of condition at line 1, column 7'],
    ['pid == == 1', 'syntax error near "="'],
    ["pid > 1 OR 'x' || pid = 'x1'", '"||" needs text, not a number'],
  ])('%j', (sql, message) => {
    let err: unknown;
    try {
      compileCondition(sql);
    } catch (e) {
      err = e;
    }
    expect(isCollectorError(err, 'ERR_TRIGGER_SQL')).toBe(true);
    expect((err as Error).message).toContain(message);
  });
});

describe('where code generation from strings is refused', () => {
  it('conditions still compile (to closures) and give the same answers', () => {
    const conds = [
      "executable_path LIKE '/tmp/%' AND uid = 0 AND name IN ('sh', 'bash', 'nc')",
      "NOT (name GLOB 'B*') OR ppid IS NULL",
      'cpu_usage BETWEEN 0 AND 20 AND (pid % 2) = 0',
    ];
    const generated = conds.map((c) => compileCondition(c));
    const original = globalThis.Function;
    globalThis.Function = function refused() {
      throw new EvalError('Code generation from strings disallowed for this context');
    } as unknown as FunctionConstructor;
    let closures: ReturnType<typeof compileCondition>[];
    try {
      closures = conds.map((c) => compileCondition(c));
    } finally {
      globalThis.Function = original;
    }
    for (const [i, c] of closures.entries()) {
      const g = generated[i] as ReturnType<typeof compileCondition>;
      expect(c.test.name).not.toBe('test');
      expect(ROWS.map((r) => c.test(eventOf(r), noLineage))).toEqual(ROWS.map((r) => g.test(eventOf(r), noLineage)));
      expect(ROWS.map((r) => c.evaluate(eventOf(r), noLineage))).toEqual(sqlite(conds[i] as string, ROWS));
    }
  });
});

describe('columns', () => {
  it('reads lineage columns from the context and joins argv', () => {
    const e = CollectionEvent.process({
      pid: 5,
      ppid: 2,
      name: 'sh',
      commandLine: ['sh', '-c', 'id'],
      accessible: true,
      fileExists: true,
      userId: '33',
    });
    const ctx: EvalContext = {
      parentOf: (p) => (p === 2 ? { name: 'nginx', executablePath: '/usr/sbin/nginx' } : undefined),
    };
    expect(
      compileCondition(
        "parent_name IN ('nginx', 'apache2') AND name IN ('sh', 'bash') AND parent_executable_path = '/usr/sbin/nginx' AND command_line = 'sh -c id' AND uid = 33",
      ).test(e, ctx),
    ).toBe(true);
    expect(compileCondition("parent_name = 'nginx'").evaluate(e, noLineage)).toBe(null);
    expect(Object.keys(COLUMNS)).toContain('container_id');
  });
});
