/**
 * The eBPF process loader: loads the shipped CO-RE object (`bpf/process.bpf.o`) through
 * libbpf.so.1 in a worker thread that owns all libbpf state, and delivers exec, fork and exit
 * events of thread-group leaders in batches. An exec event carries the file name, argv (cut at
 * {@link EBPF_ARGV_MAX} bytes and flagged), uid, euid, gid and parent as the kernel had them at the
 * exec. The programs write without waking the reader until `wakeupBytes` are pending or `latencyMs`
 * have passed, so the reader wakes once per batch and delivery waits at most about `latencyMs`.
 * Drops (a full ring) and truncations are counted in the kernel and reported as loss with their
 * reason. Nothing is pinned: closing, or the process dying by any means, releases every program
 * and link. {@link probeEbpf} says, without loading anything, why this host cannot run it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { release } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { EbpfProcessEvent } from './ebpf-event.ts';
import { checkOpenOptions, closeOnAbort } from './internal/abort.ts';
import { effectiveCapabilities } from './internal/capabilities.ts';
import type { EbpfWorkerSettings } from './internal/ebpf-worker.ts';
import { LIBBPF_PACKAGE } from './internal/libbpf.ts';
import { startReader } from './internal/reader-host.ts';
import { invalidArgument, NativeError } from './native-error.ts';
import type { Availability } from './probes.ts';
import type { LossInfo, NativeOpenOptions } from './reader-options.ts';

/** The shipped BPF object (compiled from `bpf/process.bpf.c`, stripped of DWARF, BTF kept). */
export const EBPF_OBJECT_PATH = fileURLToPath(new URL('../bpf/process.bpf.o', import.meta.url));

/** The oldest kernel the object runs on: BPF ring buffers and `bpf_ringbuf_query` came in 5.8. */
export const EBPF_MIN_KERNEL = '5.8';

/** A loss report of the eBPF loader. */
export interface EbpfLossInfo extends LossInfo {
  /**
   * `ring_full`: the kernel ring buffer refused records (events lost); `argv_truncated` /
   * `filename_truncated`: exec events delivered with a cut argument block or file name (flagged on
   * the event); `malformed`: records that did not decode; `overflow`: batches waiting for a first
   * `onEvents` were dropped.
   */
  readonly reason: 'ring_full' | 'argv_truncated' | 'filename_truncated' | 'malformed' | 'overflow';
}

/** Counters of an eBPF loader. */
export interface EbpfProcessStats {
  /** Events delivered. */
  readonly received: number;
  /** Events lost (ring full, malformed, overflow). */
  readonly lostEvents: number;
  /** Exec events delivered with their argument block or file name cut. */
  readonly truncated: number;
  /** The ring buffer size in bytes. */
  readonly ringBufferBytes: number;
  /** The attached programs. */
  readonly programs: readonly string[];
  /** Milliseconds from open to loaded (verifier included), and from loaded to attached. */
  readonly loadMs: number;
  readonly attachMs: number;
}

/** A running eBPF process loader. */
export interface EbpfProcessReader {
  /** Registers a callback for event batches, in ring order; returns an unsubscribe function. Batches before the first callback wait for it. */
  onEvents(cb: (events: readonly EbpfProcessEvent[]) => void): () => void;
  /** Registers a callback for loss and truncation reports; returns an unsubscribe function. */
  onLoss(cb: (info: EbpfLossInfo) => void): () => void;
  /** Registers a callback for failures after open (a poll error ends the loader); returns an unsubscribe function. */
  onError(cb: (err: Error) => void): () => void;
  stats(): EbpfProcessStats;
  /** Delivers what is in the ring, detaches the programs, frees the ring and ends the worker. Idempotent; aborting `signal` does the same. */
  close(): Promise<void>;
}

