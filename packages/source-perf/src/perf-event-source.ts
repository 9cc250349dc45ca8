/**
 * `PerformanceEventSource`: the performance event source. Every `intervalMs` it samples the host —
 * CPU total and per core, memory and swap, load, disk I/O per device, interface traffic, pressure
 * stall information, file handles, and the top-N processes by CPU and by memory — from /proc (or
 * systeminformation off Linux), sends a `sample` event per value, and a `threshold_crossed` or
 * `recovered` event when a configured bound is crossed or recovered for its hold time. A polling
 * source: it awaits `send`, and samples half as often while the collector is under pressure.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CollectionEvent,
  CollectorError,
  describeError,
  type EventSender,
  type EventSource,
  type HealthReport,
  type Logger,
  type PerformanceEvent,
  SourceCaps,
  type SourceCapsBits,
  silentLogger,
} from '@daemoneye/core';
import { type PerfSample, type ProcFiles, ProcSampler } from './internal/proc-sampler.ts';
import { SystemInformationSampler } from './internal/si-sampler.ts';
import { ThresholdEvaluator } from './internal/thresholds.ts';
import { type PerfSourceOptions, type ResolvedPerfSourceOptions, resolvePerfSourceOptions } from './options.ts';

/** The backend producing samples. */
export type PerfBackend = 'idle' | 'procfs' | 'systeminformation';

/** Counters of the current run. */
export interface PerfSourceStats {
  readonly backend: PerfBackend;
  readonly samples: number;
  readonly eventsSent: number;
  readonly eventsDropped: number;
  readonly thresholdEvents: number;
  readonly failedSamples: number;
  readonly lastSampleMs: number;
}

/** The real /proc. */
export const nodeProcFiles: ProcFiles = {
  read(path) {
    try {
      return readFileSync(path, 'latin1');
    } catch {
      return undefined;
    }
  },
  listPids() {
    const out: number[] = [];
    for (const name of readdirSync('/proc')) {
      const c = name.charCodeAt(0);
      if (c >= 48 && c <= 57) out.push(Number(name));
    }
    return out;
  },
};

const PID_STAT = /\/\d+\/stat$/;

/** `/proc/PID/stat` files held open between samples, at most. */
const HELD_PID_STATS = 1024;

/**
 * The real /proc through `@daemoneye/native`'s procfs reader: one open, read and close per file
 * (closes batched with close_range), where Node's fs also stats each file and costs more per call.
 * `/proc/PID/stat` files stay open between samples (up to 1,024) and are re-read with one pread(2)
 * each; those of processes that went away are closed after the sample. Node's fs when the FFI
 * cannot load.
 */
export async function openProcFiles(): Promise<ProcFiles> {
  if (process.platform !== 'linux') return nodeProcFiles;
  let reader: import('@daemoneye/native').ProcfsReader;
  try {
    const native = await import('@daemoneye/native');
    reader = native.createProcfsReader({ batchClose: 64, keepOpen: HELD_PID_STATS });
  } catch {
    return nodeProcFiles;
  }
  return {
    read(path) {
      const text = PID_STAT.test(path) ? reader.readHeld(path) : reader.readText(path);
      return typeof text === 'string' ? text : undefined;
    },
    listPids: nodeProcFiles.listPids,
    flush: () => reader.flush(),
  };
}

/** Bytes per page, from this process's resident pages and its RSS (4096 if that cannot be read). */
function pageSize(files: ProcFiles, procRoot: string): number {
  const statm = files.read(`${procRoot}/self/statm`);
  const pages = Number(statm?.split(' ')[1]);
  if (!Number.isFinite(pages) || pages <= 0) return 4096;
  const ratio = process.memoryUsage.rss() / pages;
  return 2 ** Math.round(Math.log2(ratio));
}

/**
 * Time between two samples: the interval, doubled under backpressure, and 2× or 4× longer while the
 * collector sheds load (`level` 1 or 2).
 */
export function sampleDelay(intervalMs: number, level: number, underPressure: boolean): number {
  return intervalMs * 2 ** Math.min(2, Math.max(0, level)) * (underPressure ? 2 : 1);
}

/** The performance event source. Construct with {@link createPerfSource} or `new`. */
export class PerformanceEventSource implements EventSource {
  readonly #o: ResolvedPerfSourceOptions;
  readonly #log: Logger;
  #backend: PerfBackend = 'idle';
  #fallbackReason: string | undefined;
  #failedInARow = 0;
  #lastError: string | undefined;
  #abort: AbortController | undefined;
  /** Turns the backend's top-N lists off (true) or on. */
  #skipTopN: (skip: boolean) => void = () => {};
  #stats = { samples: 0, sent: 0, dropped: 0, thresholdEvents: 0, failed: 0, lastSampleMs: 0 };

  /** Throws `ERR_CONFIG_INVALID` or `ERR_PERF_THRESHOLD_INVALID` for bad options. */
  constructor(options: PerfSourceOptions = {}) {
    this.#o = resolvePerfSourceOptions(options);
    this.#log = (this.#o.logger ?? silentLogger).child({ source: this.#o.name });
  }

  name(): string {
    return this.#o.name;
  }

  /** PERFORMANCE | SYSTEM_WIDE (a polling source: no REALTIME; /proc reads are not kernel-level hooks). */
  capabilities(): SourceCapsBits {
    return SourceCaps.PERFORMANCE | SourceCaps.SYSTEM_WIDE;
  }

  /** The backend in use (`idle` when not running). */
  backend(): PerfBackend {
    return this.#backend;
  }

