import {
  batchOf,
  CollectionEvent,
  type DerivedEventSender,
  type EventRecord,
  isCollectorError,
  SheddingController,
  SheddingLevel,
  TriggerPriority,
  type TriggerRequestEvent,
} from '@daemoneye/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineageTable } from './lineage.ts';
import { compileCondition } from './sql-condition.ts';
import { TriggerManager } from './trigger-manager.ts';

const exec = (pid: number, exe: string, extra: Partial<Parameters<typeof CollectionEvent.process>[0]> = {}) =>
  CollectionEvent.process({
    subtype: 'exec',
    pid,
    ppid: 1,
    name: exe.split('/').pop() ?? exe,
    executablePath: exe,
    accessible: true,
    fileExists: true,
    timestamp: 1000,
    ...extra,
  });

function sender(accept: (n: number) => boolean = () => true) {
  const sent: { event: TriggerRequestEvent; cause: EventRecord }[] = [];
  let offered = 0;
  const tx: DerivedEventSender = {
    emit: (event, cause) => {
      offered++;
      if (!accept(offered)) return false;
      sent.push({ event: event as TriggerRequestEvent, cause: cause as EventRecord });
      return true;
    },
  };
  return { tx, sent };
}

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('TriggerManager', () => {
  it('turns a match into a valid trigger request derived from its event', () => {
    const c = clock();
    const m = new TriggerManager({ now: c.now });
    m.registerCondition({
      id: 'tmp-exec',
      description: 'exec from /tmp',
      sqlCondition: "executable_path LIKE '/tmp/%' AND uid = 0",
      priority: TriggerPriority.High,
    });
    const { tx, sent } = sender();
    m.process(
      batchOf(
        [
          exec(5, '/usr/bin/ls', { userId: '0' }),
          exec(6, '/tmp/x', { userId: '0' }),
          exec(7, '/tmp/y', { userId: '1000' }),
        ],
        { firstSeq: 40 },
      ),
      tx,
    );
    expect(sent).toHaveLength(1);
    expect(sent[0]?.cause.seq).toBe(41);
    expect(sent[0]?.event).toMatchObject({
      kind: 'trigger_request',
      triggerId: 'tmp-exec',
      targetCollector: 'binary-hasher',
      analysisType: 'BinaryHash',
      priority: TriggerPriority.High,
      targetPid: 6,
      targetPath: '/tmp/x',
      timestamp: c.now(),
      metadata: { cause_seq: '41', event_type: 'process.exec', description: 'exec from /tmp', name: 'x' },
    });
    // The condition needs a path starting with "/tm", so the index skips /usr/bin/ls.
    expect(m.stats()).toMatchObject({ events: 3, evaluated: 2, matched: { 'tmp-exec': 1 }, emitted: 1, awaiting: 1 });
  });

  it('dedups the same condition, collector and target within the window, not after it', () => {
    const c = clock();
    const m = new TriggerManager({ now: c.now, dedupWindowMs: 300_000 });
    m.registerCondition({ id: 'tmp', sqlCondition: "executable_path GLOB '/tmp/*'" });
    const { tx, sent } = sender();
    m.process(batchOf([exec(6, '/tmp/x'), exec(6, '/tmp/x'), exec(8, '/tmp/x')]), tx);
    expect(sent.map((s) => s.event.targetPid)).toEqual([6, 8]);
    c.advance(299_999);
    m.process(batchOf([exec(6, '/tmp/x')]), tx);
    expect(sent).toHaveLength(2);
    c.advance(1);
    m.process(batchOf([exec(6, '/tmp/x')]), tx);
    expect(sent).toHaveLength(3);
    expect(m.stats().refused).toEqual({ dedup: 2 });
  });

  it('limits requests per target collector per window', () => {
    const c = clock();
    const m = new TriggerManager({ now: c.now, rateLimit: 3, rateWindowMs: 60_000 });
    m.registerCondition({ id: 'a', sqlCondition: "executable_path GLOB '/tmp/*'" });
    m.registerCondition({ id: 'b', sqlCondition: "name = 'other'", targetCollector: 'yara' });
    const { tx, sent } = sender();
    m.process(batchOf([1, 2, 3, 4, 5].map((p) => exec(p, '/tmp/x'))), tx);
    m.process(batchOf([exec(9, '/usr/bin/other')]), tx);
    expect(sent.map((s) => s.event.targetPid)).toEqual([1, 2, 3, 9]);
    expect(m.stats().refused).toEqual({ rate_limited: 2 });
    c.advance(60_000);
    m.process(batchOf([exec(6, '/tmp/x')]), tx);
    expect(sent.at(-1)?.event.targetPid).toBe(6);
  });

  it('refuses Low requests while the collector sheds load, and takes them again after', () => {
    const shedding = new SheddingController();
    const m = new TriggerManager({ now: clock().now, shedding, dedupWindowMs: 1 });
    m.registerCondition({ id: 'low', sqlCondition: "name = 'low'", priority: TriggerPriority.Low });
    m.registerCondition({ id: 'high', sqlCondition: "name = 'high'", priority: TriggerPriority.High });
    const { tx, sent } = sender();
    const ev = (pid: number, name: string) => exec(pid, `/usr/bin/${name}`, { name });
    shedding.set(SheddingLevel.Shed, 'CPU over budget');
    m.process(batchOf([ev(1, 'low'), ev(2, 'high')]), tx);
    expect(sent.map((s) => s.event.triggerId)).toEqual(['high']);
    expect(m.stats().refused).toEqual({ shed_low: 1 });
    shedding.set(SheddingLevel.None);
    m.process(batchOf([ev(3, 'low')]), tx);
    expect(sent.map((s) => s.event.triggerId)).toEqual(['high', 'low']);
  });

  it('sheds Low first under pressure and emits the highest priority first', () => {
    const c = clock();
    const m = new TriggerManager({ now: c.now, maxPending: 10 });
    m.registerCondition({ id: 'low', sqlCondition: "name = 'low'", priority: TriggerPriority.Low });
    m.registerCondition({ id: 'crit', sqlCondition: "name = 'crit'", priority: TriggerPriority.Critical });
    m.registerCondition({ id: 'norm', sqlCondition: "name = 'norm'", priority: TriggerPriority.Normal });
    // The lane refuses everything in the first batch, so requests stay queued.
    let open = false;
    const { tx, sent } = sender(() => open);
    const ev = (pid: number, name: string) => exec(pid, `/usr/bin/${name}`, { name });
    // 8 Low fill the queue to 80 %; the 9th Low is shed; Normal still enters; at 10, Critical evicts a Low.
    m.process(
      batchOf([
        ...Array.from({ length: 9 }, (_, i) => ev(100 + i, 'low')),
        ev(200, 'norm'),
        ev(201, 'norm'),
        ev(300, 'crit'),
      ]),
      tx,
    );
    expect(m.stats().pending).toEqual({ low: 7, normal: 2, high: 0, critical: 1 });
    expect(m.stats().refused).toEqual({ shed_low: 2 });
    open = true;
    m.process(batchOf([]), tx);
    expect(sent.map((s) => s.event.triggerId)).toEqual(['crit', 'norm', 'norm', ...Array(7).fill('low')]);
    expect(sent.map((s) => s.event.targetPid).slice(3)).toEqual([101, 102, 103, 104, 105, 106, 107]);
  });

  it('counts requests answered by an analysis_result and those that time out', () => {
    const c = clock();
    const m = new TriggerManager({ now: c.now, requestTimeoutMs: 30_000 });
    m.registerCondition({ id: 'tmp', sqlCondition: "executable_path GLOB '/tmp/*'" });
    const { tx, sent } = sender();
    m.process(batchOf([exec(1, '/tmp/a'), exec(2, '/tmp/b')]), tx);
    const answer = CollectionEvent.analysisResult({
      analysisType: 'BinaryHash',
      success: true,
      correlationId: sent[0]?.event.correlationId as string,
    });
    m.process(batchOf([answer]), tx);
    c.advance(30_000);
    m.process(batchOf([]), tx);
    expect(m.stats()).toMatchObject({ completed: 1, timedOut: 1, awaiting: 0 });
  });

  it('gives conditions the parent name from the lineage table, and forgets exited parents after retention', () => {
    const c = clock();
    const m = new TriggerManager({ now: c.now, lineageRetentionMs: 10_000 });
    m.registerCondition({
      id: 'web-shell',
      sqlCondition: "parent_name IN ('nginx', 'apache2') AND name IN ('sh', 'bash')",
      priority: TriggerPriority.Critical,
    });
    const { tx, sent } = sender();
    const nginx = CollectionEvent.process({
      subtype: 'snapshot',
      pid: 50,
      name: 'nginx',
      executablePath: '/usr/sbin/nginx',
      accessible: true,
      fileExists: true,
    });
    m.process(batchOf([nginx, exec(51, '/bin/sh', { ppid: 50 }), exec(52, '/bin/sh', { ppid: 49 })]), tx);
    expect(sent.map((s) => s.event.targetPid)).toEqual([51]);
    m.process(
      batchOf([
        CollectionEvent.process({ subtype: 'exit', pid: 50, name: 'nginx', accessible: true, fileExists: true }),
      ]),
      tx,
    );
    c.advance(9_999);
    m.process(batchOf([exec(53, '/bin/bash', { ppid: 50 })]), tx);
    expect(sent.map((s) => s.event.targetPid)).toEqual([51, 53]);
    c.advance(1);
    m.process(batchOf([]), tx);
    m.process(batchOf([exec(54, '/bin/bash', { ppid: 50 })]), tx);
    expect(sent).toHaveLength(2);
    expect(m.stats().lineage).toMatchObject({ expired: 1 });
  });

  it('refuses bad definitions with typed errors', () => {
    const m = new TriggerManager();
    const code = (f: () => unknown) => {
      try {
        f();
        return 'none';
      } catch (e) {
        return isCollectorError(e) ? e.code : 'untyped';
      }
    };
    expect(code(() => m.registerCondition({ id: 'x', sqlCondition: 'nope = 1' }))).toBe('ERR_TRIGGER_SQL');
    expect(code(() => m.registerCondition({ id: 'has space', sqlCondition: 'pid = 1' }))).toBe('ERR_TRIGGER_INVALID');
    expect(code(() => m.registerCondition({ id: 'x', sqlCondition: 'pid = 1', priority: 9 as never }))).toBe(
      'ERR_TRIGGER_INVALID',
    );
    expect(code(() => m.registerCondition({ id: 'x', sqlCondition: 'pid = 1', analysisType: 'Magic' as never }))).toBe(
      'ERR_TRIGGER_INVALID',
    );
    m.registerCondition({ id: 'x', sqlCondition: 'pid = 1' });
    expect(code(() => m.registerCondition({ id: 'x', sqlCondition: 'pid = 2' }))).toBe('ERR_TRIGGER_DUPLICATE');
    expect(code(() => m.registerSequence({ id: 's', steps: ['pid = 1'] }))).toBe('ERR_TRIGGER_INVALID');
    expect(code(() => new TriggerManager({ rateLimit: 0 }))).toBe('ERR_TRIGGER_INVALID');
  });
});