/** Options for {@link openEbpfProcessMonitor}. */
export interface EbpfProcessOptions extends NativeOpenOptions {
  /** Ring buffer size in bytes: a power of two, at least 64 KiB (default 8 MiB). */
  readonly ringBufferBytes?: number;
  /** Wake the reader once this many bytes are pending (default 64 KiB; 0 wakes it per record). */
  readonly wakeupBytes?: number;
  /** ... or once this long (ms) has passed since the last wake-up: the bound on delivery latency (default 50, 1–1000). */
  readonly latencyMs?: number;
  /** Attach the fork program (default true). */
  readonly fork?: boolean;
  /** Attach the exit program (default true). */
  readonly exit?: boolean;
  /** The BPF object to load (default {@link EBPF_OBJECT_PATH}). */
  readonly objectPath?: string;
  /** The libbpf shared object (default `libbpf.so.1`, Debian package `libbpf1`). */
  readonly libbpfPath?: string;
}

/** The defaults of {@link EbpfProcessOptions}. */
export const DEFAULT_EBPF_OPTIONS = Object.freeze({
  ringBufferBytes: 8 * 1024 * 1024,
  wakeupBytes: 64 * 1024,
  latencyMs: 50,
  libbpfPath: 'libbpf.so.1',
});

function kernelAtLeast(rel: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(rel);
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
}

/**
 * Whether the eBPF loader can run here, from cheap checks in the order a fix would need them:
 * Linux, kernel ≥ 5.8, kernel BTF (`/sys/kernel/btf/vmlinux`), the initial user namespace,
 * CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN), no `confidentiality` lockdown, libbpf.so.1 loadable (naming the package to
 * install), the object present. Loads no program; resolves, never rejects.
 */
export function probeEbpf(options: Pick<EbpfProcessOptions, 'libbpfPath' | 'objectPath'> = {}): Availability {
  if (process.platform !== 'linux')
    return { available: false, code: 'not_linux', reason: `eBPF: needs Linux (platform is ${process.platform})` };
  const rel = release();
  if (!kernelAtLeast(rel, 5, 8))
    return {
      available: false,
      code: 'unsupported',
      reason: `eBPF: kernel ${rel} is older than ${EBPF_MIN_KERNEL} (no BPF ring buffer)`,
    };
  if (!existsSync('/sys/kernel/btf/vmlinux'))
    return {
      available: false,
      code: 'unsupported',
      reason: 'eBPF: no kernel BTF (/sys/kernel/btf/vmlinux is missing; the kernel needs CONFIG_DEBUG_INFO_BTF)',
    };
  try {
    // Capabilities held in another user namespace do not count for bpf(2).
    const map = readFileSync('/proc/self/uid_map', 'latin1').trim().split(/\s+/);
    if (map.join(' ') !== '0 0 4294967295')
      return {
        available: false,
        code: 'no_permission',
        reason: 'eBPF: not in the initial user namespace (its capabilities do not count for bpf)',
      };
  } catch {
    // No /proc: the capability check below decides.
  }
  const caps = effectiveCapabilities(['CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_ADMIN']);
  if (caps !== undefined && caps.CAP_SYS_ADMIN !== true && !(caps.CAP_BPF === true && caps.CAP_PERFMON === true)) {
    const missing = (['CAP_BPF', 'CAP_PERFMON'] as const).filter((n) => caps[n] !== true);
    return {
      available: false,
      code: 'no_permission',
      reason: `eBPF: missing ${missing.join(' and ')} (or CAP_SYS_ADMIN)`,
    };
  }
  try {
    const mode = /\[(\w+)\]/.exec(readFileSync('/sys/kernel/security/lockdown', 'latin1'))?.[1];
    if (mode === 'confidentiality')
      return {
        available: false,
        code: 'no_permission',
        reason: 'eBPF: kernel lockdown is in confidentiality mode (kernel memory reads are refused)',
      };
  } catch {
    // No securityfs or no lockdown LSM: nothing locked down.
  }
  const libbpfPath = options.libbpfPath ?? DEFAULT_EBPF_OPTIONS.libbpfPath;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    koffi.load(libbpfPath);
  } catch (e) {
    return {
      available: false,
      code: 'unsupported',
      reason: `eBPF: ${libbpfPath} cannot be loaded; install the ${LIBBPF_PACKAGE} package (${e instanceof Error ? e.message : String(e)})`,
    };
  }
  const objectPath = options.objectPath ?? EBPF_OBJECT_PATH;
  if (!existsSync(objectPath))
    return { available: false, code: 'error', reason: `eBPF: the BPF object ${objectPath} is missing` };
  return { available: true };
}

