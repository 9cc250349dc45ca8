/**
 * How a message's events are encoded: each message's data is one `daemoneye.v1.EventBatch` of
 * `@daemoneye/proto` (the host identity, the collector, the run id, and every event with its record).
 * `encodeBatch` turns the collector's events into it and `decodeBatch` (for consumers) turns it back
 * into `@daemoneye/core` events with their records; every field of the event model survives the trip.
 */
import type {
  AnalysisResultEvent,
  CollectionEvent,
  EventRecord,
  FilesystemEvent,
  HostIdentity,
  NetworkEvent,
  PerformanceEvent,
  PlatformMetadata,
  ProcessEvent,
  TriggerRequestEvent,
} from '@daemoneye/core';
import {
  EventBatch,
  type EventRecordBody,
  type EventRecord as EventRecordMessage,
  type ScalarValue,
} from '@daemoneye/proto';

/** The value of the `Content-Type` header on every published message. */
export const CONTENT_TYPE = 'application/x-protobuf; messageType="daemoneye.v1.EventBatch"';

/** One event with its record, as a message carries it. */
export interface ForwardedEvent {
  readonly record: EventRecord;
  readonly event: CollectionEvent;
}

/** A decoded message: where it comes from, the collector and run, and its events in order. */
export interface ForwardedBatch {
  readonly host: HostIdentity;
  readonly collector: string;
  readonly runId: string;
  /** When the message was encoded, epoch ms. */
  readonly sentAt: number;
  readonly events: readonly ForwardedEvent[];
}

function scalar(v: string | number | boolean): ScalarValue {
  if (typeof v === 'string') return { kind: { $case: 'stringValue', value: v } };
  if (typeof v === 'number') return { kind: { $case: 'numberValue', value: v } };
  return { kind: { $case: 'boolValue', value: v } };
}

const NO_METADATA: { [key: string]: ScalarValue } = Object.freeze({});

function metadataOut(m: PlatformMetadata | undefined): { [key: string]: ScalarValue } {
  if (m === undefined) return NO_METADATA;
  const out: { [key: string]: ScalarValue } = {};
  for (const [k, v] of Object.entries(m)) out[k] = scalar(v);
  return out;
}

function metadataIn(m: { [key: string]: ScalarValue }): PlatformMetadata | undefined {
  const keys = Object.keys(m);
  if (keys.length === 0) return undefined;
  const out: Record<string, string | number | boolean> = {};
  for (const k of keys) {
    const v = m[k]?.kind;
    if (v !== undefined) out[k] = v.value;
  }
  return out;
}

/** Drops keys whose value is undefined, so decoded events look like the ones that were sent. */
function defined<T>(o: object): T {
  const r = o as Record<string, unknown>;
  for (const k of Object.keys(r)) if (r[k] === undefined) delete r[k];
  return o as T;
}

/**
 * The protobuf message of an event. Every field is listed (not spread), so the objects handed to the
 * encoder all have one shape per kind: that keeps its property reads fast.
 */
function bodyOf(e: CollectionEvent): EventRecordBody {
  switch (e.kind) {
    case 'process':
      return {
        $case: 'process',
        value: {
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
          platformMetadata: metadataOut(e.platformMetadata),
        },
      };
    case 'network':
      return {
        $case: 'network',
        value: {
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
        },
      };
    case 'filesystem':
      return {
        $case: 'filesystem',
        value: {
          path: e.path,
          operation: e.operation,
          pid: e.pid,
          size: e.size,
          permissions: e.permissions,
          fileHash: e.fileHash,
          timestamp: e.timestamp,
        },
      };
    case 'performance':
      return {
        $case: 'performance',
        value: {
          metricName: e.metricName,
          value: e.value,
          unit: e.unit,
          pid: e.pid,
          component: e.component,
          timestamp: e.timestamp,
          subtype: e.subtype,
          instance: e.instance,
          processName: e.processName,
          threshold:
            e.threshold === undefined
              ? undefined
              : { bound: e.threshold.bound, limit: e.threshold.limit, holdMs: e.threshold.holdMs },
        },
      };
    case 'trigger_request':
      return {
        $case: 'triggerRequest',
        value: {
          triggerId: e.triggerId,
          targetCollector: e.targetCollector,
          analysisType: e.analysisType,
          priority: e.priority,
          targetPid: e.targetPid,
          targetPath: e.targetPath,
          correlationId: e.correlationId,
          metadata: { ...e.metadata },
          timestamp: e.timestamp,
        },
      };
    case 'analysis_result':
      return {
        $case: 'analysisResult',
        value: {
          analysisType: e.analysisType,
          triggerId: e.triggerId,
          correlationId: e.correlationId,
          workflowId: e.workflowId,
          stageId: e.stageId,
          success: e.success,
          dataJson: JSON.stringify(e.data),
          error: e.error,
          timestamp: e.timestamp,
        },
      };
  }
}

