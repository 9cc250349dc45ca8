/**
 * The event model of `@daemoneye/core` ⇄ the event messages of this package: one mapping, used by
 * the IPC stream and the NATS forwarder alike, lossless for every field the model has (the analysis
 * result's `data` travels as JSON). Encoding writes each record straight into a caller's
 * `BinaryWriter`, so a whole batch is one writer and one `finish()`; every message object handed to
 * the generated encoder lists all its fields, so each kind has one shape and the encoder's property
 * reads stay fast. Decoding builds each domain event by assignment (no spreads, no deletes). It does
 * no I/O.
 */
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import type {
  AnalysisResultEvent,
  CollectionEvent,
  FilesystemEvent,
  HostIdentity,
  NetworkEvent,
  PerformanceEvent,
  PlatformMetadata,
  ProcessEvent,
  EventRecord as RecordOfEvent,
  TriggerRequestEvent,
} from '@daemoneye/core';
import {
  AnalysisResultEvent as AnalysisResultMessage,
  EventBatch,
  type EventRecord,
  FilesystemEvent as FilesystemMessage,
  HostIdentity as HostIdentityMessage,
  NetworkEvent as NetworkMessage,
  PerformanceEvent as PerformanceMessage,
  ProcessEvent as ProcessMessage,
  type ScalarValue,
  TriggerRequestEvent as TriggerRequestMessage,
} from './gen/events.ts';

/** The `oneof event` of an EventRecord message. */
type WireBody = NonNullable<EventRecord['event']>;

/** Data that is valid protobuf but not a well-formed event (a record without an event, bad analysis data). */
export class WireEventError extends Error {
  override readonly name = 'WireEventError';
  /** The sequence number of the record at fault. */
  readonly seq: number;
  constructor(seq: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.seq = seq;
  }
}

/** The record fields of an event as an EventRecord message carries them (the run id is the batch's). */
export interface WireRecordFields {
  readonly seq: number;
  readonly source: string;
  readonly acceptedAt: number;
  readonly cause?: number | undefined;
  readonly depth: number;
}

/** One event with its record, as an EventBatch carries it. */
export interface WireEvent {
  readonly record: RecordOfEvent;
  readonly event: CollectionEvent;
}

/** A decoded EventBatch: where it comes from, the collector and run, and its events in order. */
export interface DecodedEventBatch {
  readonly host: HostIdentity;
  readonly collector: string;
  readonly runId: string;
  /** When the batch was encoded, epoch ms (0 when the sender does not say). */
  readonly sentAt: number;
  readonly events: WireEvent[];
}

type Scalar = string | number | boolean;

function scalar(v: Scalar): ScalarValue {
  if (typeof v === 'string') return { kind: { $case: 'stringValue', value: v } };
  if (typeof v === 'number') return { kind: { $case: 'numberValue', value: v } };
  return { kind: { $case: 'boolValue', value: v } };
}

const NO_SCALARS: { [key: string]: ScalarValue } = Object.freeze({}) as { [key: string]: ScalarValue };
const NO_STRINGS: { [key: string]: string } = Object.freeze({}) as { [key: string]: string };

/** A map of scalars as the wire's `map<string, ScalarValue>`. */
export function scalarMapToWire(m: Readonly<Record<string, Scalar>> | undefined): { [key: string]: ScalarValue } {
  if (m === undefined) return NO_SCALARS;
  let out: { [key: string]: ScalarValue } | undefined;
  for (const k in m) {
    out ??= {};
    out[k] = scalar(m[k] as Scalar);
  }
  return out ?? NO_SCALARS;
}

/** The wire's `map<string, ScalarValue>` as a map of scalars; undefined when empty. */
export function scalarMapFromWire(m: { [key: string]: ScalarValue }): Record<string, Scalar> | undefined {
  let out: Record<string, Scalar> | undefined;
  for (const k in m) {
    const v = m[k]?.kind;
    if (v === undefined) continue;
    out ??= {};
    out[k] = v.value;
  }
  return out;
}

/** The wire form of an event (the `oneof event` of an EventRecord). */
export function eventToWire(e: CollectionEvent): WireBody {
  switch (e.kind) {
    case 'process':
      return { $case: 'process', value: processToWire(e) };
    case 'network':
      return { $case: 'network', value: networkToWire(e) };
    case 'filesystem':
      return { $case: 'filesystem', value: filesystemToWire(e) };
    case 'performance':
      return { $case: 'performance', value: performanceToWire(e) };
    case 'trigger_request':
      return { $case: 'triggerRequest', value: triggerToWire(e) };
    case 'analysis_result':
      return { $case: 'analysisResult', value: analysisToWire(e) };
  }
}

