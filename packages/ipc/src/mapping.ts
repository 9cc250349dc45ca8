/**
 * Domain ⇄ wire: the event model of `@daemoneye/core` to the messages of `@daemoneye/proto` and back
 * (lossless for every field the model has; the analysis result's `data` travels as JSON), events to
 * the records DaemonEye's DetectionResult carries (lossy by DaemonEye's design), SourceCaps bits to
 * CollectionCapabilities, and subscription filters to the event bus's. This is the only place the
 * two vocabularies meet; it does no I/O.
 */
import {
  type CollectionEvent,
  type EventKind,
  type FilesystemEvent,
  type NetworkEvent,
  type PerformanceEvent,
  type ProcessEvent,
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
  eventToWire as protoEventToWire,
  wireToEvent as protoWireToEvent,
  scalarMapFromWire,
  scalarMapToWire,
  type CorrelationFilter as WireCorrelationFilter,
  WireEventError,
  type EventFilter as WireEventFilter,
} from '@daemoneye/proto';
import { ipcErrors } from './errors.ts';

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

/** The wire form of an event (the `oneof event` of an EventRecord); see `@daemoneye/proto`. */
export const eventToWire: (e: CollectionEvent) => EventRecordBody = protoEventToWire;

/**
 * The domain event of a wire record. Throws `ERR_IPC_DECODE` for a record without an event or an
 * analysis result whose data is not a JSON object.
 */
export function wireToEvent(record: EventRecord): CollectionEvent {
  try {
    return protoWireToEvent(record);
  } catch (e) {
    throw decodeError(e);
  }
}

function decodeError(e: unknown): unknown {
  return e instanceof WireEventError ? ipcErrors.error('ERR_IPC_DECODE', e.message, { cause: e.cause ?? e }) : e;
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
    fields: { ...scalarMapToWire(f?.fields) },
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
    fields: scalarMapFromWire(f.fields),
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