describe('sequences', () => {
  const connect = (pid: number, t: number) =>
    CollectionEvent.network({
      connectionId: `c${pid}`,
      sourceAddr: '10.0.0.5:50000',
      destAddr: '203.0.113.9:443',
      protocol: 'tcp',
      state: 'established',
      pid,
      bytesSent: 0,
      bytesReceived: 0,
      timestamp: t,
    });
  const shell = (pid: number, t: number) => exec(pid, '/bin/sh', { timestamp: t });

  function manager() {
    const m = new TriggerManager();
    m.registerSequence({
      id: 'connect-then-shell',
      steps: ["kind = 'network' AND state = 'established'", "subtype = 'exec' AND name IN ('sh', 'bash')"],
      join: 'same_pid',
      withinMs: 30_000,
      priority: TriggerPriority.High,
    });
    return m;
  }

  it('a two-step sequence fires once, for the second step, with the first step noted', () => {
    const m = manager();
    const { tx, sent } = sender();
    m.process(batchOf([connect(70, 1000), shell(71, 2000), shell(70, 20_000)], { firstSeq: 10 }), tx);
    m.process(batchOf([shell(70, 25_000)], { firstSeq: 20 }), tx);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.event).toMatchObject({ triggerId: 'connect-then-shell', targetPid: 70 });
    expect(sent[0]?.event.metadata.sequence_first_seq).toBe('10');
    expect(sent[0]?.cause.seq).toBe(12);
    expect(m.stats().sequenceState['connect-then-shell']).toMatchObject({ started: 1, completed: 1, partials: 0 });
  });

  it('does not fire when the second step comes after the window', () => {
    const m = manager();
    const { tx, sent } = sender();
    m.process(batchOf([connect(70, 1000)]), tx);
    m.process(batchOf([shell(70, 31_001)]), tx);
    expect(sent).toEqual([]);
    expect(m.stats().sequenceState['connect-then-shell']).toMatchObject({ completed: 0, expired: 1, partials: 0 });
  });

  it('joins parent to child and keeps its state bounded, counting evictions', () => {
    const m = new TriggerManager({ sequenceMaxEntries: 2 });
    m.registerSequence({
      id: 'fork-shell',
      steps: ["name = 'python3'", "name = 'sh'"],
      join: 'parent_child',
      withinMs: 5000,
    });
    const { tx, sent } = sender();
    const py = (pid: number) => exec(pid, '/usr/bin/python3', { timestamp: 1 });
    m.process(
      batchOf([
        py(1),
        py(2),
        py(3),
        exec(10, '/bin/sh', { ppid: 1, timestamp: 2 }),
        exec(11, '/bin/sh', { ppid: 3, timestamp: 2 }),
      ]),
      tx,
    );
    expect(sent.map((s) => s.event.targetPid)).toEqual([11]);
    expect(m.stats().sequenceState['fork-shell']).toMatchObject({ started: 3, evicted: 1, completed: 1, partials: 1 });
  });
});

