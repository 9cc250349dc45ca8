/**
 * The network source's plug-in definition: the `[sources.network]` section (from
 * `networkSourceSchema`) and a factory turning its typed values into a `NetworkEventSource`. The
 * `daemoneye-collector` command composes it from its list. It adds no behaviour of its own.
 */
import { defineSource } from '@daemoneye/core';
import { createNetworkSource } from './network-event-source.ts';
import { networkSourceSchema } from './options.ts';
import type { SocketProtocol } from './socket-record.ts';

/** `[sources.network]`: the network source. */
export const networkSourceDefinition = defineSource({
  key: 'network',
  description: 'TCP and UDP sockets: sock_diag dumps, open/close/state events, byte counters, owning processes',
  schema: networkSourceSchema,
  create: (o, context) =>
    createNetworkSource({
      intervalMs: o.interval,
      protocols: o.protocols as SocketProtocol[],
      families: o.families.map((f) => Number(f)) as (4 | 6)[],
      states: o.states,
      pidMapping: o.pidMapping,
      addresses: o.addresses,
      ports: o.ports.map((p) => (/^\d+$/.test(p) ? Number(p) : Number.NaN)),
      counters: o.counters,
      unix: o.unix,
      backend: o.backend,
      logger: context.logger,
    }),
});