  stats(): PerfSourceStats {
    const s = this.#stats;
    return {
      backend: this.#backend,
      samples: s.samples,
      eventsSent: s.sent,
      eventsDropped: s.dropped,
      thresholdEvents: s.thresholdEvents,
      failedSamples: s.failed,
      lastSampleMs: s.lastSampleMs,
    };
  }

  /**
   * Samples every `intervalMs` until `shutdownSignal` aborts or `stop()` is called. Rejects when
   * already running. A sample that fails is logged and counted; after 3 in a row the health check
   * reports unhealthy.
   */
  async start(tx: EventSender, shutdownSignal: AbortSignal): Promise<void> {
    if (this.#abort !== undefined)
      throw new CollectorError('ERR_COLLECTOR_STATE', `source ${this.#o.name} is already running`);
    const abort = new AbortController();
    this.#abort = abort;
    const signal = AbortSignal.any([shutdownSignal, abort.signal]);
    this.#stats = { samples: 0, sent: 0, dropped: 0, thresholdEvents: 0, failed: 0, lastSampleMs: 0 };
    this.#failedInARow = 0;
    const thresholds = new ThresholdEvaluator(this.#o.thresholds);
    const files = this.#o.procFiles ?? (await openProcFiles());
    const sample = this.#openBackend(thresholds, files);
    this.#log.info({ backend: this.#backend, intervalMs: this.#o.intervalMs }, 'performance source started');
    tx.ready();
    try {
      while (!signal.aborted) {
        const started = performance.now();
        const level = this.#o.shedding?.level ?? 0;
        this.#skipTopN(level > 0);
        let samples: PerfSample[] | undefined;
        try {
          samples = await sample();
          this.#failedInARow = 0;
        } catch (e) {
          this.#failedInARow++;
          this.#stats.failed++;
          this.#lastError = describeError(e);
          this.#log.error({ err: e }, 'performance sample failed');
        }
        this.#stats.lastSampleMs = performance.now() - started;
        if (samples !== undefined) {
          this.#stats.samples++;
          const now = Date.now();
          const events: PerformanceEvent[] = samples.map((s) =>
            CollectionEvent.performance({ ...s, subtype: 'sample', timestamp: now }),
          );
          for (const t of thresholds.evaluate(samples, now)) {
            this.#stats.thresholdEvents++;
            const { metric: _m, instance: _i, ...bound } = t.rule;
            events.push(
              CollectionEvent.performance({ ...t.sample, subtype: t.subtype, threshold: bound, timestamp: now }),
            );
            this.#log.info(
              { metric: t.sample.metricName, instance: t.sample.instance, value: t.sample.value },
              t.subtype,
            );
          }
          for (const e of events) {
            const ok = await tx.send(e);
            if (ok) this.#stats.sent++;
            else if (tx.closed) return;
            else this.#stats.dropped++;
          }
        }
        const delay = sampleDelay(this.#o.intervalMs, level, tx.underPressure);
        await sleep(Math.max(0, delay - (performance.now() - started)), undefined, { signal }).catch(() => {});
      }
    } finally {
      if (this.#abort === abort) this.#abort = undefined;
      this.#backend = 'idle';
    }
  }

  /** Makes `start` return. Idempotent. */
  async stop(): Promise<void> {
    this.#abort?.abort();
  }

  /** Rejects after 3 failed samples in a row; Degraded on the systeminformation fallback. */
  async healthCheck(): Promise<HealthReport | undefined> {
    if (this.#failedInARow >= 3) {
      throw new CollectorError(
        'ERR_SOURCE_FAILED',
        `${this.#failedInARow} performance samples failed in a row: ${this.#lastError}`,
      );
    }
    if (this.#backend === 'systeminformation') {
      return { status: 'degraded', reason: `systeminformation backend: ${this.#fallbackReason ?? 'configured'}` };
    }
    return undefined;
  }

  #openBackend(thresholds: ThresholdEvaluator, files: ProcFiles): () => Promise<PerfSample[]> {
    const o = this.#o;
    const haveProc = o.procFiles !== undefined || files.read(`${o.procRoot}/stat`) !== undefined;
    if (o.backend === 'systeminformation' || (o.backend === 'auto' && !haveProc)) {
      this.#backend = 'systeminformation';
      this.#fallbackReason =
        o.backend === 'systeminformation'
          ? 'backend = "systeminformation" was configured'
          : `no ${o.procRoot}/stat on ${process.platform}`;
      const si = new SystemInformationSampler(o.topN);
      this.#skipTopN = (skip) => {
        si.skipTopN = skip;
      };
      return () => si.sample();
    }
    this.#backend = 'procfs';
    this.#fallbackReason = undefined;
    const sampler = new ProcSampler(files, {
      topN: o.topN,
      excludeDevices: o.excludeDevices,
      clockTicks: 100,
      pageSize: o.procFiles === undefined ? pageSize(files, o.procRoot) : 4096,
      procRoot: o.procRoot,
    });
    this.#skipTopN = (skip) => {
      sampler.skipTopN = skip;
    };
    return async () => {
      // Processes a threshold holds as crossed stay listed until they recover or exit.
      const watch = new Set(
        [...thresholds.crossed('process.cpu'), ...thresholds.crossed('process.memory')].map(Number),
      );
      let samples: PerfSample[];
      try {
        samples = sampler.sample(Date.now(), watch);
      } finally {
        files.flush?.();
      }
      if (samples.length === 0) throw new Error(`nothing could be read under ${o.procRoot}`);
      return samples;
    };
  }
}

/** Creates a performance source; throws for bad options. */
export function createPerfSource(options: PerfSourceOptions = {}): PerformanceEventSource {
  return new PerformanceEventSource(options);
}
