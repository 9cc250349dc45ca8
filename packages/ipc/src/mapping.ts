/**
 * Domain ⇄ wire: the event model of `@daemoneye/core` to the messages of `@daemoneye/proto` and back
 * (lossless for every field the model has; the analysis result's `data` travels as JSON), events to
 * the records DaemonEye's DetectionResult carries (lossy by DaemonEye's design), SourceCaps bits to
 * CollectionCapabilities, and subscription filters to the event bus's. This is the only place the
 * two vocabularies meet; it does no I/O.
 */
import {
  type AnalysisType,
  type CollectionEvent,
  type EventKind,
  type FilesystemEvent,
  type FilesystemOperation,
  type NetworkEvent,
  type NetworkEventSubtype,
  type PerformanceEvent,
  type PerformanceEventSubtype,
  type PidUnknownReason,
  type ProcessEvent,
  type ProcessEventSubtype,
  SourceCaps,
  type SourceCapsBits,
  type TriggerPriority,
} from '@daemoneye/core';
import type { CorrelationFilter, EventFilter } from '@daemoneye/event-bus';
import {
  type CollectionCapabilities,
  type EventRecord,
  type EventRecordBody,
  type FilesystemRecord,
  MonitoringDomain,
  type NetworkRecord,
  type PerformanceRecord,
  type ProcessRecord,
  type ScalarValue,
  type CorrelationFilter as WireCorrelationFilter,
  type EventFilter as WireEventFilter,
} from '@daemoneye/proto';
import { ipcErrors } from './errors.ts';

type Scalar = string | number | boolean;

/**
 * `o` without its undefined properties (the domain types are exact about optional fields), built by
 * assignment into a fresh object: deleting properties would leave V8 a slow dictionary object.
 */
function defined<T>(o: Record<string, unknown>): T {
  const out: Record<string, unknown> = {};
  for (const k in o) {
    const v = o[k];
    if (v !== undefined) out[k] = v;
  }
  return out as T;
}

function scalar(v: Scalar): ScalarValue {
  if (typeof v === 'string') return { kind: { $case: 'stringValue', value: v } };
  if (typeof v === 'number') return { kind: { $case: 'numberValue', value: v } };
  return { kind: { $case: 'boolValue', value: v } };
}

function unscalar(v: ScalarValue | undefined): Scalar | undefined {
  return v?.kind?.value;
}

function scalarMap(m: Readonly<Record<string, Scalar>> | undefined): { [key: string]: ScalarValue } {
  const out: { [key: string]: ScalarValue } = {};
  if (m !== undefined) for (const [k, v] of Object.entries(m)) out[k] = scalar(v);
  return out;
}

