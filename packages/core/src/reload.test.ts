import { afterEach, describe, expect, it } from 'vitest';
import { ev, sleep, waitFor } from './__test__/support.ts';
import type { Collector } from './collector.ts';
import { loadConfig } from './config-loader.ts';
import { field } from './config-schema.ts';
import { isCollectorError } from './errors.ts';
import { composeCollector, defineProcessor, defineSink, defineSource, pluginSchema } from './plugin.ts';
import { reloadCollector } from './reload.ts';
import type { EventSender } from './source.ts';

/** Every instance a factory made, in order, with what happened to it. */
interface Instance {
  readonly options: Record<string, unknown>;
  starts: number;
  stops: number;
  closes: number;
  readonly seqs: number[];
}
let made: Record<string, Instance[]> = {};
const track = (key: string, options: Record<string, unknown>): Instance => {
  const i: Instance = { options, starts: 0, stops: 0, closes: 0, seqs: [] };
  made[key] = [...(made[key] ?? []), i];
  return i;
};

/** A source sending one event every `every` ms until stopped; `label = "bad"` is refused by its factory. */
const counter = defineSource({
  key: 'counter',
  description: 'Counts',
  schema: {
    every: field('duration', 1, 'Between two events', { min: 1 }),
    label: field('string', 'a', 'A label'),
  },
  create: (o) => {
    if (o.label === 'bad') throw new Error('label "bad" is not allowed');
    const me = track('counter', o);
    let n = 0;
    return {
      name: () => 'counter',
      capabilities: () => 8,
      async start(tx: EventSender, signal: AbortSignal) {
        me.starts++;
        tx.ready();
        while (!signal.aborted) {
          await tx.send(ev(n++));
          await sleep(o.every);
        }
      },
      async stop() {
        me.stops++;
      },
      async healthCheck() {},
    };
  },
});

const quiet = defineSource({
  key: 'quiet',
  description: 'Sends nothing',
  schema: { x: field('integer', 1, 'Nothing') },
  create: (o) => {
    const me = track('quiet', o);
    return {
      name: () => 'quiet',
      capabilities: () => 1,
      async start(tx: EventSender, signal: AbortSignal) {
        me.starts++;
        tx.ready();
        await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
      },
      async stop() {
        me.stops++;
      },
      async healthCheck() {},
    };
  },
});

const noop = defineProcessor({
  key: 'noop',
  description: 'Looks at batches',
  schema: { y: field('integer', 1, 'Nothing') },
  create: (o) => {
    const me = track('noop', o);
    return {
      name: () => 'noop',
      process: () => {},
      async close() {
        me.closes++;
      },
    };
  },
});

const memory = defineSink({
  key: 'memory',
  description: 'Keeps sequence numbers',
  schema: { tag: field('string', 'one', 'A tag') },
  create: (o) => {
    const me = track('memory', o);
    return {
      name: () => 'memory',
      async write(batch) {
        await sleep(1);
        for (let i = 0; i < batch.length; i++) me.seqs.push(batch.records.seq(i));
      },
      async close() {
        me.closes++;
      },
    };
  },
});

const definitions = [counter, quiet, noop, memory];
const schema = pluginSchema(definitions);
const load = (...flags: string[]) =>
  loadConfig({
    schema,
    env: {},
    systemFile: null,
    userFile: null,
    flags: ['batch_timeout=5ms', 'shutdown_timeout=2s', 'startup_timeout=500ms', 'enable_telemetry=false', ...flags],
  });

let collector: Collector | undefined;
afterEach(async () => {
  await collector?.shutdown();
  collector = undefined;
  made = {};
});

async function started(...flags: string[]): Promise<{ c: Collector; run: Promise<unknown> }> {
  const c = composeCollector(load(...flags), definitions);
  collector = c;
  const run = c.run();
  await waitFor(() => c.readiness().ready, 'readiness');
  return { c, run };
}

const delivered = (): number[] => (made.memory ?? []).flatMap((i) => i.seqs);

