/**
 * The error codes of `@daemoneye/forward-nats`, declared through core's catalog so no other package
 * reuses them and docs/errors.md lists them. An unreachable or refusing server is not thrown to the
 * collector: the sink spools and reports it through its health.
 */
import { defineErrorCatalog } from '@daemoneye/core';

/** The forwarder's error catalog. */
export const natsErrors = defineErrorCatalog('@daemoneye/forward-nats', [
  'ERR_NATS_CONFIG',
  'ERR_NATS_SPOOL',
  'ERR_NATS_STREAM',
  'ERR_NATS_CLOSED',
]);

/** A code of the forwarder. */
export type NatsErrorCode = (typeof natsErrors.codes)[number];
