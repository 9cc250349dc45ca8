import { batchOf, CollectionEvent, Collector, isCollectorError, TriggerPriority } from '@daemoneye/core';
import { createTestConfig, MockEventSource } from '@daemoneye/core/testing';
import { describe, expect, it } from 'vitest';
import { EventBus } from './event-bus.ts';
import { compileTopicPattern, topicOf } from './topic.ts';

const proc = (pid: number, subtype: 'exec' | 'exit' | 'snapshot' = 'exec', name = 'sh') =>
  CollectionEvent.process({ pid, subtype, name, accessible: true, fileExists: true, timestamp: 1 });
const net = CollectionEvent.network({
  connectionId: 'c1',
  sourceAddr: '10.0.0.1:4000',
  destAddr: '10.0.0.2:443',
  protocol: 'tcp',
  state: 'ESTABLISHED',
  pid: 7,
  bytesSent: 0,
  bytesReceived: 0,
  timestamp: 1,
});
const trigger = (priority: TriggerPriority, correlationId = 'c-1', metadata: Record<string, string> = {}) =>
  CollectionEvent.triggerRequest({
    triggerId: 't',
    targetCollector: 'binary-hasher',
    analysisType: 'BinaryHash',
    priority,
    targetPid: 9,
    correlationId,
    metadata,
    timestamp: 1,
  });

describe('topics', () => {
  it('names every kind of event', () => {
    expect(topicOf(proc(1, 'exec'))).toBe('events.process.exec');
    expect(topicOf(net)).toBe('events.network.established');
    expect(topicOf(CollectionEvent.filesystem({ path: '/x', operation: 'create', timestamp: 1 }))).toBe(
      'events.filesystem.create',
    );
    expect(
      topicOf(CollectionEvent.performance({ metricName: 'load1', value: 1, unit: '', component: 'cpu', timestamp: 1 })),
    ).toBe('events.performance.cpu');
    expect(topicOf(trigger(TriggerPriority.Low))).toBe('control.trigger.request');
    expect(topicOf(CollectionEvent.analysisResult({ analysisType: 'BinaryHash', success: true }))).toBe(
      'events.analysis.result',
    );
  });

  const table: [string, string, boolean][] = [
    ['events.process.exec', 'events.process.exec', true],
    ['events.process.exec', 'events.process.exit', false],
    ['events.process.+', 'events.process.exec', true],
    ['events.process.+', 'events.process', false],
    ['events.process.+', 'events.process.exec.extra', false],
    ['events.+.exec', 'events.process.exec', true],
    ['+.+.+', 'control.trigger.request', true],
    ['+', 'events', true],
    ['+', 'events.process', false],
    ['events.#', 'events.process.exec', true],
    ['events.#', 'events.process', true],
    ['events.#', 'events', false],
    ['#', 'events', true],
    ['#', 'control.trigger.request', true],
    ['events.+.#', 'events.process.exec', true],
    ['events.+.#', 'events.process', false],
    ['control.#', 'events.process.exec', false],
    ['events.process', 'events.process.exec', false],
  ];
  it.each(table)('pattern %s on topic %s is %s', (pattern, topic, expected) => {
    expect(compileTopicPattern(pattern).matches(topic)).toBe(expected);
  });

  it.each([
    ['', 'must be a non-empty string'],
    ['events..exec', 'segment 2 of topic pattern "events..exec" is empty'],
    ['events.#.exec', 'segment 2 of topic pattern "events.#.exec": "#" must be the last segment'],
    ['events.pro+', 'a wildcard must be a whole segment, got "pro+"'],
    ['events.proc ess', '"proc ess" may hold only letters, digits'],
  ])('refuses the pattern %j', (pattern, message) => {
    expect(() => compileTopicPattern(pattern)).toThrow(message);
    try {
      compileTopicPattern(pattern);
    } catch (e) {
      expect(isCollectorError(e, 'ERR_BUS_TOPIC_INVALID')).toBe(true);
    }
  });
});

