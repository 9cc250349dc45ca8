import { describe, expect, it } from 'vitest';
import { ev, failure, readyUntilAborted, sleep, waitFor } from './__test__/support.ts';
import { loadConfig } from './config-loader.ts';
import { type ConfigSchema, field } from './config-schema.ts';
import { declaredErrorCodes, defineErrorCatalog, ErrorCodes } from './errors.ts';
import { composeCollector, defineProcessor, defineSink, defineSource, pluginSchema } from './plugin.ts';
import type { EventBatch } from './record.ts';
import type { EventSender } from './source.ts';

const created: unknown[] = [];
const ticker = defineSource({
  key: 'ticker',
  description: 'Sends count events',
  schema: {
    count: field('integer', 3, 'How many', { min: 0 }),
    every: field('duration', 5, 'Between two', { min: 1 }),
    mode: field('enum', 'fast', 'Mode', { values: ['fast', 'slow'] }),
  },
  create: (o) => {
    created.push(o);
    return {
      name: () => 'ticker',
      capabilities: () => 8,
      async start(tx: EventSender, signal: AbortSignal) {
        for (let i = 0; i < o.count; i++) {
          await tx.send(ev(i));
          await sleep(o.every);
        }
        await readyUntilAborted(tx, signal);
      },
      async stop() {},
      async healthCheck() {
        return o.mode === 'slow' ? { status: 'degraded' as const, reason: 'slow mode' } : undefined;
      },
    };
  },
});
const seen: EventBatch[] = [];
const memory = defineSink({
  key: 'memory',
  description: 'Keeps batches',
  schema: {},
  create: () => ({ name: () => 'memory', write: async (b: EventBatch) => void seen.push(b) }),
});
const counter = defineProcessor({
  key: 'counter',
  description: 'Counts',
  enabledByDefault: false,
  schema: {},
  create: () => ({ name: () => 'counter', process: () => {} }),
});

const load = (flags: string[]) =>
  loadConfig({ schema: pluginSchema([ticker, memory, counter]), systemFile: null, userFile: null, env: {}, flags });

describe('plug-in definitions', () => {
  it('give every section enabled (and sinks queue_capacity and overflow) with documented defaults', () => {
    const loaded = load([]);
    const rows = Object.fromEntries(loaded.entries().map((e) => [e.path, e.value]));
    expect(rows).toMatchObject({
      'sources.ticker.enabled': true,
      'sources.ticker.count': 3,
      'sources.ticker.every': 5,
      'sources.ticker.mode': 'fast',
      'sinks.memory.enabled': true,
      'sinks.memory.queue_capacity': 10_000,
      'sinks.memory.overflow': 'block',
      'processors.counter.enabled': false,
    });
  });

  it('compose a collector whose factories receive typed, camelCase options from every layer', async () => {
    created.length = 0;
    seen.length = 0;
    const loaded = load(['sources.ticker.count=4', 'sources.ticker.every=2ms', 'max_batch_size=2']);
    const c = composeCollector(loaded, [ticker, memory, counter]);
    expect(created).toEqual([{ enabled: true, count: 4, every: 2, mode: 'fast' }]);
    expect(c.sourceNames()).toEqual(['ticker']);
    const run = c.run();
    await waitFor(() => seen.flat().length === 4, 'four events');
    expect(Math.max(...seen.map((b) => b.length))).toBeLessThanOrEqual(2);
    expect(c.stats().processors).toEqual([]);
    await c.shutdown();
    await run;
  });

  it('skip a disabled plug-in and name the origin of a bad sink queue capacity', () => {
    const c = composeCollector(load(['sources.ticker.enabled=false']), [ticker, memory]);
    expect(c.sourceNames()).toEqual([]);
    const e = failure(() => composeCollector(load(['sinks.memory.queue_capacity=10']), [ticker, memory]));
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.message).toBe(
      'sinks.memory.queue_capacity = 10 must be at least max_batch_size (1000) (set by flag --set sinks.memory.queue_capacity=10)',
    );
  });

  it('refuse a bad key, a missing factory, a reserved field and two definitions with one key', () => {
    expect(
      failure(() => defineSource({ key: 'Bad Key', description: '', schema: {}, create: () => ({}) as never })).code,
    ).toBe('ERR_PLUGIN_INVALID');
    expect(
      failure(() =>
        defineSink({
          key: 'x',
          description: '',
          schema: { overflow: field('string', 'a', 'mine') },
          create: () => ({}) as never,
        }),
      ).message,
    ).toBe('sink definition "x" declares "overflow", which every sink section already has');
    expect(failure(() => pluginSchema([ticker, ticker])).message).toBe('two source definitions share the key "ticker"');
  });

  it('a source resolving its health check with degraded makes the collector Degraded with the reason', async () => {
    const c = composeCollector(
      load(['sources.ticker.mode=slow', 'sources.ticker.count=0', 'health_check_interval=20ms']),
      [ticker, memory],
    );
    const run = c.run();
    await waitFor(() => c.health().status === 'Degraded', 'Degraded');
    expect(c.health().sources[0]).toMatchObject({ status: 'Degraded', state: 'running', reason: 'slow mode' });
    expect(c.health().reasons).toEqual(['source ticker: slow mode']);
    await c.shutdown();
    await run;
  });
});

