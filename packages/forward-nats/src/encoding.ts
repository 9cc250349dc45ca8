/**
 * How a message's events are encoded: the one place that knows the wire format of a batch. The
 * forwarder calls `encodeBatch` with the events of one kind from one collector batch and their
 * records; a consumer calls `decodeBatch` on a message's data.
 */
import type { CollectionEvent, EventRecord, HostIdentity } from '@daemoneye/core';

/** The value of the `Content-Type` header on every published message. */
export const CONTENT_TYPE = 'application/json';

/** One event with its record, as a message carries it. */
export interface ForwardedEvent {
  readonly record: EventRecord;
  readonly event: CollectionEvent;
}

/** A decoded message: where it comes from and its events in order. */
export interface ForwardedBatch {
  readonly host: HostIdentity;
  readonly events: readonly ForwardedEvent[];
}

interface Wire {
  h: { n: string; m?: string };
  e: { r: EventRecord; v: CollectionEvent }[];
}

/** Encodes events (all of one kind) with their records into one message's data. */
export function encodeBatch(host: HostIdentity, events: readonly ForwardedEvent[]): Uint8Array {
  const wire: Wire = {
    h: { n: host.hostname, ...(host.machineId !== undefined ? { m: host.machineId } : {}) },
    e: events.map((f) => ({ r: f.record, v: f.event })),
  };
  return Buffer.from(JSON.stringify(wire), 'utf8');
}

/** Decodes a message's data; throws on data this version cannot read. */
export function decodeBatch(data: Uint8Array): ForwardedBatch {
  const wire = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as Wire;
  return {
    host: { hostname: wire.h.n, ...(wire.h.m !== undefined ? { machineId: wire.h.m } : {}) },
    events: wire.e.map((x) => ({ record: x.r, event: x.v })),
  };
}
