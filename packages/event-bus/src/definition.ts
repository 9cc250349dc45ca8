/**
 * The bus's plug-in definition: the `[processors.bus]` section and a factory that builds an
 * `EventBus` from it. The command composes it from its plug-in list; a program that wants to
 * subscribe builds its own `EventBus` and adds it with `collector.addProcessor`. No behaviour here.
 */
import { defineProcessor, field } from '@daemoneye/core';
import { EventBus } from './event-bus.ts';

/** `[processors.bus]`: the in-process event bus. */
export const eventBusDefinition = defineProcessor({
  key: 'bus',
  description: 'In-process event bus: every event on its topic, bounded queues per subscriber',
  schema: {
    subscriber_capacity: field('integer', 10_000, 'Deliveries one subscriber queues at most', { min: 1 }),
    subscriber_overflow: field('enum', 'drop-newest', 'What a full subscriber queue does', {
      values: ['drop-newest', 'drop-oldest'],
    }),
  },
  create: (o) => new EventBus({ subscriberCapacity: o.subscriberCapacity, subscriberOverflow: o.subscriberOverflow }),
});
