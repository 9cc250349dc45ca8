/**
 * The shared event mapping: any domain event with its record survives encodeEventBatch →
 * decodeEventBatch unchanged, the bytes are exactly the generated encoder's for the same message, and
 * protobufjs (loading the `.proto` files at run time) reads and rewrites them into bytes that decode to
 * the same events.
 */
import type { CollectionEvent, EventRecord as RecordOfEvent } from '@daemoneye/core';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import {
  decodeEventBatch,
  EventBatch,
  EventRecord,
  encodeEventBatch,
  eventToWire,
  PROTO_DIR,
  PROTO_FILES,
  WireEventError,
  wireToEvent,
} from './index.ts';

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => `${PROTO_DIR}${target}`;
root.loadSync([...PROTO_FILES], { keepCase: false });
root.resolveAll();
const BatchType = root.lookupType('daemoneye.v1.EventBatch');

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const safe = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const ms = fc.integer({ min: 0, max: 4_102_444_800_000 });
const text = fc.string({ maxLength: 10 });
// proto3 leaves a double of 0 out of the bytes, so -0 decodes as 0 (the generated encoder's rule, not the mapping's).
const num = fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (x === 0 ? 0 : x));

/** A record arbitrary whose keys outside `required` may be absent (never present as undefined). */
function event<T extends Record<string, unknown>>(
  model: { [K in keyof T]: fc.Arbitrary<T[K]> },
  required: (keyof T)[],
) {
  return fc.record(model, {
    requiredKeys: required,
    noNullPrototype: true,
  }) as unknown as fc.Arbitrary<CollectionEvent>;
}

const process = event(
  {
    kind: fc.constant('process'),
    subtype: fc.constantFrom('snapshot', 'start', 'exec', 'exit'),
    pid: u32,
    ppid: u32,
    name: text,
    executablePath: text,
    commandLine: fc.array(text, { maxLength: 4 }),
    startTime: ms,
    cpuUsage: num,
    memoryUsage: safe,
    executableHash: text,
    hashAlgorithm: fc.constant('sha256'),
    userId: text,
    userName: text,
    accessible: fc.boolean(),
    fileExists: fc.boolean(),
    exitCode: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    threadCount: u32,
    cwd: text,
    cgroup: text,
    containerId: text,
    timestamp: ms,
    platformMetadata: fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.oneof(text, fc.boolean(), num), {
      minKeys: 1,
      maxKeys: 3,
      noNullPrototype: true,
    }),
  },
  ['kind', 'subtype', 'pid', 'name', 'commandLine', 'accessible', 'fileExists', 'timestamp'],
);
const network = event(
  {
    kind: fc.constant('network'),
    connectionId: text,
    sourceAddr: text,
    destAddr: text,
    protocol: fc.constantFrom('tcp', 'udp'),
    state: text,
    pid: u32,
    bytesSent: safe,
    bytesReceived: safe,
    timestamp: ms,
    subtype: fc.constantFrom('open', 'close'),
    previousState: text,
    family: fc.constantFrom(4, 6),
    uid: u32,
    inode: safe,
    listening: fc.boolean(),
    processName: text,
    pidUnknownReason: fc.constantFrom('short_lived', 'permission'),
    retransmits: u32,
    rttUs: u32,
    peerInode: safe,
  },
  ['kind', 'connectionId', 'sourceAddr', 'destAddr', 'protocol', 'state', 'bytesSent', 'bytesReceived', 'timestamp'],
);
const filesystem = event(
  {
    kind: fc.constant('filesystem'),
    path: text,
    operation: fc.constantFrom('create', 'modify', 'delete'),
    pid: u32,
    size: safe,
    permissions: text,
    fileHash: text,
    timestamp: ms,
  },
  ['kind', 'path', 'operation', 'timestamp'],
);
const performance = event(
  {
    kind: fc.constant('performance'),
    metricName: text,
    value: num,
    unit: text,
    pid: u32,
    component: text,
    timestamp: ms,
    subtype: fc.constantFrom('sample', 'threshold'),
    instance: text,
    processName: text,
    threshold: fc.record({ bound: fc.constantFrom('min', 'max'), limit: num, holdMs: ms }, { noNullPrototype: true }),
  },
  ['kind', 'metricName', 'value', 'unit', 'component', 'timestamp'],
);
const trigger = event(
  {
    kind: fc.constant('trigger_request'),
    triggerId: text,
    targetCollector: text,
    analysisType: fc.constantFrom('binary_hash', 'memory_scan'),
    priority: fc.constantFrom(0, 1, 2, 3),
    targetPid: u32,
    targetPath: text,
    correlationId: text,
    metadata: fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), text, { maxKeys: 3, noNullPrototype: true }),
    timestamp: ms,
  },
  ['kind', 'triggerId', 'targetCollector', 'analysisType', 'priority', 'correlationId', 'metadata', 'timestamp'],
);
const analysis = event(
  {
    kind: fc.constant('analysis_result'),
    analysisType: fc.constantFrom('binary_hash', 'memory_scan'),
    triggerId: text,
    correlationId: text,
    workflowId: text,
    stageId: text,
    success: fc.boolean(),
    data: fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.oneof(text, fc.boolean(), safe), {
      noNullPrototype: true,
    }),
    error: text,
    timestamp: ms,
  },
  ['kind', 'analysisType', 'success', 'data', 'timestamp'],
);

