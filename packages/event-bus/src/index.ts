/**
 * @daemoneye/event-bus — the in-process event bus: topics with `+`/`#` patterns, event and
 * correlation filters, bounded per-subscriber queues with statistics; a collector processor.
 */

export { eventBusDefinition } from './definition.ts';
export type { BusErrorCode } from './errors.ts';
export { busErrors } from './errors.ts';
export type { EventBusOptions, EventBusStats, EventSubscription } from './event-bus.ts';
export { EventBus } from './event-bus.ts';
export type { CorrelationFacts, CorrelationFilter, EventFilter, EventPredicate } from './filter.ts';
export { compileFilters, correlationOf } from './filter.ts';
export type { BusDelivery, SubscriberOverflow, SubscriberStats } from './subscription.ts';
export { SubscriberQueue } from './subscription.ts';
export type { TopicPattern } from './topic.ts';
export { compileTopicPattern, topicOf } from './topic.ts';
