/**
 * Self-telemetry of the collector process: own CPU % (from `process.cpuUsage` deltas over wall time),
 * resident set size, heap use and event-loop delay (`perf_hooks.monitorEventLoopDelay`), sampled on
 * an interval into a bounded history. It measures the process it runs in; event counters live with
 * the pipeline.
 */
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

/** One telemetry sample. CPU is percent of one core; sizes are bytes; delays are milliseconds. */
export interface TelemetrySample {
  readonly at: number;
  readonly cpuPercent: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly eventLoopDelayP50Ms: number;
  readonly eventLoopDelayP99Ms: number;
  readonly eventLoopDelayMaxMs: number;
}

/** How many samples the history keeps. */
export const TELEMETRY_HISTORY = 120;

/**
 * How often the event-loop monitor's timer fires, in ms. Node's default of 10 ms wakes an idle
 * collector 100 times a second, most of what it spends doing nothing; at 100 ms a delay still shows
 * whenever a stall covers a tick, and a 10 s telemetry interval still holds 100 measurements.
 */
export const EVENT_LOOP_RESOLUTION_MS = 100;

/** Samples process resource use. `sample()` may also be called directly. */
export class SelfTelemetry {
  readonly #history: TelemetrySample[] = [];
  #lastCpu = process.cpuUsage();
  #lastWall = performance.now();
  #histogram: IntervalHistogram | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  readonly #resolutionMs: number;

  /** `resolutionMs`: the event-loop monitor's tick (default {@link EVENT_LOOP_RESOLUTION_MS}). */
  constructor(options: { readonly resolutionMs?: number } = {}) {
    this.#resolutionMs = options.resolutionMs ?? EVENT_LOOP_RESOLUTION_MS;
  }

  /** Starts the event-loop monitor and, when `intervalMs` is given, periodic sampling. */
  start(intervalMs?: number, onSample?: (s: TelemetrySample) => void): void {
    if (this.#histogram === undefined) {
      this.#histogram = monitorEventLoopDelay({ resolution: this.#resolutionMs });
      this.#histogram.enable();
    }
    this.#lastCpu = process.cpuUsage();
    this.#lastWall = performance.now();
    if (intervalMs !== undefined && this.#timer === undefined) {
      this.#timer = setInterval(() => {
        const s = this.sample();
        onSample?.(s);
      }, intervalMs);
      this.#timer.unref();
    }
  }

  /** Takes a sample now (CPU since the previous sample) and adds it to the history. */
  sample(): TelemetrySample {
    const cpu = process.cpuUsage(this.#lastCpu);
    const wall = performance.now();
    const elapsedMs = Math.max(1e-3, wall - this.#lastWall);
    this.#lastCpu = process.cpuUsage();
    this.#lastWall = wall;
    const h = this.#histogram;
    const mem = process.memoryUsage();
    const s: TelemetrySample = {
      at: Date.now(),
      cpuPercent: ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100,
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      eventLoopDelayP50Ms: h !== undefined && h.count > 0 ? h.percentile(50) / 1e6 : 0,
      eventLoopDelayP99Ms: h !== undefined && h.count > 0 ? h.percentile(99) / 1e6 : 0,
      eventLoopDelayMaxMs: h !== undefined && h.count > 0 ? h.max / 1e6 : 0,
    };
    h?.reset();
    this.#history.push(s);
    if (this.#history.length > TELEMETRY_HISTORY) this.#history.shift();
    return s;
  }

  /** The retained samples, oldest first. */
  history(): readonly TelemetrySample[] {
    return [...this.#history];
  }

  /** The newest sample, if any. */
  latest(): TelemetrySample | undefined {
    return this.#history[this.#history.length - 1];
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#histogram?.disable();
    this.#histogram = undefined;
  }
}