/**
 * Loads and attaches the process programs. Rejects with NativeError `ERR_NATIVE_UNAVAILABLE` (with
 * the probe's reason, or the kernel's refusal and libbpf's log) when the host cannot run them,
 * `ERR_NATIVE_INVALID_ARGUMENT` for a bad option, `ERR_NATIVE_ABORTED` when `signal` aborts first,
 * `ERR_NATIVE_CALL` for other failures.
 */
export async function openEbpfProcessMonitor(opts: EbpfProcessOptions = {}): Promise<EbpfProcessReader> {
  const { logger: log } = checkOpenOptions('openEbpfProcessMonitor', opts);
  const d = DEFAULT_EBPF_OPTIONS;
  const ringBufferBytes = opts.ringBufferBytes ?? d.ringBufferBytes;
  if (
    !Number.isInteger(ringBufferBytes) ||
    ringBufferBytes < 65536 ||
    ringBufferBytes > 2 ** 30 ||
    (ringBufferBytes & (ringBufferBytes - 1)) !== 0
  )
    throw invalidArgument('ringBufferBytes', opts.ringBufferBytes, 'a power of two from 65536 to 2^30');
  const wakeupBytes = opts.wakeupBytes ?? d.wakeupBytes;
  if (!Number.isInteger(wakeupBytes) || wakeupBytes < 0 || wakeupBytes > ringBufferBytes)
    throw invalidArgument('wakeupBytes', opts.wakeupBytes, 'an integer from 0 to ringBufferBytes');
  const latencyMs = opts.latencyMs ?? d.latencyMs;
  if (!Number.isInteger(latencyMs) || latencyMs < 1 || latencyMs > 1000)
    throw invalidArgument('latencyMs', opts.latencyMs, 'an integer from 1 to 1000');
  for (const k of ['fork', 'exit'] as const)
    if (opts[k] !== undefined && typeof opts[k] !== 'boolean') throw invalidArgument(k, opts[k], 'a boolean');
  const probe = probeEbpf(opts);
  if (!probe.available) throw new NativeError('ERR_NATIVE_UNAVAILABLE', probe.reason);
  const settings: EbpfWorkerSettings = {
    objectPath: opts.objectPath ?? EBPF_OBJECT_PATH,
    libbpfPath: opts.libbpfPath ?? d.libbpfPath,
    ringBufferBytes,
    wakeupBytes,
    latencyMs,
    fork: opts.fork ?? true,
    exit: opts.exit ?? true,
  };
  const host = await startReader<EbpfProcessEvent>('ebpf-worker', settings, { signal: opts.signal });
  const detail = (host.ready.detail ?? {}) as { programs?: string[]; loadMs?: number; attachMs?: number };
  const programs = Object.freeze([...(detail.programs ?? [])]);
  log.debug({ programs, loadMs: detail.loadMs, attachMs: detail.attachMs, ringBufferBytes }, 'eBPF programs attached');
  let lostEvents = 0;
  let truncated = 0;
  host.onLoss((info) => {
    if (info.reason === 'argv_truncated' || info.reason === 'filename_truncated') truncated += info.count;
    else lostEvents += info.count;
  });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      stopListening();
      await host.close();
      log.debug({ received: host.delivered(), lostEvents, truncated }, 'eBPF programs detached');
    })();
    return closing;
  };
  const stopListening = closeOnAbort(opts.signal, close);
  return {
    onEvents: (cb) => host.onItems(cb),
    onLoss: (cb) => host.onLoss((info) => cb(info as EbpfLossInfo)),
    onError: (cb) => host.onError(cb),
    stats: () => ({
      received: host.delivered(),
      lostEvents,
      truncated,
      ringBufferBytes,
      programs,
      loadMs: detail.loadMs ?? 0,
      attachMs: detail.attachMs ?? 0,
    }),
    close,
  };
}