function processToWire(e: ProcessEvent): ProcessMessage {
  return {
    subtype: e.subtype,
    pid: e.pid,
    ppid: e.ppid,
    name: e.name,
    executablePath: e.executablePath,
    commandLine: e.commandLine as string[],
    startTime: e.startTime,
    cpuUsage: e.cpuUsage,
    memoryUsage: e.memoryUsage,
    executableHash: e.executableHash,
    hashAlgorithm: e.hashAlgorithm,
    userId: e.userId,
    userName: e.userName,
    accessible: e.accessible,
    fileExists: e.fileExists,
    exitCode: e.exitCode,
    threadCount: e.threadCount,
    cwd: e.cwd,
    cgroup: e.cgroup,
    containerId: e.containerId,
    timestamp: e.timestamp,
    platformMetadata: scalarMapToWire(e.platformMetadata),
  };
}

function networkToWire(e: NetworkEvent): NetworkMessage {
  return {
    connectionId: e.connectionId,
    sourceAddr: e.sourceAddr,
    destAddr: e.destAddr,
    protocol: e.protocol,
    state: e.state,
    pid: e.pid,
    bytesSent: e.bytesSent,
    bytesReceived: e.bytesReceived,
    timestamp: e.timestamp,
    subtype: e.subtype,
    previousState: e.previousState,
    family: e.family,
    uid: e.uid,
    inode: e.inode,
    listening: e.listening,
    processName: e.processName,
    pidUnknownReason: e.pidUnknownReason,
    retransmits: e.retransmits,
    rttUs: e.rttUs,
    peerInode: e.peerInode,
  };
}

function filesystemToWire(e: FilesystemEvent): FilesystemMessage {
  return {
    path: e.path,
    operation: e.operation,
    pid: e.pid,
    size: e.size,
    permissions: e.permissions,
    fileHash: e.fileHash,
    timestamp: e.timestamp,
  };
}

function performanceToWire(e: PerformanceEvent): PerformanceMessage {
  const t = e.threshold;
  return {
    metricName: e.metricName,
    value: e.value,
    unit: e.unit,
    pid: e.pid,
    component: e.component,
    timestamp: e.timestamp,
    subtype: e.subtype,
    instance: e.instance,
    processName: e.processName,
    threshold: t === undefined ? undefined : { bound: t.bound, limit: t.limit, holdMs: t.holdMs },
  };
}

function triggerToWire(e: TriggerRequestEvent): TriggerRequestMessage {
  return {
    triggerId: e.triggerId,
    targetCollector: e.targetCollector,
    analysisType: e.analysisType,
    priority: e.priority,
    targetPid: e.targetPid,
    targetPath: e.targetPath,
    correlationId: e.correlationId,
    metadata: (e.metadata as { [key: string]: string } | undefined) ?? NO_STRINGS,
    timestamp: e.timestamp,
  };
}

function analysisToWire(e: AnalysisResultEvent): AnalysisResultMessage {
  return {
    analysisType: e.analysisType,
    triggerId: e.triggerId,
    correlationId: e.correlationId,
    workflowId: e.workflowId,
    stageId: e.stageId,
    success: e.success,
    dataJson: JSON.stringify(e.data),
    error: e.error,
    timestamp: e.timestamp,
  };
}

// Field tags of EventRecord (see events.proto): seq 1, source 2, accepted_at 3, cause 4, depth 5,
// then the oneof event: process 10, network 11, filesystem 12, performance 13, trigger_request 14,
// analysis_result 15.
const TAG = { seq: 8, source: 18, acceptedAt: 24, cause: 32, depth: 40 } as const;

/**
 * Writes one EventRecord message (without a length prefix) into `w`: the same bytes as
 * `EventRecord.encode({ ...record, event: eventToWire(event) })`, without the intermediate record
 * object.
 */
export function writeEventRecord(w: BinaryWriter, record: WireRecordFields, event: CollectionEvent): BinaryWriter {
  if (record.seq !== 0) w.uint32(TAG.seq).uint64(record.seq);
  if (record.source !== '') w.uint32(TAG.source).string(record.source);
  if (record.acceptedAt !== 0) w.uint32(TAG.acceptedAt).int64(record.acceptedAt);
  if (record.cause !== undefined) w.uint32(TAG.cause).uint64(record.cause);
  if (record.depth !== 0) w.uint32(TAG.depth).uint32(record.depth);
  switch (event.kind) {
    case 'process':
      ProcessMessage.encode(processToWire(event), w.uint32(82).fork()).join();
      break;
    case 'network':
      NetworkMessage.encode(networkToWire(event), w.uint32(90).fork()).join();
      break;
    case 'filesystem':
      FilesystemMessage.encode(filesystemToWire(event), w.uint32(98).fork()).join();
      break;
    case 'performance':
      PerformanceMessage.encode(performanceToWire(event), w.uint32(106).fork()).join();
      break;
    case 'trigger_request':
      TriggerRequestMessage.encode(triggerToWire(event), w.uint32(114).fork()).join();
      break;
    case 'analysis_result':
      AnalysisResultMessage.encode(analysisToWire(event), w.uint32(122).fork()).join();
      break;
  }
  return w;
}