describe('filters', () => {
  const events = [proc(1), proc(2, 'exit'), net, trigger(TriggerPriority.Low), trigger(TriggerPriority.High, 'c-2')];
  const run = (sub: Parameters<EventBus['subscribe']>[0]) => {
    const bus = new EventBus();
    const q = bus.subscribe(sub);
    bus.process(batchOf(events, { source: 'process' }));
    return q.take();
  };

  it('by kind', () => {
    expect(run({ subscriberId: 'a', filter: { kinds: ['network'] } }).map((d) => d.event)).toEqual([net]);
  });
  it('by pid (trigger requests by their target pid)', () => {
    expect(run({ subscriberId: 'a', filter: { pids: [2, 9] } }).map((d) => d.event)).toEqual([
      events[1],
      events[3],
      events[4],
    ]);
  });
  it('by minimum priority', () => {
    expect(run({ subscriberId: 'a', filter: { minPriority: TriggerPriority.Normal } }).map((d) => d.event)).toEqual([
      events[4],
    ]);
  });
  it('by field equality', () => {
    expect(run({ subscriberId: 'a', filter: { fields: { subtype: 'exit', pid: 2 } } }).map((d) => d.event)).toEqual([
      events[1],
    ]);
  });
  it('by source name', () => {
    expect(run({ subscriberId: 'a', filter: { sourceNames: ['network'] } })).toEqual([]);
    expect(run({ subscriberId: 'a', filter: { sourceNames: ['process'] } })).toHaveLength(5);
  });
  it('by topic pattern and filter together, with the record number', () => {
    const got = run({ subscriberId: 'a', topics: ['events.process.+'], filter: { pids: [2] } });
    expect(got).toEqual([{ topic: 'events.process.exit', event: events[1], seq: 2, source: 'process' }]);
  });
  it('by correlation id, parent, root, stage and tags', () => {
    const bus = new EventBus();
    const tagged = trigger(TriggerPriority.Normal, 'c-3', {
      parent_id: 'p-1',
      root_id: 'w-1',
      workflow_stage: 'hash',
      tags: 'chain, urgent',
    });
    const result = CollectionEvent.analysisResult({
      analysisType: 'BinaryHash',
      success: true,
      correlationId: 'c-4',
      workflowId: 'w-1',
      stageId: 'yara',
      data: { tags: ['chain'] },
    });
    const qs = {
      id: bus.subscribe({ subscriberId: 'id', correlationFilter: { correlationId: 'c-3' } }),
      parent: bus.subscribe({ subscriberId: 'parent', correlationFilter: { parentId: 'p-1' } }),
      root: bus.subscribe({ subscriberId: 'root', correlationFilter: { rootId: 'w-1' } }),
      stage: bus.subscribe({ subscriberId: 'stage', correlationFilter: { workflowStage: 'yara' } }),
      tags: bus.subscribe({ subscriberId: 'tags', correlationFilter: { requiredTags: ['chain', 'urgent'] } }),
      tag: bus.subscribe({ subscriberId: 'tag', correlationFilter: { requiredTags: ['chain'] } }),
    };
    bus.process(batchOf([proc(1), tagged, result]));
    const ids = (q: (typeof qs)['id']) => q.take().map((d) => d.event);
    expect(ids(qs.id)).toEqual([tagged]);
    expect(ids(qs.parent)).toEqual([tagged]);
    expect(ids(qs.root)).toEqual([tagged, result]);
    expect(ids(qs.stage)).toEqual([result]);
    expect(ids(qs.tags)).toEqual([tagged]);
    expect(ids(qs.tag)).toEqual([tagged, result]);
  });
  it('refuses bad filters and duplicates with typed errors', () => {
    const bus = new EventBus();
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return isCollectorError(e) ? e.code : 'untyped';
      }
      return 'none';
    };
    expect(codeOf(() => bus.subscribe({ subscriberId: 'x', filter: { kinds: ['proc' as never] } }))).toBe(
      'ERR_BUS_SUBSCRIPTION_INVALID',
    );
    expect(codeOf(() => bus.subscribe({ subscriberId: 'x', filter: { minPriority: 7 as never } }))).toBe(
      'ERR_BUS_SUBSCRIPTION_INVALID',
    );
    expect(codeOf(() => bus.subscribe({ subscriberId: 'x', capacity: 0 }))).toBe('ERR_BUS_SUBSCRIPTION_INVALID');
    expect(codeOf(() => bus.subscribe({ subscriberId: 'x', topics: ['a.#.b'] }))).toBe('ERR_BUS_TOPIC_INVALID');
    bus.subscribe({ subscriberId: 'x' });
    expect(codeOf(() => bus.subscribe({ subscriberId: 'x' }))).toBe('ERR_BUS_SUBSCRIBER_DUPLICATE');
  });
});