describe('the condition index', () => {
  it('evaluates only the conditions whose indexed test can hold', () => {
    const m = new TriggerManager({ dedupWindowMs: 1, rateLimit: 1_000_000 });
    const conditions = [
      "name = 'tool' AND uid = 0",
      "executable_path GLOB '/opt/app1/*'",
      "executable_path GLOB '/opt/app2/*'",
      "executable_path LIKE '/srv/%' AND pid > 100",
      "name IN ('a', 'b') OR command_line LIKE '%--evil%'",
      "lower(name) = 'svc' AND ppid = 1",
      'uid = 0 OR pid > 5',
    ];
    conditions.forEach((c, i) => {
      m.registerCondition({ id: `c${i}`, sqlCondition: c });
    });
    const { tx } = sender();
    // Only the last condition has no indexable test: it is evaluated for every event.
    m.process(batchOf([exec(7, '/usr/bin/zzz', { userId: '0', commandLine: ['zzz', '--quiet'] })]), tx);
    expect(m.stats()).toMatchObject({ events: 1, evaluated: 1 });
    // /opt/app2/x meets one GLOB prefix; "SVC" meets lower(name) = 'svc'; --EVIL meets the LIKE (it folds case).
    m.process(batchOf([exec(8, '/opt/app2/x', { name: 'SVC', commandLine: ['x', '--EVIL'] })]), tx);
    expect(m.stats()).toMatchObject({ events: 2, evaluated: 5, matched: { c2: 1, c4: 1, c5: 1, c6: 2 } });
  });

  it('never hides a match: the manager matches exactly what evaluating every condition finds', () => {
    // Equality, IN, lower()/upper(), prefixes, contained texts and exact LIKE/GLOB patterns, on several
    // columns, nested in AND, OR and NOT: every shape the index has a lookup for, and some it has not.
    const word = fc.constantFrom('sh', 'SH', 'bash', 'nc', '/tmp/a', '/TMP/b', '/usr/bin/sh', '/t', '', 'a-b', 'ev');
    const col = fc.constantFrom('name', 'executable_path', 'command_line', 'parent_name');
    const leaf = fc.oneof(
      fc.tuple(col, word).map(([c, w]) => `${c} = '${w}'`),
      fc
        .tuple(col, fc.array(word, { minLength: 1, maxLength: 3 }))
        .map(([c, ws]) => `${c} IN (${ws.map((w) => `'${w}'`).join(', ')})`),
      fc
        .tuple(fc.constantFrom('lower', 'upper'), col, fc.array(word, { minLength: 1, maxLength: 2 }))
        .map(([f, c, ws]) => `${f}(${c}) IN (${ws.map((w) => `'${w}'`).join(', ')})`),
      fc
        .tuple(
          col,
          fc.constantFrom('%', '*', ''),
          word,
          fc.constantFrom('LIKE', 'GLOB', 'NOT LIKE'),
          fc.constantFrom('%', '*', ''),
        )
        .map(([c, head, w, op, tail]) => `${c} ${op} '${head}${w}${tail}'`),
      fc.constantFrom('uid = 0', 'pid > 5', 'ppid IS NULL', 'pid IN (1, 2)', 'executable_path IS NULL'),
    );
    const cond: fc.Arbitrary<string> = fc.letrec<{ c: string }>((tie) => ({
      c: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.tuple(tie('c'), fc.constantFrom('AND', 'OR'), tie('c')).map(([a, op, b]) => `(${a}) ${op} (${b})`),
        tie('c').map((a) => `NOT (${a})`),
      ),
    })).c;
    const event = fc.record({
      pid: fc.integer({ min: 1, max: 9 }),
      ppid: fc.integer({ min: 1, max: 9 }),
      name: word,
      exe: word,
      argv: fc.array(word, { maxLength: 3 }),
      uid: fc.constantFrom('0', '1'),
    });
    fc.assert(
      fc.property(
        fc.array(cond, { minLength: 1, maxLength: 8 }),
        fc.array(event, { minLength: 1, maxLength: 10 }),
        (conds, evs) => {
          const m = new TriggerManager({ dedupWindowMs: 1, rateLimit: 1_000_000, maxPending: 1_000_000 });
          conds.forEach((c, i) => {
            m.registerCondition({ id: `c${i}`, sqlCondition: c });
          });
          const events = evs.map((e) =>
            exec(e.pid, e.exe, { ppid: e.ppid, name: e.name, userId: e.uid, commandLine: e.argv }),
          );
          // The lineage the manager builds from the same events (parent_name), applied in order.
          const lineage = new LineageTable();
          const expected: Record<string, number> = {};
          const compiled = conds.map((c) => compileCondition(c));
          for (const e of events) {
            lineage.observe(e, 0);
            compiled.forEach((k, i) => {
              if (k.test(e, lineage)) expected[`c${i}`] = (expected[`c${i}`] ?? 0) + 1;
            });
          }
          m.process(batchOf(events), sender().tx);
          expect(m.stats().matched).toEqual(expected);
        },
      ),
      { numRuns: Number(process.env.SQL_PROPERTY_RUNS ?? 300) },
    );
  }, 600_000);
});