/** The domain event of a decoded EventRecord. Throws {@link WireEventError} for a record without an event or bad analysis data. */
export function wireToEvent(record: EventRecord): CollectionEvent {
  const body = record.event;
  if (body === undefined) throw new WireEventError(record.seq, `record ${record.seq} carries no event`);
  return bodyToEvent(body, record.seq);
}

function bodyToEvent(body: WireBody, seq: number): CollectionEvent {
  switch (body.$case) {
    case 'process':
      return processFromWire(body.value);
    case 'network':
      return networkFromWire(body.value);
    case 'filesystem':
      return filesystemFromWire(body.value);
    case 'performance':
      return performanceFromWire(body.value);
    case 'triggerRequest':
      return triggerFromWire(body.value);
    case 'analysisResult':
      return analysisFromWire(body.value, seq);
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function processFromWire(v: ProcessMessage): ProcessEvent {
  const e = {
    kind: 'process',
    subtype: v.subtype,
    pid: v.pid,
    name: v.name,
    commandLine: v.commandLine,
    accessible: v.accessible,
    fileExists: v.fileExists,
    timestamp: v.timestamp,
  } as Mutable<ProcessEvent>;
  if (v.ppid !== undefined) e.ppid = v.ppid;
  if (v.executablePath !== undefined) e.executablePath = v.executablePath;
  if (v.startTime !== undefined) e.startTime = v.startTime;
  if (v.cpuUsage !== undefined) e.cpuUsage = v.cpuUsage;
  if (v.memoryUsage !== undefined) e.memoryUsage = v.memoryUsage;
  if (v.executableHash !== undefined) e.executableHash = v.executableHash;
  if (v.hashAlgorithm !== undefined) e.hashAlgorithm = v.hashAlgorithm;
  if (v.userId !== undefined) e.userId = v.userId;
  if (v.userName !== undefined) e.userName = v.userName;
  if (v.exitCode !== undefined) e.exitCode = v.exitCode;
  if (v.threadCount !== undefined) e.threadCount = v.threadCount;
  if (v.cwd !== undefined) e.cwd = v.cwd;
  if (v.cgroup !== undefined) e.cgroup = v.cgroup;
  if (v.containerId !== undefined) e.containerId = v.containerId;
  const md = scalarMapFromWire(v.platformMetadata);
  if (md !== undefined) e.platformMetadata = md as PlatformMetadata;
  return e;
}

function networkFromWire(v: NetworkMessage): NetworkEvent {
  const e = {
    kind: 'network',
    connectionId: v.connectionId,
    sourceAddr: v.sourceAddr,
    destAddr: v.destAddr,
    protocol: v.protocol,
    state: v.state,
    bytesSent: v.bytesSent,
    bytesReceived: v.bytesReceived,
    timestamp: v.timestamp,
  } as Mutable<NetworkEvent>;
  if (v.pid !== undefined) e.pid = v.pid;
  if (v.subtype !== undefined) e.subtype = v.subtype as NonNullable<NetworkEvent['subtype']>;
  if (v.previousState !== undefined) e.previousState = v.previousState;
  if (v.family !== undefined) e.family = v.family as 4 | 6;
  if (v.uid !== undefined) e.uid = v.uid;
  if (v.inode !== undefined) e.inode = v.inode;
  if (v.listening !== undefined) e.listening = v.listening;
  if (v.processName !== undefined) e.processName = v.processName;
  if (v.pidUnknownReason !== undefined) {
    e.pidUnknownReason = v.pidUnknownReason as NonNullable<NetworkEvent['pidUnknownReason']>;
  }
  if (v.retransmits !== undefined) e.retransmits = v.retransmits;
  if (v.rttUs !== undefined) e.rttUs = v.rttUs;
  if (v.peerInode !== undefined) e.peerInode = v.peerInode;
  return e;
}

function filesystemFromWire(v: FilesystemMessage): FilesystemEvent {
  const e = {
    kind: 'filesystem',
    path: v.path,
    operation: v.operation,
    timestamp: v.timestamp,
  } as Mutable<FilesystemEvent>;
  if (v.pid !== undefined) e.pid = v.pid;
  if (v.size !== undefined) e.size = v.size;
  if (v.permissions !== undefined) e.permissions = v.permissions;
  if (v.fileHash !== undefined) e.fileHash = v.fileHash;
  return e;
}

function performanceFromWire(v: PerformanceMessage): PerformanceEvent {
  const e = {
    kind: 'performance',
    metricName: v.metricName,
    value: v.value,
    unit: v.unit,
    component: v.component,
    timestamp: v.timestamp,
  } as Mutable<PerformanceEvent>;
  if (v.pid !== undefined) e.pid = v.pid;
  if (v.subtype !== undefined) e.subtype = v.subtype as NonNullable<PerformanceEvent['subtype']>;
  if (v.instance !== undefined) e.instance = v.instance;
  if (v.processName !== undefined) e.processName = v.processName;
  const t = v.threshold;
  if (t !== undefined) e.threshold = { bound: t.bound as 'min' | 'max', limit: t.limit, holdMs: t.holdMs };
  return e;
}

function triggerFromWire(v: TriggerRequestMessage): TriggerRequestEvent {
  const e = {
    kind: 'trigger_request',
    triggerId: v.triggerId,
    targetCollector: v.targetCollector,
    analysisType: v.analysisType,
    priority: v.priority,
    correlationId: v.correlationId,
    metadata: v.metadata,
    timestamp: v.timestamp,
  } as Mutable<TriggerRequestEvent>;
  if (v.targetPid !== undefined) e.targetPid = v.targetPid;
  if (v.targetPath !== undefined) e.targetPath = v.targetPath;
  return e;
}

function analysisFromWire(v: AnalysisResultMessage, seq: number): AnalysisResultEvent {
  let data: unknown;
  try {
    data = JSON.parse(v.dataJson === '' ? '{}' : v.dataJson);
  } catch (cause) {
    throw new WireEventError(seq, `record ${seq}: analysis data is not JSON`, { cause });
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new WireEventError(seq, `record ${seq}: analysis data is not a JSON object`);
  }
  const e = {
    kind: 'analysis_result',
    analysisType: v.analysisType,
    success: v.success,
    data,
    timestamp: v.timestamp,
  } as Mutable<AnalysisResultEvent>;
  if (v.triggerId !== undefined) e.triggerId = v.triggerId;
  if (v.correlationId !== undefined) e.correlationId = v.correlationId;
  if (v.workflowId !== undefined) e.workflowId = v.workflowId;
  if (v.stageId !== undefined) e.stageId = v.stageId;
  if (v.error !== undefined) e.error = v.error;
  return e;
}

/** One event with its record fields (the record's run id is the batch's). */
export interface EventToEncode {
  readonly record: WireRecordFields;
  readonly event: CollectionEvent;
}

/**
 * One EventBatch message: the host, collector, run id, sent time, and every event with its record,
 * encoded with one writer (one `finish()` for the batch).
 */
export function encodeEventBatch(
  host: HostIdentity,
  collector: string,
  runId: string,
  events: readonly EventToEncode[],
  sentAt: number,
  w: BinaryWriter = new BinaryWriter(),
): Uint8Array {
  HostIdentityMessage.encode({ hostname: host.hostname, machineId: host.machineId }, w.uint32(10).fork()).join();
  if (collector !== '') w.uint32(18).string(collector);
  if (runId !== '') w.uint32(26).string(runId);
  for (let i = 0; i < events.length; i++) {
    const x = events[i] as EventToEncode;
    writeEventRecord(w.uint32(34).fork(), x.record, x.event).join();
  }
  if (sentAt !== 0) w.uint32(40).int64(sentAt);
  return w.finish();
}

/** The core record of a decoded EventRecord within run `runId`. */
function recordOf(r: EventRecord, runId: string): RecordOfEvent {
  const out: Mutable<RecordOfEvent> = { seq: r.seq, runId, source: r.source, acceptedAt: r.acceptedAt, depth: r.depth };
  if (r.cause !== undefined) out.cause = r.cause;
  return out;
}

/**
 * The domain events of an EventBatch's records within run `runId`. Throws {@link WireEventError} for a
 * record without an event or with bad analysis data.
 */
export function eventsFromWire(records: readonly EventRecord[], runId: string): WireEvent[] {
  const out = new Array<WireEvent>(records.length);
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as EventRecord;
    out[i] = { record: recordOf(r, runId), event: wireToEvent(r) };
  }
  return out;
}

/**
 * Decodes an EventBatch message. Throws the protobuf reader's error on bytes that are not an
 * EventBatch and {@link WireEventError} on a record that is not a well-formed event.
 */
export function decodeEventBatch(data: Uint8Array): DecodedEventBatch {
  return eventBatchFromWire(EventBatch.decode(data));
}

/** The domain form of a decoded EventBatch message (as an Envelope carries it). */
export function eventBatchFromWire(b: EventBatch): DecodedEventBatch {
  const h = b.host;
  const host: HostIdentity =
    h?.machineId !== undefined ? { hostname: h.hostname, machineId: h.machineId } : { hostname: h?.hostname ?? '' };
  return { host, collector: b.collector, runId: b.runId, sentAt: b.sentAt, events: eventsFromWire(b.records, b.runId) };
}