const runId = '3f0c8a52-7d4e-4b1a-9c61-0a2b3c4d5e6f';
const item = fc
  .record({
    seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    source: text,
    acceptedAt: ms,
    cause: fc.option(safe, { nil: undefined }),
    depth: fc.integer({ min: 0, max: 16 }),
    event: fc.oneof(process, network, filesystem, performance, trigger, analysis),
  })
  .map(({ cause, event, ...r }) => ({
    record: (cause === undefined ? { ...r, runId } : { ...r, runId, cause }) as RecordOfEvent,
    event,
  }));
const host = fc.record(
  { hostname: text, machineId: fc.stringMatching(/^[0-9a-f]{32}$/) },
  { requiredKeys: ['hostname'], noNullPrototype: true },
);

describe('the shared event mapping', () => {
  it('round-trips every kind and record, with the generated encoder’s bytes, and protobufjs agrees', () => {
    fc.assert(
      fc.property(host, fc.array(item, { maxLength: 6 }), ms, (h, events, sentAt) => {
        const bytes = encodeEventBatch(h, 'daemoneye-collector', runId, events, sentAt);
        const generated = EventBatch.encode({
          host: { hostname: h.hostname, machineId: h.machineId },
          collector: 'daemoneye-collector',
          runId,
          records: events.map(({ record: r, event: e }) => ({
            seq: r.seq,
            source: r.source,
            acceptedAt: r.acceptedAt,
            cause: r.cause,
            depth: r.depth,
            event: eventToWire(e),
          })),
          sentAt,
        }).finish();
        expect(Buffer.from(bytes).equals(Buffer.from(generated))).toBe(true);
        const back = decodeEventBatch(bytes);
        expect(back).toStrictEqual({ host: h, collector: 'daemoneye-collector', runId, sentAt, events });
        // protobufjs reads the bytes and writes them again; what it writes decodes to the same events.
        const theirs = BatchType.encode(BatchType.decode(bytes)).finish();
        expect(decodeEventBatch(theirs).events).toStrictEqual(events);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects a record without an event and analysis data that is not a JSON object', () => {
    expect(() => wireToEvent(EventRecord.fromPartial({ seq: 7 }))).toThrow(WireEventError);
    for (const dataJson of ['{', '[1]', '3']) {
      const r = EventRecord.fromPartial({
        seq: 9,
        event: { $case: 'analysisResult', value: { analysisType: 'binary_hash', dataJson, timestamp: 1 } },
      });
      expect(() => wireToEvent(r)).toThrow(WireEventError);
    }
    const bytes = EventBatch.encode(
      EventBatch.fromPartial({ runId, records: [{ seq: 3, source: 'process' }] }),
    ).finish();
    expect(() => decodeEventBatch(bytes)).toThrow(/record 3 carries no event/);
  });
});
