/**
 * The generated code against an independent implementation: protobufjs loads the same `.proto` files
 * at run time. Bytes the generated code writes decode in protobufjs to the same values, bytes
 * protobufjs writes decode in the generated code to the same message, and DaemonEye's messages keep
 * DaemonEye's field numbers.
 */
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { DetectionResult, DetectionTask, Envelope, EventBatch, PROTO_DIR, PROTO_FILES } from './index.ts';

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => `${PROTO_DIR}${target}`;
root.loadSync([...PROTO_FILES], { keepCase: false });
root.resolveAll();

const TO_OBJECT = { longs: Number, enums: Number, defaults: true, arrays: true, objects: true, oneofs: false } as const;

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const safe = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const ms = fc.integer({ min: 0, max: 4_102_444_800_000 });
const text = fc.string({ maxLength: 12 });
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
// A proto3 double without presence that holds -0 is not written by the generated code (it equals the
// default 0), so it reads back as 0; the two implementations agree on every other value.
const double = fc.double({ noNaN: true }).map((d) => (Object.is(d, -0) ? 0 : d));

const processEvent = fc.record({
  subtype: fc.constantFrom('snapshot', 'start', 'exec', 'exit'),
  pid: u32,
  ppid: opt(u32),
  name: text,
  executablePath: opt(text),
  commandLine: fc.array(text, { maxLength: 4 }),
  startTime: opt(ms),
  cpuUsage: opt(double),
  memoryUsage: opt(safe),
  executableHash: opt(text),
  hashAlgorithm: opt(text),
  userId: opt(text),
  userName: opt(text),
  accessible: fc.boolean(),
  fileExists: fc.boolean(),
  exitCode: opt(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
  threadCount: opt(u32),
  cwd: opt(text),
  cgroup: opt(text),
  containerId: opt(text),
  timestamp: ms,
  platformMetadata: fc.dictionary(
    fc.string({ minLength: 1, maxLength: 6 }),
    fc.oneof(
      fc.record({ kind: fc.record({ $case: fc.constant('stringValue' as const), value: text }) }),
      fc.record({ kind: fc.record({ $case: fc.constant('boolValue' as const), value: fc.boolean() }) }),
    ),
    { maxKeys: 3 },
  ),
});
const networkEvent = fc.record({
  connectionId: text,
  sourceAddr: text,
  destAddr: text,
  protocol: fc.constantFrom('tcp', 'udp'),
  state: text,
  pid: opt(u32),
  bytesSent: safe,
  bytesReceived: safe,
  timestamp: ms,
  subtype: opt(fc.constantFrom('open', 'close')),
  previousState: opt(text),
  family: opt(fc.constantFrom(4, 6)),
  uid: opt(u32),
  inode: opt(safe),
  listening: opt(fc.boolean()),
  processName: opt(text),
  pidUnknownReason: opt(text),
  retransmits: opt(safe),
  rttUs: opt(safe),
  peerInode: opt(safe),
});
const performanceEvent = fc.record({
  metricName: text,
  value: double,
  unit: text,
  pid: opt(u32),
  component: text,
  timestamp: ms,
  subtype: opt(text),
  instance: opt(text),
  processName: opt(text),
  threshold: opt(fc.record({ bound: fc.constantFrom('min', 'max'), limit: double, holdMs: ms })),
});
const triggerEvent = fc.record({
  triggerId: text,
  targetCollector: text,
  analysisType: text,
  priority: fc.constantFrom(0, 1, 2, 3) as fc.Arbitrary<0 | 1 | 2 | 3>,
  targetPid: opt(u32),
  targetPath: opt(text),
  correlationId: text,
  metadata: fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), text, { maxKeys: 3 }),
  timestamp: ms,
});
const record = fc.record({
  seq: safe,
  source: text,
  acceptedAt: ms,
  cause: opt(safe),
  depth: fc.integer({ min: 0, max: 16 }),
  event: fc.oneof(
    fc.record({ $case: fc.constant('process' as const), value: processEvent }),
    fc.record({ $case: fc.constant('network' as const), value: networkEvent }),
    fc.record({ $case: fc.constant('performance' as const), value: performanceEvent }),
    fc.record({ $case: fc.constant('triggerRequest' as const), value: triggerEvent }),
  ),
});
const batch = fc.record({
  host: fc.record({ hostname: text, machineId: opt(fc.stringMatching(/^[0-9a-f]{32}$/)) }),
  collector: text,
  runId: fc.uuid(),
  records: fc.array(record, { maxLength: 5 }),
  sentAt: ms,
});