function eventOf(body: EventRecordBody): CollectionEvent {
  switch (body.$case) {
    case 'process': {
      const { platformMetadata, ...rest } = body.value;
      const md = metadataIn(platformMetadata);
      return defined<ProcessEvent>({
        kind: 'process',
        ...rest,
        subtype: rest.subtype as never,
        ...(md !== undefined ? { platformMetadata: md } : {}),
      });
    }
    case 'network':
      return defined<NetworkEvent>({
        kind: 'network',
        ...body.value,
        subtype: body.value.subtype as never,
        family: body.value.family as never,
        pidUnknownReason: body.value.pidUnknownReason as never,
      });
    case 'filesystem':
      return defined<FilesystemEvent>({ kind: 'filesystem', ...body.value, operation: body.value.operation as never });
    case 'performance': {
      const { threshold, ...rest } = body.value;
      return defined<PerformanceEvent>({
        kind: 'performance',
        ...rest,
        subtype: rest.subtype as never,
        ...(threshold !== undefined ? { threshold: { ...threshold, bound: threshold.bound as 'min' | 'max' } } : {}),
      });
    }
    case 'triggerRequest':
      return defined<TriggerRequestEvent>({
        kind: 'trigger_request',
        ...body.value,
        analysisType: body.value.analysisType as TriggerRequestEvent['analysisType'],
        priority: body.value.priority as TriggerRequestEvent['priority'],
      });
    case 'analysisResult': {
      const { dataJson, ...rest } = body.value;
      return defined<AnalysisResultEvent>({
        kind: 'analysis_result',
        ...rest,
        analysisType: rest.analysisType as AnalysisResultEvent['analysisType'],
        data: dataJson === '' ? {} : (JSON.parse(dataJson) as Record<string, unknown>),
      });
    }
  }
}

/**
 * Encodes events with their records (one run's, as in one collector batch) into one message's data;
 * `collector` is the collector's component name.
 */
export function encodeBatch(host: HostIdentity, collector: string, events: readonly ForwardedEvent[]): Uint8Array {
  const records: EventRecordMessage[] = events.map(({ record, event }) => ({
    seq: record.seq,
    source: record.source,
    acceptedAt: record.acceptedAt,
    cause: record.cause,
    depth: record.depth,
    event: bodyOf(event),
  }));
  return EventBatch.encode({
    host: { hostname: host.hostname, machineId: host.machineId },
    collector,
    runId: events[0]?.record.runId ?? '',
    records,
    sentAt: Date.now(),
  }).finish();
}

/** Decodes a message's data; throws the protobuf reader's error on data that is not an EventBatch. */
export function decodeBatch(data: Uint8Array): ForwardedBatch {
  const b = EventBatch.decode(data);
  const host = defined<HostIdentity>({ hostname: b.host?.hostname ?? '', machineId: b.host?.machineId });
  const events: ForwardedEvent[] = [];
  for (const r of b.records) {
    if (r.event === undefined) continue;
    events.push({
      record: defined<EventRecord>({
        seq: r.seq,
        runId: b.runId,
        source: r.source,
        acceptedAt: r.acceptedAt,
        cause: r.cause,
        depth: r.depth,
      }),
      event: eventOf(r.event),
    });
  }
  return { host, collector: b.collector, runId: b.runId, sentAt: b.sentAt, events };
}