describe('reloadCollector', () => {
  it('replaces only what changed, and loses no event across it', async () => {
    const { c, run } = await started();
    await waitFor(() => delivered().length >= 30, '30 events');
    const r1 = await reloadCollector(c, load('sinks.memory.tag=two'), definitions);
    expect(r1).toEqual({
      restarted: ['sinks.memory'],
      started: [],
      stopped: [],
      unchanged: ['sources.counter', 'sources.quiet', 'processors.noop'],
      needsRestart: [],
    });
    expect(made.memory?.map((m) => m.options.tag)).toEqual(['one', 'two']);
    expect(made.memory?.[0]?.closes).toBe(1);
    // The sources kept running: one instance each, started once, never stopped.
    expect(made.counter?.map((m) => [m.starts, m.stops])).toEqual([[1, 0]]);
    await waitFor(() => (made.memory?.[1]?.seqs.length ?? 0) >= 30, '30 events in the new sink');
    const r2 = await reloadCollector(c, load('sinks.memory.tag=two', 'sources.counter.every=2ms'), definitions);
    expect(r2.restarted).toEqual(['sources.counter']);
    expect(made.counter?.map((m) => [m.starts, m.stops])).toEqual([
      [1, 1],
      [1, 0],
    ]);
    expect(made.memory).toHaveLength(2);
    const before = delivered().length;
    await waitFor(() => delivered().length >= before + 20, 'events from the new source');
    await c.shutdown();
    await run;
    const seqs = delivered();
    const stats = c.stats();
    // Every accepted event reached a sink exactly once: contiguous numbers, none twice, none missing.
    expect(seqs.length).toBe(stats.events.accepted);
    expect(stats.events.dropped).toEqual({});
    const first = seqs[0] ?? 0;
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => first + i));
    expect(made.memory?.map((m) => m.closes)).toEqual([1, 1]);
  });

  it('refuses an invalid configuration with its reason and keeps the old one running', async () => {
    const { c } = await started();
    const refusal = (e: unknown) => (isCollectorError(e, 'ERR_CONFIG_INVALID') ? e.message : `unexpected: ${e}`);
    const bad1 = await reloadCollector(c, load('max_batch_size=20000'), definitions).catch(refusal);
    expect(bad1).toMatch(/max_batch_size/);
    const bad2 = await reloadCollector(c, load('sources.counter.label=bad', 'sinks.memory.tag=x'), definitions).catch(
      refusal,
    );
    expect(bad2).toBe('sources.counter: label "bad" is not allowed');
    // Nothing was replaced, not even the valid part of the refused configuration.
    expect(made.memory).toHaveLength(1);
    expect(made.counter).toHaveLength(1);
    const n = delivered().length;
    await waitFor(() => delivered().length > n + 10, 'events still flowing');
    // The refused configuration was not remembered: the next reload compares with the running one.
    const ok = await reloadCollector(c, load(), definitions);
    expect(ok.restarted).toEqual([]);
  });

  it('starts newly enabled parts, stops disabled ones, and says which settings need a restart', async () => {
    const { c } = await started();
    const off = await reloadCollector(
      c,
      load('sources.quiet.enabled=false', 'processors.noop.enabled=false', 'event_buffer_size=20000'),
      definitions,
    );
    expect(off).toMatchObject({
      stopped: ['sources.quiet', 'processors.noop'],
      needsRestart: ['event_buffer_size'],
    });
    expect(c.sourceNames()).toEqual(['counter']);
    expect(made.quiet?.[0]?.stops).toBe(1);
    expect(made.noop?.[0]?.closes).toBe(1);
    expect(c.stats().processors).toEqual([]);
    const on = await reloadCollector(c, load(), definitions);
    expect(on).toMatchObject({ started: ['sources.quiet', 'processors.noop'], restarted: [] });
    await waitFor(() => made.quiet?.[1]?.starts === 1, 'the quiet source started again');
    await waitFor(() => (c.stats().processors[0]?.batches ?? 0) > 0, 'the processor sees batches again');
    expect(c.health().status).toBe('Healthy');
  });
});