describe('protobufjs and the generated code agree', () => {
  const BatchType = root.lookupType('daemoneye.v1.EventBatch');

  it('on every field of event batches, both ways', () => {
    fc.assert(
      fc.property(batch, (b) => {
        const message = EventBatch.fromPartial(b);
        const ours = EventBatch.encode(message).finish();
        const theirs = BatchType.decode(ours);
        // Bytes protobufjs writes from what it decoded decode to the message we started from.
        const back = EventBatch.decode(BatchType.encode(theirs).finish());
        expect(back).toEqual(message);
        // And protobufjs sees the same values, field by field, where we can read them side by side.
        const plain = BatchType.toObject(theirs, TO_OBJECT) as {
          runId: string;
          host: { hostname: string };
          records: { seq: number; source: string; process?: { pid: number; commandLine: string[] } }[];
        };
        expect(plain.runId).toBe(message.runId);
        expect(plain.host.hostname).toBe(message.host?.hostname);
        expect(plain.records.map((r) => r.seq)).toEqual(message.records.map((r) => r.seq));
        message.records.forEach((r, i) => {
          if (r.event?.$case === 'process') {
            expect(plain.records[i]?.process?.pid).toBe(r.event.value.pid);
            expect(plain.records[i]?.process?.commandLine).toEqual(r.event.value.commandLine);
          }
        });
      }),
      { numRuns: 200 },
    );
  });

  it('on an envelope that protobufjs writes', () => {
    const EnvelopeType = root.lookupType('daemoneye.v1.Envelope');
    const bytes = EnvelopeType.encode(
      EnvelopeType.fromObject({
        requestId: 7,
        detectionTask: {
          taskId: 't-1',
          taskType: 4,
          networkFilter: { protocols: ['tcp'], connectionStates: ['LISTEN'] },
        },
      }),
    ).finish();
    expect(Envelope.decode(bytes)).toEqual(
      Envelope.fromPartial({
        requestId: 7,
        body: {
          $case: 'detectionTask',
          value: { taskId: 't-1', taskType: 4, networkFilter: { protocols: ['tcp'], connectionStates: ['LISTEN'] } },
        },
      }),
    );
  });
});

