import { describe, expect, it } from 'vitest';
import { CollectorError, describeError, isCollectorError } from './errors.ts';
import { CollectionEvent, EVENT_KINDS, MAX_TRIGGER_METADATA, TriggerPriority } from './event.ts';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('CollectionEvent constructors', () => {
  it('builds a process event with defaults and the refined event type', () => {
    const e = CollectionEvent.process({
      subtype: 'exec',
      pid: 4242,
      ppid: 1,
      name: 'nc',
      executablePath: '/usr/bin/nc',
      commandLine: ['nc', '-l', '4444'],
      accessible: true,
      fileExists: true,
      memoryUsage: 3 * 1024 * 1024,
      timestamp: 1_700_000_000_000,
    });
    expect(e.kind).toBe('process');
    expect(CollectionEvent.eventType(e)).toBe('process.exec');
    expect(CollectionEvent.pid(e)).toBe(4242);
    expect(CollectionEvent.timestamp(e)).toBe(1_700_000_000_000);
    expect(e.memoryUsage).toBe(3_145_728);
    expect(CollectionEvent.isEvent(e)).toBe(true);

    const d = CollectionEvent.process({ pid: 7, name: 'init', accessible: false, fileExists: false });
    expect(d.subtype).toBe('snapshot');
    expect(d.commandLine).toEqual([]);
    expect(CollectionEvent.eventType(d)).toBe('process.snapshot');
  });

  it('defaults the timestamp to now', () => {
    const before = Date.now();
    const e = CollectionEvent.performance({ metricName: 'cpu', value: 12.5, unit: '%', component: 'host' });
    const after = Date.now();
    expect(e.timestamp).toBeGreaterThanOrEqual(before);
    expect(e.timestamp).toBeLessThanOrEqual(after);
    expect(CollectionEvent.eventType(e)).toBe('performance');
    expect(CollectionEvent.pid(e)).toBeUndefined();
  });

  it('carries the network fields sources add, beside the seed set', () => {
    const e = CollectionEvent.network({
      connectionId: 'tcp6 [::1]:80 [::1]:5000 i7',
      sourceAddr: '[::1]:80',
      destAddr: '[::1]:5000',
      protocol: 'tcp',
      state: 'ESTABLISHED',
      previousState: 'SYN_RECV',
      subtype: 'state_change',
      family: 6,
      uid: 1000,
      inode: 7,
      listening: false,
      pidUnknownReason: 'not_found',
      retransmits: 3,
      rttUs: 41,
      bytesSent: 0,
      bytesReceived: 0,
      timestamp: 9,
    });
    expect(e).toMatchObject({ kind: 'network', subtype: 'state_change', previousState: 'SYN_RECV', family: 6 });
    expect(CollectionEvent.pid(e)).toBeUndefined();
    expect(CollectionEvent.isEvent(e)).toBe(true);
  });

  it('carries threshold details on performance events', () => {
    const e = CollectionEvent.performance({
      metricName: 'cpu.usage',
      value: 97,
      unit: 'percent',
      component: 'cpu',
      subtype: 'threshold_crossed',
      instance: 'cpu1',
      threshold: { bound: 'max', limit: 90, holdMs: 5000 },
      timestamp: 3,
    });
    expect(e.threshold).toEqual({ bound: 'max', limit: 90, holdMs: 5000 });
    expect(e).toMatchObject({ kind: 'performance', subtype: 'threshold_crossed', instance: 'cpu1', timestamp: 3 });
  });

  it('gives every other kind its type name and pid', () => {
    const net = CollectionEvent.network({
      connectionId: 'c1',
      sourceAddr: '10.0.0.1:5000',
      destAddr: '[::1]:443',
      protocol: 'tcp',
      state: 'ESTABLISHED',
      pid: 9,
      bytesSent: 1,
      bytesReceived: 2,
      timestamp: 5,
    });
    expect(CollectionEvent.eventType(net)).toBe('network');
    expect(CollectionEvent.pid(net)).toBe(9);
    const fsEv = CollectionEvent.filesystem({ path: '/etc/passwd', operation: 'modify', pid: 10, timestamp: 6 });
    expect(CollectionEvent.eventType(fsEv)).toBe('filesystem');
    expect(CollectionEvent.pid(fsEv)).toBe(10);
    const tr = CollectionEvent.triggerRequest({
      triggerId: 't1',
      targetCollector: 'hasher',
      analysisType: 'BinaryHash',
      priority: TriggerPriority.High,
      targetPid: 77,
      correlationId: 'x',
      timestamp: 7,
    });
    expect(tr.metadata).toEqual({});
    expect(CollectionEvent.eventType(tr)).toBe('trigger_request');
    expect(CollectionEvent.pid(tr)).toBe(77);
    const ar = CollectionEvent.analysisResult({ analysisType: 'BinaryHash', success: true, timestamp: 8 });
    expect(ar.data).toEqual({});
    expect(CollectionEvent.eventType(ar)).toBe('analysis_result');
    expect(CollectionEvent.pid(ar)).toBeUndefined();
    expect(EVENT_KINDS).toEqual([
      'process',
      'network',
      'filesystem',
      'performance',
      'trigger_request',
      'analysis_result',
    ]);
  });

  it('isEvent needs a known kind and a numeric timestamp', () => {
    expect(CollectionEvent.isEvent({ kind: 'process', timestamp: 1 })).toBe(true);
    expect(CollectionEvent.isEvent({ kind: 'bogus', timestamp: 1 })).toBe(false);
    expect(CollectionEvent.isEvent({ kind: 'process', timestamp: '1' })).toBe(false);
    expect(CollectionEvent.isEvent(null)).toBe(false);
    expect(CollectionEvent.isEvent('process')).toBe(false);
  });
});

