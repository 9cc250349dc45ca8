/**
 * Options of the process source, their documented defaults, and their validation. Bad values throw
 * `ERR_CONFIG_INVALID` at construction, naming the field, the value and the layer. The ports
 * (`procReader`, `snapshot`, `kernel`) exist so tests and other platforms can replace OS access; they
 * are not configuration a user normally sets. This module reads nothing from the OS.
 */
import { CollectorError, type ConfigSchema, field, type Logger, type SheddingSignal } from '@daemoneye/core';
import type { KernelPorts } from './internal/kernel-port.ts';
import type { ProcReader } from './internal/proc-reader.ts';
import type { SnapshotPort } from './internal/snapshot-port.ts';

/** Executable hashing settings. */
export interface HashingOptions {
  /** Hash executables with SHA-256 (default true). */
  readonly enabled?: boolean;
  /** Larger files are not hashed; the event says why in `platformMetadata.hashError` (default 256 MiB). */
  readonly maxFileBytes?: number;
  /** A hash taking longer is abandoned (default 5,000 ms). */
  readonly timeoutMs?: number;
}

/** Options of {@link createProcessSource}. Every field is optional; see {@link DEFAULT_PROCESS_SOURCE_OPTIONS}. */
export interface ProcessSourceOptions {
  /** The source's name (default `'process'`). */
  readonly name?: string;
  /** With the real-time backend: a full rescan every this many ms reconciles missed events (default 60,000). */
  readonly scanIntervalMs?: number;
  /** Without the real-time backend: a snapshot diff every this many ms yields start/exit events (default 1,000). */
  readonly pollIntervalMs?: number;
  /** Report kernel threads (children of kthreadd) too (default false). */
  readonly includeKernelThreads?: boolean;
  readonly hashing?: HashingOptions;
  /** `'auto'` uses a kernel backend when one opens (root, initial namespaces, Linux); `'off'` polls. */
  readonly realtime?: 'auto' | 'off';
  /**
   * Which backend produces events: `'auto'` (default) tries eBPF, then the proc connector (with
   * audit), then polling, and says why it fell back; `'ebpf'`, `'proc-connector'` or `'poll'`
   * force one (a forced kernel backend that cannot open falls back to polling, with the reason in
   * the health report).
   */
  readonly backend?: 'auto' | 'ebpf' | 'proc-connector' | 'poll';
  /** With eBPF: the bound on delivery latency, in ms (default 50). */
  readonly ebpfLatencyMs?: number;
  /** With eBPF: the kernel ring buffer, in bytes, a power of two (default 8 MiB). */
  readonly ebpfRingBufferBytes?: number;
  /** `'auto'` adds the audit exec monitor when it opens (root, audit not locked); `'off'` never does. */
  readonly audit?: 'auto' | 'off';
  /** How long an exec event waits for its audit record before /proc enrichment alone is used (default 10 ms). */
  readonly auditWaitMs?: number;
  /** Proc connector receive buffer in bytes (default 32 MiB). */
  readonly receiveBufferBytes?: number;
  /**
   * Where the audit exec monitor records what it changed, for its guardian and for
   * `daemoneye-collector audit restore` (default `/run/daemoneye/audit-state.json`).
   */
  readonly auditStateFile?: string;
  /** Ancestors named in each process event's `ancestry` (default 8; 0 names the parent only). */
  readonly ancestryDepth?: number;
  /** Live processes the process table keeps at most; more are evicted and counted (default 65,536). */
  readonly processTableMax?: number;
  /** How long an exited process stays in the table for its children's lineage (default 30,000 ms). */
  readonly exitedRetentionMs?: number;
  /** Where diagnostics go (default: silent). */
  readonly logger?: Logger;
  /** The collector's load-shedding level: while above `none`, executables are not hashed. */
  readonly shedding?: SheddingSignal;
  /** Port: reads single processes on the main thread (default: the real file system). */
  readonly procReader?: ProcReader;
  /** Port: full snapshots (default on Linux: /proc on the calling thread while a scan is cheap, snapshot workers otherwise; systeminformation elsewhere). */
  readonly snapshot?: SnapshotPort;
  /** Port: kernel event readers (default: `@daemoneye/native`). */
  readonly kernel?: KernelPorts;
}

/**
 * The process source's configuration fields (the `[sources.process]` section), declared once: the
 * defaults and bounds of {@link ProcessSourceOptions} below come from here.
 */
