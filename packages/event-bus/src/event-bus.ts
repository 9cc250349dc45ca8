/**
 * `EventBus`: an in-process publish/subscribe hub that is also a collector processor. As a processor
 * it publishes every event of every batch on its topic (see `topic.ts`); programs may also `publish`
 * directly. Subscribers choose topics by pattern, narrow them with an `EventFilter` and a
 * `CorrelationFilter`, and read from their own bounded queue, so a slow subscriber never slows the
 * publisher or the others: its overflow is dropped and counted. It emits no derived events and does
 * not persist anything.
 */
import type { CollectionEvent, EventBatch, EventProcessor, HealthReport } from '@daemoneye/core';
import { busErrors } from './errors.ts';
import { type CorrelationFilter, compileFilters, type EventFilter, type EventPredicate } from './filter.ts';
import { type BusDelivery, type SubscriberOverflow, SubscriberQueue, type SubscriberStats } from './subscription.ts';
import { compileTopicPattern, type TopicPattern, topicOf } from './topic.ts';

/** What `subscribe` takes: the seed's `EventSubscription` fields plus queue settings. */
export interface EventSubscription {
  /** Unique among the bus's live subscriptions. */
  readonly subscriberId: string;
  /** Topic patterns (`events.process.+`, `events.#`); default `['#']`, every topic. */
  readonly topics?: readonly string[];
  readonly filter?: EventFilter;
  readonly correlationFilter?: CorrelationFilter;
  /** Deliveries queued at most (default: the bus's `subscriberCapacity`). */
  readonly capacity?: number;
  /** What a full queue does (default: the bus's `subscriberOverflow`). */
  readonly overflow?: SubscriberOverflow;
  /** Ends the subscription (and its iterator) when it aborts. */
  readonly signal?: AbortSignal;
}

/** Options of the bus. */
export interface EventBusOptions {
  /** The processor name (default `event-bus`). */
  readonly name?: string;
  /** Default queue capacity of a subscriber (default 10,000). */
  readonly subscriberCapacity?: number;
  /** Default overflow policy of a subscriber (default `drop-newest`). */
  readonly subscriberOverflow?: SubscriberOverflow;
}

/** Bus-wide counters: `published` events, `deliveries` queued, `dropped` over every subscriber. */
export interface EventBusStats {
  readonly published: number;
  readonly unmatched: number;
  readonly deliveries: number;
  readonly dropped: Readonly<Record<string, number>>;
  readonly byTopic: Readonly<Record<string, number>>;
  readonly subscribers: readonly SubscriberStats[];
}

interface Entry {
  readonly queue: SubscriberQueue;
  readonly patterns: readonly TopicPattern[];
  readonly predicate: EventPredicate | undefined;
  /** topic → whether a pattern matches it; topics are few, so this stays small. */
  readonly topicMatch: Map<string, boolean>;
}

const MAX_TOPICS_TRACKED = 1024;

/** The event bus. */
export class EventBus implements EventProcessor {
  readonly #name: string;
  readonly #capacity: number;
  readonly #overflow: SubscriberOverflow;
  #entries: Entry[] = [];
  /** Statistics of subscriptions that ended, kept so totals never go backwards (last 100). */
  readonly #ended: SubscriberStats[] = [];
  #endedDropped: Record<string, number> = {};
  #endedDeliveries = 0;
  #published = 0;
  #unmatched = 0;
  readonly #byTopic = new Map<string, number>();
  #reportedDropped = 0;