describe('top-level table[] fields of a definition', () => {
  const received: unknown[] = [];
  const rules = defineProcessor({
    key: 'rules',
    description: 'Reads [[rules]] from the top level',
    schema: { strict: field('boolean', false, 'Strict') },
    topLevel: { rules: field('table[]', [], 'Rules ([[rules]])') },
    create: (o, { originOf }) => {
      received.push({ options: o, origin: originOf('rules') });
      return { name: () => 'rules', process: () => {} };
    },
  });
  const files: Record<string, string> = {
    '/sys.toml': '[[rules]]\nid = "a"\nn = 1\n[[rules]]\nid = "b"\nwhen = 1979-05-27T07:32:00Z\n',
    '/user.toml': '[processors.rules]\nstrict = true\n[[rules]]\nid = "c"\nnested = { deep = [1, 2] }\n',
    '/bad.toml': 'rules = ["not", "tables"]\n',
  };
  const loadFiles = (systemFile: string | null, userFile: string | null, env: Record<string, string> = {}) =>
    loadConfig({ schema: pluginSchema([rules]), systemFile, userFile, env, readFile: (f) => files[f] });

  it('hand the factory the tables of the highest layer that sets them, whole, with their origin', () => {
    received.length = 0;
    composeCollector(loadFiles('/sys.toml', null), [rules]);
    composeCollector(loadFiles('/sys.toml', '/user.toml'), [rules]);
    composeCollector(loadFiles('/sys.toml', '/user.toml', { DAEMONEYE_COLLECTOR_RULES: '[{"id":"d"}]' }), [rules]);
    composeCollector(loadFiles(null, null), [rules]);
    expect(received).toEqual([
      {
        options: {
          enabled: true,
          strict: false,
          rules: [
            { id: 'a', n: 1 },
            { id: 'b', when: '1979-05-27T07:32:00.000Z' },
          ],
        },
        origin: { layer: 'system', source: '/sys.toml' },
      },
      {
        options: { enabled: true, strict: true, rules: [{ id: 'c', nested: { deep: [1, 2] } }] },
        origin: { layer: 'user', source: '/user.toml' },
      },
      {
        options: { enabled: true, strict: true, rules: [{ id: 'd' }] },
        origin: { layer: 'env', source: 'DAEMONEYE_COLLECTOR_RULES' },
      },
      {
        options: { enabled: true, strict: false, rules: [] },
        origin: { layer: 'default', source: 'built-in default' },
      },
    ]);
  });

  it('refuse values that are not arrays of tables, naming the key and where it was set', () => {
    expect(failure(() => loadFiles('/bad.toml', null)).message).toBe(
      'rules = ["not","tables"] must be an array of tables ([[…]]) (set by system /bad.toml)',
    );
    expect(failure(() => loadFiles(null, null, { DAEMONEYE_COLLECTOR_RULES: 'id=d' })).message).toBe(
      'rules = "id=d" must be a JSON array of objects (set by env DAEMONEYE_COLLECTOR_RULES)',
    );
  });

  it('refuse a top-level name the collector uses, a field of the section, and one read by two definitions', () => {
    const def = (topLevel: ConfigSchema, key = 'x') =>
      defineProcessor({
        key,
        description: '',
        schema: { a: field('integer', 1, 'A') },
        topLevel,
        create: () => ({}) as never,
      });
    expect(failure(() => def({ max_batch_size: field('table[]', [], 'x') })).message).toBe(
      'processor definition "x" reads the top-level key "max_batch_size", which is a name the collector itself uses',
    );
    expect(failure(() => def({ sources: field('table[]', [], 'x') })).message).toBe(
      'processor definition "x" reads the top-level key "sources", which is a name the collector itself uses',
    );
    expect(failure(() => def({ a: field('table[]', [], 'x') })).message).toBe(
      'processor definition "x" reads the top-level key "a", which is also a field of its section',
    );
    expect(failure(() => pluginSchema([rules, def({ rules: field('table[]', [], 'x') }, 'other')])).message).toBe(
      'the top-level key "rules" is read by processor "other" and processor "rules"',
    );
  });
});

describe('error catalogs', () => {
  it('let a package declare its own codes, refusing a code another package owns', () => {
    const mine = defineErrorCatalog('@example/plugin', ['ERR_EXAMPLE_BROKEN']);
    const e = mine.error('ERR_EXAMPLE_BROKEN', 'it broke', { details: { part: 'a' } });
    expect(mine.is(e)).toBe(true);
    expect(mine.is(e, 'ERR_EXAMPLE_BROKEN')).toBe(true);
    expect(e).toMatchObject({ code: 'ERR_EXAMPLE_BROKEN', message: 'it broke', details: { part: 'a' } });
    expect(declaredErrorCodes().get('ERR_EXAMPLE_BROKEN')).toBe('@example/plugin');
    expect(failure(() => defineErrorCatalog('@example/other', ['ERR_CONFIG_INVALID'])).message).toBe(
      'error code ERR_CONFIG_INVALID of @example/other is already defined by @daemoneye/core',
    );
    expect(failure(() => defineErrorCatalog('@example/other', ['lowercase'])).code).toBe('ERR_ERROR_CATALOG');
    for (const code of ErrorCodes) expect(declaredErrorCodes().get(code)).toBe('@daemoneye/core');
  });
});
