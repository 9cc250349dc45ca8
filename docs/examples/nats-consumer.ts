/**
 * A central service that reads every host's events from the JetStream stream the NATS forwarder
 * (`[sinks.nats]`) fills: one durable consumer, so a restart resumes after the last acknowledged
 * message and several replicas of the service can share the work (same durable name). Each message
 * is one `daemoneye.v1.EventBatch` (events of one kind from one host); `decodeBatch` from
 * `@daemoneye/forward-nats` turns it into `@daemoneye/core` events with their records.
 *
 * The same code works against one `nats-server -js` and against the 3-node cluster of
 * docs/nats-jetstream.md: pass all the servers.
 */
import { decodeBatch, type ForwardedBatch } from '@daemoneye/forward-nats';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

/** Options of {@link runFleetConsumer}. */
export interface FleetConsumerOptions {
  readonly servers: readonly string[];
  /** The forwarder's stream (default `DAEMONEYE_EVENTS`). */
  readonly stream?: string;
  /** The durable consumer's name (default `fleet-central`). */
  readonly durable?: string;
  /** Which subjects to read (default every host and kind: `daemoneye.events.>`). */
  readonly filterSubject?: string;
  /** Called for each message, in stream order; the message is acknowledged once it resolves. */
  onBatch(batch: ForwardedBatch, subject: string): void | Promise<void>;
  /** Stops the consumer. */
  readonly signal: AbortSignal;
}

/** What a run of the consumer saw. */
export interface FleetConsumerReport {
  readonly messages: number;
  readonly events: number;
  /** Messages that were not EventBatches (terminated, never redelivered). */
  readonly undecodable: number;
}

/** Reads the stream with a durable consumer until `signal` aborts. */
export async function runFleetConsumer(options: FleetConsumerOptions): Promise<FleetConsumerReport> {
  const stream = options.stream ?? 'DAEMONEYE_EVENTS';
  const durable = options.durable ?? 'fleet-central';
  const nc = await connect({ servers: [...options.servers] });
  let messages = 0;
  let events = 0;
  let undecodable = 0;
  try {
    const jsm = await jetstreamManager(nc);
    // Creating a durable consumer that exists with the same configuration is a no-op.
    await jsm.consumers.add(stream, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: options.filterSubject ?? 'daemoneye.events.>',
      max_ack_pending: 1000,
    });
    const consumer = await jetstream(nc).consumers.get(stream, durable);
    const iter = await consumer.consume({ max_messages: 256 });
    const stop = () => void iter.stop();
    if (options.signal.aborted) stop();
    options.signal.addEventListener('abort', stop, { once: true });
    for await (const m of iter) {
      let batch: ForwardedBatch;
      try {
        batch = decodeBatch(m.data);
      } catch {
        undecodable++;
        m.term();
        continue;
      }
      await options.onBatch(batch, m.subject);
      // Wait for the server to record the ack, so a restart never sees this message again.
      await m.ackAck();
      messages++;
      events += batch.events.length;
    }
    options.signal.removeEventListener('abort', stop);
  } finally {
    await nc.close();
  }
  return { messages, events, undecodable };
}