describe('bounded subscriber queues', () => {
  it('a subscriber that never reads stays within its bound while another receives everything', async () => {
    const bus = new EventBus();
    const ctl = new AbortController();
    bus.subscribe({ subscriberId: 'stuck', capacity: 100 });
    const reader = bus.subscribe({ subscriberId: 'reader', capacity: 100, signal: ctl.signal });
    const seen: number[] = [];
    const reading = (async () => {
      for await (const d of reader) seen.push(d.seq);
    })();
    for (let b = 0; b < 100; b++) {
      bus.process(
        batchOf(
          Array.from({ length: 50 }, (_, i) => proc(i)),
          { firstSeq: b * 50 + 1 },
        ),
      );
      await new Promise((r) => setImmediate(r));
    }
    ctl.abort();
    await reading;
    expect(seen).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
    const [s, r] = bus.stats().subscribers;
    expect(s).toMatchObject({ subscriberId: 'stuck', matched: 5000, consumed: 0, depth: 100, highWater: 100 });
    expect(s?.dropped).toEqual({ queue_full: 4900 });
    expect(r).toMatchObject({ subscriberId: 'reader', matched: 5000, consumed: 5000, depth: 0, closed: true });
    expect(bus.stats()).toMatchObject({ published: 5000, deliveries: 10_000, dropped: { queue_full: 4900 } });
    expect(bus.health()).toEqual({
      status: 'degraded',
      reason: '4900 deliveries dropped by full subscriber queues (stuck)',
    });
    expect(bus.health()).toEqual({ status: 'healthy' });
  });

  it('drop-oldest keeps the newest deliveries', () => {
    const bus = new EventBus();
    const q = bus.subscribe({ subscriberId: 'x', capacity: 3, overflow: 'drop-oldest' });
    bus.process(batchOf([1, 2, 3, 4, 5].map((p) => proc(p))));
    expect(q.take().map((d) => CollectionEvent.pid(d.event))).toEqual([3, 4, 5]);
    expect(q.stats()).toMatchObject({ matched: 5, consumed: 3, dropped: { queue_full_evicted: 2 } });
  });

  it('an iterator waiting for events ends when its signal aborts, and unread ones are counted', async () => {
    const bus = new EventBus();
    const ctl = new AbortController();
    const q = bus.subscribe({ subscriberId: 'x', signal: ctl.signal });
    const it = q[Symbol.asyncIterator]();
    const pending = it.next();
    bus.publish(proc(1));
    expect((await pending).value?.event).toEqual(proc(1));
    const waiting = it.next();
    ctl.abort();
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(bus.publish(proc(2))).toBe(0);
    expect(bus.stats().subscribers).toHaveLength(1);
    // The id is free again once the subscription ended.
    expect(() => bus.subscribe({ subscriberId: 'x' })).not.toThrow();
  });

  it('runs as a processor of a collector and sees every source event', async () => {
    const events = [proc(10), proc(11, 'exit'), net];
    const collector = new Collector(createTestConfig());
    const bus = new EventBus();
    const q = bus.subscribe({ subscriberId: 'procs', topics: ['events.process.#'] });
    collector.register(new MockEventSource({ events }));
    collector.addProcessor(bus);
    collector.addSink({ name: () => 'null', write: async () => {} });
    const ctl = new AbortController();
    const running = collector.run({ signal: ctl.signal });
    const got: number[] = [];
    for await (const d of q) {
      got.push(CollectionEvent.pid(d.event) ?? -1);
      if (got.length === 2) break;
    }
    ctl.abort();
    await running;
    expect(got).toEqual([10, 11]);
    expect(bus.stats().published).toBe(3);
  });
});
