/**
 * The forwarder's plug-in definition, `[sinks.nats]`: servers, subjects, the stream, the in-flight
 * window, the spool, TLS and credentials, turned into a {@link createNatsSink}. It is off unless
 * `enabled = true`, so a collector without a broker never grows a spool.
 */
import { defineSink, field } from '@daemoneye/core';
import { createNatsSink, DEFAULT_SPOOL_DIR } from './nats-sink.ts';
import { DEFAULT_STREAM } from './stream.ts';

/** The `[sinks.nats]` fields besides `enabled`, `queue_capacity` and `overflow`. */
export const natsSinkSchema = {
  servers: field('string[]', ['nats://127.0.0.1:4222'], 'NATS server URLs (nats:// or tls://)'),
  subject_prefix: field('string', 'daemoneye.events', 'Messages go to <subject_prefix>.<host>.<kind>'),
  stream: field('string', DEFAULT_STREAM, 'JetStream stream to publish into'),
  stream_create: field('boolean', true, 'Create the stream when missing (false: use one an administrator made)'),
  stream_max_bytes: field('bytes', 0, 'Size limit of a created stream (0: none)', { min: 0 }),
  stream_max_age: field('duration', 0, 'Age limit of a created stream (0: none)', { min: 0 }),
  stream_replicas: field('integer', 1, 'Replicas of a created stream (3 in a 3-node cluster)', { min: 1, max: 5 }),
  duplicate_window: field('duration', 120_000, 'How long a created stream remembers message ids to drop repeats', {
    min: 1000,
  }),
  max_in_flight: field('integer', 64, 'Messages published and waiting for their ack at most', { min: 1 }),
  max_message_bytes: field('bytes', 512 * 1024, 'Largest message payload (below the server max_payload)', {
    min: 1024,
  }),
  ack_timeout: field('duration', 5000, 'How long a publish waits for its ack before it is sent again', { min: 100 }),
  reconnect_wait: field('duration', 2000, 'Wait between connection attempts', { min: 10 }),
  drain_timeout: field('duration', 5000, 'How long shutdown keeps publishing what the spool holds', { min: 0 }),
  spool_dir: field('string', DEFAULT_SPOOL_DIR, 'Spool directory, absolute or relative to data_dir'),
  spool_max_bytes: field('bytes', 256 * 1024 * 1024, 'Spool bound; above it the oldest segment is dropped', {
    min: 64 * 1024,
  }),
  spool_segment_bytes: field('bytes', 16 * 1024 * 1024, 'Spool segment size (at most spool_max_bytes / 4)', {
    min: 4096,
  }),
  fsync: field('enum', 'interval', 'When spool writes are forced to disk', { values: ['always', 'interval', 'never'] }),
  fsync_interval: field('duration', 1000, 'With fsync = "interval": how often', { min: 1 }),
  tls: field('boolean', false, 'Require TLS (with the system CAs unless tls_ca is set)'),
  tls_ca: field('string', '', 'CA certificate file (PEM) for the servers'),
  tls_cert: field('string', '', 'Client certificate file (PEM)'),
  tls_key: field('string', '', 'Client private key file (PEM)'),
  creds_file: field('string', '', 'NATS credentials file (.creds: user JWT and NKey seed)'),
  nkey_seed_file: field('string', '', 'File holding a user NKey seed'),
  user: field('string', '', 'User name'),
  password: field('string', '', 'Password'),
  token: field('string', '', 'Authentication token'),
} as const;

/** `[sinks.nats]`: every event forwarded to NATS JetStream through a durable spool. */
export const natsSinkDefinition = defineSink({
  key: 'nats',
  description: 'Events forwarded to NATS JetStream, spooled on disk while the servers are unreachable',
  schema: natsSinkSchema,
  enabledByDefault: false,
  create: (o) =>
    createNatsSink({
      servers: o.servers,
      subjectPrefix: o.subjectPrefix,
      stream: {
        name: o.stream,
        create: o.streamCreate,
        maxBytes: o.streamMaxBytes,
        maxAgeMs: o.streamMaxAge,
        replicas: o.streamReplicas,
        duplicateWindowMs: o.duplicateWindow,
      },
      maxInFlight: o.maxInFlight,
      maxMessageBytes: o.maxMessageBytes,
      ackTimeoutMs: o.ackTimeout,
      reconnectWaitMs: o.reconnectWait,
      drainTimeoutMs: o.drainTimeout,
      spool: {
        dir: o.spoolDir,
        maxBytes: o.spoolMaxBytes,
        segmentBytes: o.spoolSegmentBytes,
        fsync: o.fsync,
        fsyncIntervalMs: o.fsyncInterval,
      },
      tls: o.tls,
      tlsCaFile: o.tlsCa,
      tlsCertFile: o.tlsCert,
      tlsKeyFile: o.tlsKey,
      credsFile: o.credsFile,
      nkeySeedFile: o.nkeySeedFile,
      user: o.user,
      password: o.password,
      token: o.token,
    }),
});