  constructor(options: EventBusOptions = {}) {
    this.#name = options.name ?? 'event-bus';
    this.#capacity = options.subscriberCapacity ?? 10_000;
    this.#overflow = options.subscriberOverflow ?? 'drop-newest';
    checkQueue(this.#capacity, this.#overflow, 'bus');
  }

  name(): string {
    return this.#name;
  }

  /**
   * Adds a subscriber and returns its queue, an async iterable of deliveries. Throws
   * `ERR_BUS_TOPIC_INVALID` for a bad pattern, `ERR_BUS_SUBSCRIPTION_INVALID` for a bad filter or
   * queue setting, `ERR_BUS_SUBSCRIBER_DUPLICATE` when the id is already subscribed.
   */
  subscribe(subscription: EventSubscription): SubscriberQueue {
    const id = subscription.subscriberId;
    if (typeof id !== 'string' || id === '') {
      throw busErrors.error('ERR_BUS_SUBSCRIPTION_INVALID', 'subscriberId must be a non-empty string');
    }
    if (this.#entries.some((e) => e.queue.subscriberId === id)) {
      throw busErrors.error('ERR_BUS_SUBSCRIBER_DUPLICATE', `subscriber "${id}" is already subscribed`);
    }
    const capacity = subscription.capacity ?? this.#capacity;
    const overflow = subscription.overflow ?? this.#overflow;
    checkQueue(capacity, overflow, `subscriber "${id}"`);
    const patterns = (subscription.topics ?? ['#']).map(compileTopicPattern);
    if (patterns.length === 0) {
      throw busErrors.error('ERR_BUS_SUBSCRIPTION_INVALID', `subscriber "${id}" has an empty topic list`);
    }
    const predicate = compileFilters(subscription.filter, subscription.correlationFilter);
    const queue: SubscriberQueue = new SubscriberQueue({
      subscriberId: id,
      capacity,
      overflow,
      ...(subscription.signal !== undefined ? { signal: subscription.signal } : {}),
      onClose: () => this.#remove(queue),
    });
    this.#entries = [...this.#entries, { queue, patterns, predicate, topicMatch: new Map() }];
    return queue;
  }

  #remove(queue: SubscriberQueue): void {
    if (!this.#entries.some((e) => e.queue === queue)) return;
    this.#entries = this.#entries.filter((e) => e.queue !== queue);
    const s = queue.stats();
    this.#endedDeliveries += s.matched;
    for (const [k, v] of Object.entries(s.dropped)) this.#endedDropped[k] = (this.#endedDropped[k] ?? 0) + v;
    this.#ended.push(s);
    if (this.#ended.length > 100) this.#ended.shift();
  }

  /** Publishes one event; returns how many subscribers queued it. Never waits. */
  publish(event: CollectionEvent, seq = -1, source = ''): number {
    const topic = topicOf(event);
    this.#published++;
    if (this.#byTopic.size < MAX_TOPICS_TRACKED || this.#byTopic.has(topic)) {
      this.#byTopic.set(topic, (this.#byTopic.get(topic) ?? 0) + 1);
    }
    const entries = this.#entries;
    let delivery: BusDelivery | undefined;
    let queued = 0;
    let matched = false;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i] as Entry;
      let hit = e.topicMatch.get(topic);
      if (hit === undefined) {
        hit = e.patterns.some((p) => p.matches(topic));
        if (e.topicMatch.size < MAX_TOPICS_TRACKED) e.topicMatch.set(topic, hit);
      }
      if (!hit || (e.predicate !== undefined && !e.predicate(event, source))) continue;
      matched = true;
      delivery ??= { topic, event, seq, source };
      if (e.queue.offer(delivery)) queued++;
    }
    if (!matched) this.#unmatched++;
    return queued;
  }

  /** The processor side: publishes every event of the batch with its record's number and source. */
  process(batch: EventBatch): void {
    const records = batch.records;
    if (this.#entries.length === 0) {
      this.#published += batch.length;
      this.#unmatched += batch.length;
      for (const e of batch) {
        const t = topicOf(e);
        if (this.#byTopic.size < MAX_TOPICS_TRACKED || this.#byTopic.has(t)) {
          this.#byTopic.set(t, (this.#byTopic.get(t) ?? 0) + 1);
        }
      }
      return;
    }
    for (let i = 0; i < batch.length; i++) this.publish(batch[i] as CollectionEvent, records.seq(i), records.source(i));
  }

  /** Degraded while some subscriber dropped deliveries since the previous health check. */
  health(): HealthReport {
    const s = this.stats();
    const total = Object.values(s.dropped).reduce((a, b) => a + b, 0) - (s.dropped.unsubscribed ?? 0);
    const fresh = total - this.#reportedDropped;
    this.#reportedDropped = total;
    if (fresh <= 0) return { status: 'healthy' };
    const slow = s.subscribers.filter((x) => (x.dropped.queue_full ?? 0) + (x.dropped.queue_full_evicted ?? 0) > 0);
    return {
      status: 'degraded',
      reason: `${fresh} deliveries dropped by full subscriber queues (${slow.map((x) => x.subscriberId).join(', ')})`,
    };
  }

  /** Closes every subscription (their iterators end). */
  async close(): Promise<void> {
    for (const e of this.#entries) e.queue.close();
  }

  stats(): EventBusStats {
    const subscribers = this.#entries.map((e) => e.queue.stats());
    const dropped: Record<string, number> = { ...this.#endedDropped };
    let deliveries = this.#endedDeliveries;
    for (const s of subscribers) {
      deliveries += s.matched;
      for (const [k, v] of Object.entries(s.dropped)) dropped[k] = (dropped[k] ?? 0) + v;
    }
    return {
      published: this.#published,
      unmatched: this.#unmatched,
      deliveries,
      dropped,
      byTopic: Object.fromEntries(this.#byTopic),
      subscribers: [...subscribers, ...this.#ended],
    };
  }
}

function checkQueue(capacity: number, overflow: string, who: string): void {
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw busErrors.error(
      'ERR_BUS_SUBSCRIPTION_INVALID',
      `${who}: queue capacity must be an integer ≥ 1, got ${capacity}`,
    );
  }
  if (overflow !== 'drop-newest' && overflow !== 'drop-oldest') {
    throw busErrors.error(
      'ERR_BUS_SUBSCRIPTION_INVALID',
      `${who}: overflow must be "drop-newest" or "drop-oldest", got ${JSON.stringify(overflow)}`,
    );
  }
}