describe('triggerRequest validation', () => {
  const base = {
    triggerId: 'trig-1',
    targetCollector: 'hasher',
    analysisType: 'BinaryHash' as const,
    priority: TriggerPriority.Normal,
    correlationId: 'corr',
  };

  it('accepts a path-only target', () => {
    expect(CollectionEvent.triggerRequest({ ...base, targetPath: '/tmp/x' }).targetPath).toBe('/tmp/x');
  });

  it('rejects a request with no target', () => {
    const e = thrown(() => CollectionEvent.triggerRequest(base));
    expect(isCollectorError(e, 'ERR_EVENT_INVALID')).toBe(true);
    expect((e as Error).message).toBe('trigger request trig-1 has neither a target pid nor a path');
    expect(
      isCollectorError(
        thrown(() => CollectionEvent.triggerRequest({ ...base, targetPath: '' })),
        'ERR_EVENT_INVALID',
      ),
    ).toBe(true);
  });

  it('accepts 100 metadata entries and rejects 101', () => {
    const meta = (n: number): Record<string, string> =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, `v${i}`]));
    expect(MAX_TRIGGER_METADATA).toBe(100);
    expect(
      Object.keys(CollectionEvent.triggerRequest({ ...base, targetPid: 1, metadata: meta(100) }).metadata),
    ).toHaveLength(100);
    const e = thrown(() => CollectionEvent.triggerRequest({ ...base, targetPid: 1, metadata: meta(101) }));
    expect(isCollectorError(e, 'ERR_EVENT_INVALID')).toBe(true);
    expect((e as Error).message).toBe('trigger request trig-1 carries 101 metadata entries, more than 100');
  });
});

describe('errors', () => {
  it('isCollectorError matches by brand and code', () => {
    const e = new CollectorError('ERR_SOURCE_LIMIT', 'too many', { details: { limit: 2 } });
    expect(isCollectorError(e)).toBe(true);
    expect(isCollectorError(e, 'ERR_SOURCE_LIMIT')).toBe(true);
    expect(isCollectorError(e, 'ERR_SOURCE_DUPLICATE')).toBe(false);
    expect(e.details).toEqual({ limit: 2 });
    expect(e.name).toBe('CollectorError');
    expect(e).toBeInstanceOf(Error);
  });

  it('a plain object with the same code is not a collector error', () => {
    const fake = { code: 'ERR_SOURCE_LIMIT', message: 'too many', name: 'CollectorError' };
    expect(isCollectorError(fake)).toBe(false);
    expect(isCollectorError(fake, 'ERR_SOURCE_LIMIT')).toBe(false);
    const plain = Object.assign(new Error('x'), { code: 'ERR_SOURCE_LIMIT' });
    expect(isCollectorError(plain, 'ERR_SOURCE_LIMIT')).toBe(false);
    expect(isCollectorError(null)).toBe(false);
    expect(isCollectorError('ERR_SOURCE_LIMIT')).toBe(false);
  });

  it('recognises an error branded by another copy of the package', () => {
    const other = Object.defineProperty(
      Object.assign(new Error('dup'), { code: 'ERR_SOURCE_DUPLICATE' }),
      Symbol.for('@daemoneye/core/CollectorError'),
      {
        value: true,
      },
    );
    expect(isCollectorError(other, 'ERR_SOURCE_DUPLICATE')).toBe(true);
  });

  it('keeps the cause and describes errors on one line', () => {
    const cause = new TypeError('bad');
    const e = new CollectorError('ERR_CONFIG_PARSE', 'cannot parse', { cause });
    expect(e.cause).toBe(cause);
    expect(describeError(e)).toBe('ERR_CONFIG_PARSE: cannot parse');
    expect(describeError(cause)).toBe('TypeError: bad');
    expect(describeError('plain')).toBe('plain');
    expect(new CollectorError('ERR_CLI_USAGE', 'x').details).toEqual({});
  });
});

describe('event constructors build the same object as a spread', () => {
  it('keeps the fields of the input in order, then the filled ones, and an own __proto__ stays a field', () => {
    const data = { pid: 7, name: 'sh', subtype: 'exec' as const, accessible: true, fileExists: true, timestamp: 5 };
    const e = CollectionEvent.process(data);
    expect(Object.keys(e)).toEqual([
      'pid',
      'name',
      'subtype',
      'accessible',
      'fileExists',
      'timestamp',
      'kind',
      'commandLine',
    ]);
    expect(e).toStrictEqual({ ...data, kind: 'process', subtype: 'exec', commandLine: [], timestamp: 5 });
    expect(Object.getPrototypeOf(e)).toBe(Object.prototype);
    const hostile = JSON.parse(
      '{"pid": 1, "name": "x", "accessible": true, "fileExists": true, "__proto__": {"polluted": 1}}',
    );
    const h = CollectionEvent.process(hostile) as unknown as Record<string, unknown>;
    expect(Object.getPrototypeOf(h)).toBe(Object.prototype);
    expect(h.polluted).toBeUndefined();
    expect(Object.hasOwn(h, '__proto__')).toBe(true);
  });
});
