/**
 * How a message's events are encoded: each message's data is one `daemoneye.v1.EventBatch` of
 * `@daemoneye/proto` (the host identity, the collector, the run id, and every event with its record).
 * `encodeBatch` turns the collector's events into it and `decodeBatch` (for consumers) turns it back
 * into `@daemoneye/core` events with their records; every field of the event model survives the trip.
 * The mapping itself is `@daemoneye/proto`'s, the same the IPC stream uses.
 */
import type { HostIdentity } from '@daemoneye/core';
import { type DecodedEventBatch, decodeEventBatch, encodeEventBatch, type WireEvent } from '@daemoneye/proto';

/** The value of the `Content-Type` header on every published message. */
export const CONTENT_TYPE = 'application/x-protobuf; messageType="daemoneye.v1.EventBatch"';

/** One event with its record, as a message carries it. */
export type ForwardedEvent = WireEvent;

/** A decoded message: where it comes from, the collector and run, and its events in order. */
export type ForwardedBatch = DecodedEventBatch;

/**
 * Encodes events with their records (one run's, as in one collector batch) into one message's data;
 * `collector` is the collector's component name.
 */
export function encodeBatch(host: HostIdentity, collector: string, events: readonly ForwardedEvent[]): Uint8Array {
  return encodeEventBatch(host, collector, events[0]?.record.runId ?? '', events, Date.now());
}

/**
 * Decodes a message's data; throws the protobuf reader's error on data that is not an EventBatch, and
 * `WireEventError` (of `@daemoneye/proto`) on a record that carries no event or bad analysis data.
 */
export function decodeBatch(data: Uint8Array): ForwardedBatch {
  return decodeEventBatch(data);
}
