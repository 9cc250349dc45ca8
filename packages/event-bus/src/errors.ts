/**
 * The error codes of `@daemoneye/event-bus`, declared through core's catalog so no other package can
 * reuse them and docs/errors.md lists them. Only subscription set-up throws; a full subscriber queue is
 * a counted drop, never an error.
 */
import { defineErrorCatalog } from '@daemoneye/core';

/** The event bus's error catalog. */
export const busErrors = defineErrorCatalog('@daemoneye/event-bus', [
  'ERR_BUS_TOPIC_INVALID',
  'ERR_BUS_SUBSCRIPTION_INVALID',
  'ERR_BUS_SUBSCRIBER_DUPLICATE',
]);

/** A code of the event bus. */
export type BusErrorCode = (typeof busErrors.codes)[number];
