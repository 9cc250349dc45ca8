/**
 * The performance source's plug-in definition: the `[sources.performance]` section (from
 * `perfSourceSchema`) and a factory turning its typed values into a `PerformanceEventSource`. It adds
 * no behaviour of its own.
 */
import { defineSource } from '@daemoneye/core';
import { perfSourceSchema } from './options.ts';
import { createPerfSource } from './perf-event-source.ts';

/** `[sources.performance]`: the performance source. */
export const perfSourceDefinition = defineSource({
  key: 'performance',
  description: 'Host performance: CPU, memory, load, disk, network, pressure, file handles, top processes, thresholds',
  schema: perfSourceSchema,
  create: (o, context) =>
    createPerfSource({
      intervalMs: o.interval,
      topN: o.topN,
      excludeDevices: o.excludeDevices,
      thresholds: o.thresholds,
      backend: o.backend,
      logger: context.logger,
      ...(context.shedding !== undefined ? { shedding: context.shedding } : {}),
    }),
});