export const processSourceSchema = {
  scan_interval: field('duration', 60_000, 'Full /proc rescan to reconcile the real-time backend', { min: 100 }),
  poll_interval: field('duration', 1000, 'Snapshot diff interval when no real-time backend is available', {
    min: 10,
  }),
  include_kernel_threads: field('boolean', false, 'Report kernel threads too'),
  hashing: field('boolean', true, 'SHA-256 of each executable (cached by device, inode, size, ctime and mtime in ns)'),
  hash_max_file_size: field('bytes', 256 * 1024 * 1024, 'Executables larger than this are not hashed', { min: 1 }),
  hash_timeout: field('duration', 5000, 'A hash taking longer is abandoned', { min: 1 }),
  realtime: field('enum', 'auto', 'Use the kernel proc connector when permitted (auto) or poll (off)', {
    values: ['auto', 'off'],
  }),
  backend: field(
    'enum',
    'auto',
    'Process event backend: eBPF, then proc connector + audit, then polling (auto), or one forced',
    {
      values: ['auto', 'ebpf', 'proc-connector', 'poll'],
    },
  ),
  ebpf_latency: field('duration', 50, 'eBPF: longest wait before kernel records reach the collector', {
    min: 1,
    max: 1000,
  }),
  ebpf_ring_buffer: field('bytes', 8 * 1024 * 1024, 'eBPF: kernel ring buffer size (a power of two)', {
    min: 65536,
  }),
  audit: field('enum', 'auto', 'Use the audit netlink for exec details when permitted (auto) or not (off)', {
    values: ['auto', 'off'],
  }),
  audit_wait: field('duration', 10, 'How long an exec waits for its audit record', { min: 0 }),
  receive_buffer: field('bytes', 32 * 1024 * 1024, 'Kernel receive buffer of the event sockets', { min: 4096 }),
  audit_state_file: field(
    'string',
    '/run/daemoneye/audit-state.json',
    'Where the audit changes are recorded for crash recovery (audit restore)',
  ),
  ancestry_depth: field('integer', 8, 'Ancestors named in each process event (0: the parent only)', {
    min: 0,
    max: 64,
  }),
  process_table_max: field('integer', 65_536, 'Live processes the process table keeps; more are evicted and counted', {
    min: 64,
  }),
  exited_retention: field('duration', 30_000, "How long an exited process stays known for its children's lineage", {
    min: 0,
  }),
} as const satisfies ConfigSchema;

const F = processSourceSchema;

/** The defaults of every plain option (from {@link processSourceSchema}). */
export const DEFAULT_PROCESS_SOURCE_OPTIONS = Object.freeze({
  name: 'process',
  scanIntervalMs: F.scan_interval.default,
  pollIntervalMs: F.poll_interval.default,
  includeKernelThreads: F.include_kernel_threads.default,
  hashing: Object.freeze({
    enabled: F.hashing.default,
    maxFileBytes: F.hash_max_file_size.default,
    timeoutMs: F.hash_timeout.default,
  }),
  realtime: F.realtime.default,
  backend: F.backend.default,
  ebpfLatencyMs: F.ebpf_latency.default,
  ebpfRingBufferBytes: F.ebpf_ring_buffer.default,
  audit: F.audit.default,
  auditWaitMs: F.audit_wait.default,
  receiveBufferBytes: F.receive_buffer.default,
  auditStateFile: F.audit_state_file.default,
  ancestryDepth: F.ancestry_depth.default,
  processTableMax: F.process_table_max.default,
  exitedRetentionMs: F.exited_retention.default,
} as const);

/** Options with every default applied. */
export interface ResolvedProcessSourceOptions {
  readonly name: string;
  readonly scanIntervalMs: number;
  readonly pollIntervalMs: number;
  readonly includeKernelThreads: boolean;
  readonly hashing: Required<HashingOptions>;
  readonly realtime: 'auto' | 'off';
  readonly backend: 'auto' | 'ebpf' | 'proc-connector' | 'poll';
  readonly ebpfLatencyMs: number;
  readonly ebpfRingBufferBytes: number;
  readonly audit: 'auto' | 'off';
  readonly auditWaitMs: number;
  readonly receiveBufferBytes: number;
  readonly auditStateFile: string;
  readonly ancestryDepth: number;
  readonly processTableMax: number;
  readonly exitedRetentionMs: number;
  readonly logger: Logger | undefined;
  readonly shedding: SheddingSignal | undefined;
  readonly procReader: ProcReader | undefined;
  readonly snapshot: SnapshotPort | undefined;
  readonly kernel: KernelPorts | undefined;
}