/** DaemonEye's field numbers (ipc.proto and common.proto), message by message. */
const DAEMONEYE_FIELDS: Record<string, Record<string, number>> = {
  CollectionCapabilities: { supportedDomains: 1, advanced: 2 },
  AdvancedCapabilities: { kernelLevel: 1, realtime: 2, systemWide: 3 },
  DetectionTask: {
    taskId: 1,
    taskType: 2,
    processFilter: 3,
    hashCheck: 4,
    metadata: 5,
    networkFilter: 6,
    filesystemFilter: 7,
    performanceFilter: 8,
  },
  DetectionResult: {
    taskId: 1,
    success: 2,
    errorMessage: 3,
    processes: 4,
    hashResult: 5,
    networkEvents: 6,
    filesystemEvents: 7,
    performanceEvents: 8,
  },
  CapabilityRequest: { clientId: 1, requestedDomains: 2, clientVersion: 3 },
  CapabilityResponse: { negotiationSuccess: 1, capabilities: 2, errorMessage: 3, serverVersion: 4 },
  ProcessFilter: { processNames: 1, pids: 2, executablePattern: 3 },
  HashCheck: { expectedHash: 1, hashAlgorithm: 2, executablePath: 3 },
  HashResult: { hashValue: 1, algorithm: 2, filePath: 3, success: 4, errorMessage: 5 },
  ProcessRecord: {
    pid: 1,
    ppid: 2,
    name: 3,
    executablePath: 4,
    commandLine: 5,
    startTime: 6,
    cpuUsage: 7,
    memoryUsage: 8,
    executableHash: 9,
    hashAlgorithm: 10,
    userId: 11,
    accessible: 12,
    fileExists: 13,
    collectionTime: 14,
    ssdeepHash: 15,
    onDiskMismatch: 16,
    ssdeepDegraded: 17,
  },
  NetworkFilter: { protocols: 1, sourceAddresses: 2, destinationAddresses: 3, connectionStates: 4 },
  FilesystemFilter: { pathPatterns: 1, operationTypes: 2, fileExtensions: 3 },
  PerformanceFilter: { metricNames: 1, components: 2, minThresholds: 3, maxThresholds: 4 },
  NetworkRecord: {
    connectionId: 1,
    sourceAddress: 2,
    destinationAddress: 3,
    protocol: 4,
    state: 5,
    pid: 6,
    bytesSent: 7,
    bytesReceived: 8,
    collectionTime: 9,
  },
  FilesystemRecord: {
    operationId: 1,
    path: 2,
    operationType: 3,
    pid: 4,
    fileSize: 5,
    permissions: 6,
    fileHash: 7,
    collectionTime: 8,
  },
  PerformanceRecord: { metricId: 1, metricName: 2, value: 3, unit: 4, pid: 5, component: 6, collectionTime: 7 },
};

describe("DaemonEye's messages", () => {
  it.each(Object.entries(DAEMONEYE_FIELDS))('%s keeps its field numbers and adds none', (name, fields) => {
    const type = root.lookupType(name);
    const actual = Object.fromEntries(Object.entries(type.fields).map(([k, f]) => [k, f.id]));
    expect(actual).toEqual(fields);
  });

  it('keeps the enum values', () => {
    expect(root.lookupEnum('MonitoringDomain').values).toEqual({
      PROCESS: 0,
      NETWORK: 1,
      FILESYSTEM: 2,
      PERFORMANCE: 3,
    });
    expect(root.lookupEnum('TaskType').values).toEqual({
      ENUMERATE_PROCESSES: 0,
      CHECK_PROCESS_HASH: 1,
      MONITOR_PROCESS_TREE: 2,
      VERIFY_EXECUTABLE: 3,
      MONITOR_NETWORK_CONNECTIONS: 4,
      TRACK_FILE_OPERATIONS: 5,
      COLLECT_PERFORMANCE_METRICS: 6,
    });
  });

  it('travel bare: a DetectionTask from protobufjs decodes, a DetectionResult we write decodes there', () => {
    const TaskType = root.lookupType('DetectionTask');
    const task = DetectionTask.decode(
      TaskType.encode(TaskType.fromObject({ taskId: 'a', taskType: 0, processFilter: { pids: [1, 2] } })).finish(),
    );
    expect(task.processFilter?.pids).toEqual([1, 2]);
    const ResultType = root.lookupType('DetectionResult');
    const result = ResultType.toObject(
      ResultType.decode(
        DetectionResult.encode(
          DetectionResult.fromPartial({
            taskId: 'a',
            success: true,
            processes: [{ pid: 1, name: 'init', collectionTime: 5 }],
          }),
        ).finish(),
      ),
      TO_OBJECT,
    ) as { taskId: string; success: boolean; processes: { pid: number; name: string; collectionTime: number }[] };
    expect(result.taskId).toBe('a');
    expect(result.success).toBe(true);
    expect(result.processes[0]).toMatchObject({ pid: 1, name: 'init', collectionTime: 5 });
  });
});
