import { describe, expect, it } from 'vitest';
import { ev, failure, readyUntilAborted, sleep, waitFor } from './__test__/support.ts';
import { loadConfig } from './config-loader.ts';
import { field } from './config-schema.ts';
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
