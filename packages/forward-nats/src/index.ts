/**
 * `@daemoneye/forward-nats`: the collector sink that forwards events to NATS JetStream through a
 * durable on-disk spool, its `[sinks.nats]` definition, the spool on its own, and the decoder a
 * consumer uses on the messages.
 */
export { natsSinkDefinition, natsSinkSchema } from './definition.ts';
export { CONTENT_TYPE, decodeBatch, encodeBatch, type ForwardedBatch, type ForwardedEvent } from './encoding.ts';
export { type NatsErrorCode, natsErrors } from './errors.ts';
export {
  createNatsSink,
  DEFAULT_SPOOL_DIR,
  hostKey,
  type NatsSink,
  type NatsSinkOptions,
  type NatsSinkStats,
  subjectToken,
} from './nats-sink.ts';
export {
  type FsyncPolicy,
  Spool,
  type SpoolEntry,
  type SpooledRecord,
  type SpoolOptions,
  type SpoolRecovery,
  type SpoolStats,
} from './spool.ts';
export { DEFAULT_STREAM, ensureStream, type StreamOptions, type StreamReady, subjectMatches } from './stream.ts';