const LAYER = 'ProcessSourceOptions';

function invalid(field: string, value: unknown, expected: string): never {
  throw new CollectorError(
    'ERR_CONFIG_INVALID',
    `${LAYER}.${field} must be ${expected}, got ${JSON.stringify(value)}`,
    {
      details: { field, value, layer: LAYER },
    },
  );
}

function positiveInt(field: string, value: unknown, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    invalid(field, value, `an integer >= ${min}`);
  }
  return value;
}

function nonEmpty(field: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.trim() === '') invalid(field, value, 'a non-empty string');
  return value;
}

function boundedInt(field: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    invalid(field, value, `an integer from ${min} to ${max}`);
  }
  return value;
}

function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !allowed.includes(value as T)) invalid(field, value, `one of ${allowed.join(', ')}`);
  return value as T;
}

function powerOfTwo(field: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < 65536 ||
    value > 2 ** 30 ||
    (value & (value - 1)) !== 0
  )
    invalid(field, value, 'a power of two from 65536 to 2^30');
  return value;
}

function flag(field: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') invalid(field, value, 'a boolean');
  return value;
}

/** Applies defaults and validates; throws `ERR_CONFIG_INVALID` naming the first bad field. */
export function resolveProcessSourceOptions(options: ProcessSourceOptions = {}): ResolvedProcessSourceOptions {
  const d = DEFAULT_PROCESS_SOURCE_OPTIONS;
  const name = options.name ?? d.name;
  if (typeof name !== 'string' || name.trim() === '') invalid('name', name, 'a non-empty string');
  const h = options.hashing ?? {};
  return {
    name,
    scanIntervalMs: positiveInt('scanIntervalMs', options.scanIntervalMs, d.scanIntervalMs, F.scan_interval.min),
    pollIntervalMs: positiveInt('pollIntervalMs', options.pollIntervalMs, d.pollIntervalMs, F.poll_interval.min),
    includeKernelThreads: flag('includeKernelThreads', options.includeKernelThreads, d.includeKernelThreads),
    hashing: {
      enabled: flag('hashing.enabled', h.enabled, d.hashing.enabled),
      maxFileBytes: positiveInt(
        'hashing.maxFileBytes',
        h.maxFileBytes,
        d.hashing.maxFileBytes,
        F.hash_max_file_size.min,
      ),
      timeoutMs: positiveInt('hashing.timeoutMs', h.timeoutMs, d.hashing.timeoutMs, F.hash_timeout.min),
    },
    realtime: oneOf('realtime', options.realtime, F.realtime.values ?? [], d.realtime),
    backend: oneOf('backend', options.backend, F.backend.values ?? [], d.backend),
    ebpfLatencyMs: boundedInt('ebpfLatencyMs', options.ebpfLatencyMs, d.ebpfLatencyMs, 1, 1000),
    ebpfRingBufferBytes: powerOfTwo('ebpfRingBufferBytes', options.ebpfRingBufferBytes, d.ebpfRingBufferBytes),
    audit: oneOf('audit', options.audit, F.audit.values ?? [], d.audit),
    auditWaitMs: positiveInt('auditWaitMs', options.auditWaitMs, d.auditWaitMs, F.audit_wait.min),
    receiveBufferBytes: positiveInt(
      'receiveBufferBytes',
      options.receiveBufferBytes,
      d.receiveBufferBytes,
      F.receive_buffer.min,
    ),
    auditStateFile: nonEmpty('auditStateFile', options.auditStateFile, d.auditStateFile),
    ancestryDepth: boundedInt('ancestryDepth', options.ancestryDepth, d.ancestryDepth, 0, 64),
    processTableMax: positiveInt(
      'processTableMax',
      options.processTableMax,
      d.processTableMax,
      F.process_table_max.min,
    ),
    exitedRetentionMs: positiveInt('exitedRetentionMs', options.exitedRetentionMs, d.exitedRetentionMs, 0),
    logger: options.logger,
    shedding: options.shedding,
    procReader: options.procReader,
    snapshot: options.snapshot,
    kernel: options.kernel,
  };
}
