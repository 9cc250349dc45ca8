/**
 * Options of the process source, their documented defaults, and their validation. Bad values throw
 * `ERR_CONFIG_INVALID` at construction, naming the field, the value and the layer. The ports
 * (`procReader`, `snapshot`, `kernel`) exist so tests and other platforms can replace OS access; they
 * are not configuration a user normally sets. This module reads nothing from the OS.
 */
import { CollectorError, type Logger } from '@daemoneye/core';
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
  /** `'auto'` uses the proc connector when it opens (root, initial namespaces, Linux); `'off'` polls. */
  readonly realtime?: 'auto' | 'off';
  /** `'auto'` adds the audit exec monitor when it opens (root, audit not locked); `'off'` never does. */
  readonly audit?: 'auto' | 'off';
  /** How long an exec event waits for its audit record before /proc enrichment alone is used (default 10 ms). */
  readonly auditWaitMs?: number;
  /** Proc connector receive buffer in bytes (default 32 MiB). */
  readonly receiveBufferBytes?: number;
  /** Where diagnostics go (default: silent). */
  readonly logger?: Logger;
  /** Port: reads single processes on the main thread (default: the real file system). */
  readonly procReader?: ProcReader;
  /** Port: full snapshots (default: a /proc worker on Linux, systeminformation elsewhere). */
  readonly snapshot?: SnapshotPort;
  /** Port: kernel event readers (default: `@daemoneye/native`). */
  readonly kernel?: KernelPorts;
}

/** The defaults of every plain option. */
export const DEFAULT_PROCESS_SOURCE_OPTIONS = Object.freeze({
  name: 'process',
  scanIntervalMs: 60_000,
  pollIntervalMs: 1_000,
  includeKernelThreads: false,
  hashing: Object.freeze({ enabled: true, maxFileBytes: 256 * 1024 * 1024, timeoutMs: 5_000 }),
  realtime: 'auto',
  audit: 'auto',
  auditWaitMs: 10,
  receiveBufferBytes: 32 * 1024 * 1024,
} as const);

/** Options with every default applied. */
export interface ResolvedProcessSourceOptions {
  readonly name: string;
  readonly scanIntervalMs: number;
  readonly pollIntervalMs: number;
  readonly includeKernelThreads: boolean;
  readonly hashing: Required<HashingOptions>;
  readonly realtime: 'auto' | 'off';
  readonly audit: 'auto' | 'off';
  readonly auditWaitMs: number;
  readonly receiveBufferBytes: number;
  readonly logger: Logger | undefined;
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

function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !allowed.includes(value as T)) invalid(field, value, `one of ${allowed.join(', ')}`);
  return value as T;
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
    scanIntervalMs: positiveInt('scanIntervalMs', options.scanIntervalMs, d.scanIntervalMs, 100),
    pollIntervalMs: positiveInt('pollIntervalMs', options.pollIntervalMs, d.pollIntervalMs, 10),
    includeKernelThreads: flag('includeKernelThreads', options.includeKernelThreads, d.includeKernelThreads),
    hashing: {
      enabled: flag('hashing.enabled', h.enabled, d.hashing.enabled),
      maxFileBytes: positiveInt('hashing.maxFileBytes', h.maxFileBytes, d.hashing.maxFileBytes),
      timeoutMs: positiveInt('hashing.timeoutMs', h.timeoutMs, d.hashing.timeoutMs),
    },
    realtime: oneOf('realtime', options.realtime, ['auto', 'off'], d.realtime),
    audit: oneOf('audit', options.audit, ['auto', 'off'], d.audit),
    auditWaitMs: positiveInt('auditWaitMs', options.auditWaitMs, d.auditWaitMs, 0),
    receiveBufferBytes: positiveInt('receiveBufferBytes', options.receiveBufferBytes, d.receiveBufferBytes, 4096),
    logger: options.logger,
    procReader: options.procReader,
    snapshot: options.snapshot,
    kernel: options.kernel,
  };
}
