/**
 * The sources `daemoneye-collector run` knows, with their `[sources.*]` configuration sections. Each
 * source package adds its definition here and so becomes part of the default configuration.
 */
import { field } from '@daemoneye/core';
import { createProcessSource } from '@daemoneye/source-process';
import type { SourceDefinition } from './source-registry.ts';

/** `[sources.process]`: the process source (see @daemoneye/source-process for the behaviour). */
export const processSourceDefinition: SourceDefinition = {
  key: 'process',
  schema: {
    enabled: field('boolean', true, 'Run the process source'),
    scan_interval: field('duration', 60_000, 'Full /proc rescan to reconcile the real-time backend', { min: 100 }),
    poll_interval: field('duration', 1000, 'Snapshot diff interval when no real-time backend is available', {
      min: 10,
    }),
    include_kernel_threads: field('boolean', false, 'Report kernel threads too'),
    hashing: field('boolean', true, 'SHA-256 of each executable (cached by device, inode, size, mtime)'),
    hash_max_file_size: field('bytes', 256 * 1024 * 1024, 'Executables larger than this are not hashed', { min: 1 }),
    hash_timeout: field('duration', 5000, 'A hash taking longer is abandoned', { min: 1 }),
    realtime: field('enum', 'auto', 'Use the kernel proc connector when permitted (auto) or poll (off)', {
      values: ['auto', 'off'],
    }),
    audit: field('enum', 'auto', 'Use the audit netlink for exec details when permitted (auto) or not (off)', {
      values: ['auto', 'off'],
    }),
    audit_wait: field('duration', 10, 'How long an exec waits for its audit record', { min: 0 }),
    receive_buffer: field('bytes', 32 * 1024 * 1024, 'Kernel receive buffer of the event sockets', { min: 4096 }),
  },
  create: (get, logger) =>
    createProcessSource({
      scanIntervalMs: Number(get('scan_interval')),
      pollIntervalMs: Number(get('poll_interval')),
      includeKernelThreads: get('include_kernel_threads') === true,
      hashing: {
        enabled: get('hashing') === true,
        maxFileBytes: Number(get('hash_max_file_size')),
        timeoutMs: Number(get('hash_timeout')),
      },
      realtime: get('realtime') as 'auto' | 'off',
      audit: get('audit') as 'auto' | 'off',
      auditWaitMs: Number(get('audit_wait')),
      receiveBufferBytes: Number(get('receive_buffer')),
      logger,
    }),
};

/** Sources of the default configuration, in registration order. */
export const DEFAULT_SOURCES: readonly SourceDefinition[] = [processSourceDefinition];
