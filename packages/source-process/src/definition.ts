/**
 * The process source's plug-in definition: the `[sources.process]` section (from
 * `processSourceSchema`) and a factory that turns its typed values into a `ProcessEventSource`. The
 * `daemoneye-collector` command composes it from its list; a program can pass it to
 * `pluginSchema`/`composeCollector` the same way. It adds no behaviour of its own.
 */
import { defineSource } from '@daemoneye/core';
import { processSourceSchema } from './options.ts';
import { createProcessSource } from './process-event-source.ts';

/** `[sources.process]`: the process source. */
export const processSourceDefinition = defineSource({
  key: 'process',
  description:
    'Processes: a /proc snapshot, then real-time fork, exec and exit through the kernel (eBPF, else proc connector + audit)',
  schema: processSourceSchema,
  create: (o, context) =>
    createProcessSource({
      scanIntervalMs: o.scanInterval,
      pollIntervalMs: o.pollInterval,
      includeKernelThreads: o.includeKernelThreads,
      hashing: { enabled: o.hashing, maxFileBytes: o.hashMaxFileSize, timeoutMs: o.hashTimeout },
      realtime: o.realtime,
      backend: o.backend,
      ebpfLatencyMs: o.ebpfLatency,
      ebpfRingBufferBytes: o.ebpfRingBuffer,
      audit: o.audit,
      auditWaitMs: o.auditWait,
      receiveBufferBytes: o.receiveBuffer,
      auditStateFile: o.auditStateFile,
      ancestryDepth: o.ancestryDepth,
      processTableMax: o.processTableMax,
      exitedRetentionMs: o.exitedRetention,
      logger: context.logger,
      ...(context.shedding !== undefined ? { shedding: context.shedding } : {}),
    }),
});