function unscalarMap(m: { [key: string]: ScalarValue }): Record<string, Scalar> | undefined {
  const keys = Object.keys(m);
  if (keys.length === 0) return undefined;
  const out: Record<string, Scalar> = {};
  for (const k of keys) {
    const v = unscalar(m[k]);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** The wire form of an event (the `oneof event` of an EventRecord). */
export function eventToWire(e: CollectionEvent): EventRecordBody {
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
          commandLine: [...e.commandLine],
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
          platformMetadata: scalarMap(e.platformMetadata),
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
          threshold: e.threshold === undefined ? undefined : { ...e.threshold },
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

/**
 * The domain event of a wire record. Throws `ERR_IPC_DECODE` for a record without an event or an
 * analysis result whose data is not a JSON object.
 */
export function wireToEvent(record: EventRecord): CollectionEvent {
  const body = record.event;
  if (body === undefined) throw ipcErrors.error('ERR_IPC_DECODE', `record ${record.seq} carries no event`);
  switch (body.$case) {
    case 'process': {
      const v = body.value;
      return defined<ProcessEvent>({
        kind: 'process',
        ...v,
        subtype: v.subtype as ProcessEventSubtype,
        platformMetadata: unscalarMap(v.platformMetadata),
      });
    }
    case 'network': {
      const v = body.value;
      return defined<NetworkEvent>({
        kind: 'network',
        ...v,
        subtype: v.subtype as NetworkEventSubtype | undefined,
        family: v.family as 4 | 6 | undefined,
        pidUnknownReason: v.pidUnknownReason as PidUnknownReason | undefined,
      });
    }
    case 'filesystem':
      return defined<FilesystemEvent>({
        kind: 'filesystem',
        ...body.value,
        operation: body.value.operation as FilesystemOperation,
      });
    case 'performance': {
      const v = body.value;
      return defined<PerformanceEvent>({
        kind: 'performance',
        ...v,
        subtype: v.subtype as PerformanceEventSubtype | undefined,
        threshold:
          v.threshold === undefined
            ? undefined
            : { bound: v.threshold.bound as 'min' | 'max', limit: v.threshold.limit, holdMs: v.threshold.holdMs },
      });
    }
    case 'triggerRequest': {
      const v = body.value;
      return defined<CollectionEvent>({
        kind: 'trigger_request',
        ...v,
        analysisType: v.analysisType as AnalysisType,
        priority: v.priority as TriggerPriority,
      });
    }
    case 'analysisResult': {
      const { dataJson, ...v } = body.value;
      let data: unknown;
      try {
        data = JSON.parse(dataJson === '' ? '{}' : dataJson);
      } catch (e) {
        throw ipcErrors.error('ERR_IPC_DECODE', `record ${record.seq}: analysis data is not JSON`, { cause: e });
      }
      if (typeof data !== 'object' || data === null || Array.isArray(data)) {
        throw ipcErrors.error('ERR_IPC_DECODE', `record ${record.seq}: analysis data is not a JSON object`);
      }
      return defined<CollectionEvent>({
        kind: 'analysis_result',
        ...v,
        analysisType: v.analysisType as AnalysisType,
        data,
      });
    }
  }
}

/** A process event as DaemonEye's ProcessRecord (start time in seconds, as DaemonEye defines it). */
export function processRecordOf(e: ProcessEvent): ProcessRecord {
  return {
    pid: e.pid,
    ppid: e.ppid,
    name: e.name,
    executablePath: e.executablePath,
    commandLine: [...e.commandLine],
    startTime: e.startTime === undefined ? undefined : Math.floor(e.startTime / 1000),
    cpuUsage: e.cpuUsage,
    memoryUsage: e.memoryUsage,
    executableHash: e.executableHash,
    hashAlgorithm: e.hashAlgorithm,
    userId: e.userId,
    accessible: e.accessible,
    fileExists: e.fileExists,
    collectionTime: e.timestamp,
    ssdeepHash: undefined,
    onDiskMismatch: false,
    ssdeepDegraded: false,
  };
}

/** A network event as DaemonEye's NetworkRecord. */
export function networkRecordOf(e: NetworkEvent): NetworkRecord {
  return {
    connectionId: e.connectionId,
    sourceAddress: e.sourceAddr,
    destinationAddress: e.destAddr,
    protocol: e.protocol,
    state: e.state,
    pid: e.pid,
    bytesSent: e.bytesSent,
    bytesReceived: e.bytesReceived,
    collectionTime: e.timestamp,
  };
}

/** A filesystem event as DaemonEye's FilesystemRecord; `operationId` names it (its sequence number). */
export function filesystemRecordOf(e: FilesystemEvent, operationId: string): FilesystemRecord {
  return {
    operationId,
    path: e.path,
    operationType: e.operation,
    pid: e.pid,
    fileSize: e.size,
    permissions: e.permissions,
    fileHash: e.fileHash,
    collectionTime: e.timestamp,
  };
}

/** A performance sample as DaemonEye's PerformanceRecord; the id is `metric[/instance][#pid]`. */
export function performanceRecordOf(e: PerformanceEvent): PerformanceRecord {
  return {
    metricId: metricKey(e),
    metricName: e.metricName,
    value: e.value,
    unit: e.unit,
    pid: e.pid,
    component: e.component,
    collectionTime: e.timestamp,
  };
}

/** What tells two samples of different metrics (or instances, or processes) apart. */
export function metricKey(e: PerformanceEvent): string {
  return `${e.metricName}${e.instance !== undefined ? `/${e.instance}` : ''}${e.pid !== undefined ? `#${e.pid}` : ''}`;
}

const DOMAINS = [
  [SourceCaps.PROCESS, MonitoringDomain.PROCESS],
  [SourceCaps.NETWORK, MonitoringDomain.NETWORK],
  [SourceCaps.FILESYSTEM, MonitoringDomain.FILESYSTEM],
  [SourceCaps.PERFORMANCE, MonitoringDomain.PERFORMANCE],
] as const;

/** SourceCaps bits as DaemonEye's CollectionCapabilities. */
export function capabilitiesToWire(caps: SourceCapsBits): CollectionCapabilities {
  return {
    supportedDomains: DOMAINS.filter(([bit]) => (caps & bit) !== 0).map(([, d]) => d),
    advanced: {
      kernelLevel: (caps & SourceCaps.KERNEL_LEVEL) !== 0,
      realtime: (caps & SourceCaps.REALTIME) !== 0,
      systemWide: (caps & SourceCaps.SYSTEM_WIDE) !== 0,
    },
  };
}

/** CollectionCapabilities as SourceCaps bits (unknown domains are ignored). */
export function capabilitiesFromWire(c: CollectionCapabilities | undefined): SourceCapsBits {
  let caps = 0;
  for (const d of c?.supportedDomains ?? []) {
    const bit = DOMAINS.find(([, domain]) => domain === d)?.[0];
    if (bit !== undefined) caps |= bit;
  }
  if (c?.advanced?.kernelLevel === true) caps |= SourceCaps.KERNEL_LEVEL;
  if (c?.advanced?.realtime === true) caps |= SourceCaps.REALTIME;
  if (c?.advanced?.systemWide === true) caps |= SourceCaps.SYSTEM_WIDE;
  return caps >>> 0;
}

/** The wire filter of an event-bus filter. */
export function filterToWire(f: EventFilter | undefined): WireEventFilter {
  return {
    kinds: [...(f?.kinds ?? [])],
    pids: [...(f?.pids ?? [])],
    minPriority: f?.minPriority,
    fields: scalarMap(f?.fields),
    sourceNames: [...(f?.sourceNames ?? [])],
  };
}

/** The event-bus filter of a wire filter (unset criteria stay unset). */
export function filterFromWire(f: WireEventFilter | undefined): EventFilter | undefined {
  if (f === undefined) return undefined;
  return defined<EventFilter>({
    kinds: f.kinds.length > 0 ? (f.kinds as EventKind[]) : undefined,
    pids: f.pids.length > 0 ? f.pids : undefined,
    minPriority: f.minPriority as TriggerPriority | undefined,
    fields: unscalarMap(f.fields),
    sourceNames: f.sourceNames.length > 0 ? f.sourceNames : undefined,
  });
}

/** The wire correlation filter of an event-bus one. */
export function correlationToWire(c: CorrelationFilter | undefined): WireCorrelationFilter | undefined {
  if (c === undefined) return undefined;
  return {
    correlationId: c.correlationId,
    parentId: c.parentId,
    rootId: c.rootId,
    workflowStage: c.workflowStage,
    requiredTags: [...(c.requiredTags ?? [])],
  };
}

/** The event-bus correlation filter of a wire one. */
export function correlationFromWire(c: WireCorrelationFilter | undefined): CorrelationFilter | undefined {
  if (c === undefined) return undefined;
  const out = defined<CorrelationFilter>({
    correlationId: c.correlationId,
    parentId: c.parentId,
    rootId: c.rootId,
    workflowStage: c.workflowStage,
    requiredTags: c.requiredTags.length > 0 ? c.requiredTags : undefined,
  });
  return Object.keys(out).length > 0 ? out : undefined;
}
