/**
 * `Collector`: the runtime that owns the sources, the bounded channel, the batcher, the processors
 * and the sinks. `register` sources, `addProcessor` processors and `addSink` sinks, then `run()`:
 * sources are started and supervised, every accepted event gets a record (a sequence number unique on
 * the host, its source, when it was accepted), batches pass through the processors and on to every
 * sink, and `shutdown()` (or the run's signal, or SIGINT/SIGTERM when asked) aborts the sources, calls
 * `stop()` in reverse registration order, drains the channel, the derived lane and the batcher into the
 * sinks and closes them — all within `shutdownTimeout`; what could not be drained is counted and
 * reported. Health and statistics are available at any time.
 */
import { CollectorConfig, type ResolvedSettings } from './config.ts';
import type { DerivedLaneStats } from './derived-lane.ts';
import { CollectorError, describeError } from './errors.ts';
import { type CollectorHealth, HealthStatus, worstHealth } from './health.ts';
import { type HostIdentity, readHostIdentity } from './host.ts';
import { type Logger, silentLogger } from './logger.ts';
import { Pipeline } from './pipeline.ts';
import { ProcessorRunner, type ProcessorStats } from './processor-runner.ts';
import { SequenceAllocator } from './sequence.ts';
import { SHEDDING_LEVEL_NAMES, SheddingController } from './shedding.ts';
import { SinkQueue, type SinkStats } from './sink-queue.ts';
import type { EventProcessor, EventSink, EventSource, PluginRuntime, SinkOptions } from './source.ts';
import type { SourceCapsBits } from './source-caps.ts';
import { type SourceCounters, SourceRunner } from './source-runner.ts';
import { SelfTelemetry, type TelemetrySample } from './telemetry.ts';

/** Options of the {@link Collector} constructor beyond the config. */
export interface CollectorOptions {
  /** A pino-compatible logger; silent by default. */
  readonly logger?: Logger;
  /** The host identity sinks see (default: read from the host). */
  readonly host?: HostIdentity;
}

/** Options of {@link Collector.run}. */
export interface RunOptions {
  /** Shut down gracefully on SIGINT and SIGTERM (handlers removed after shutdown). */
  readonly handleSignals?: boolean;
  /** Shut down gracefully when this signal aborts. */
  readonly signal?: AbortSignal;
}

/** What a shutdown achieved. */
export interface ShutdownReport {
  /** True when every accepted event reached every sink (delivered or counted as failed by the sink). */
  readonly drained: boolean;
  /** Events that could not be delivered before the deadline (counted as `shutdown_timeout`). */
  readonly undelivered: number;
  readonly durationMs: number;
  /** Sources whose `stop()` ran. */
  readonly stoppedSources: readonly string[];
  /** Per sink: events received, delivered, and dropped by reason (`sink_closed`, `sink_error`, …). */
  readonly sinks: readonly { name: string; received: number; delivered: number; dropped: Record<string, number> }[];
}

/** Collector-wide event counters. `offered = accepted + dropped(ingress) + waiting`. */
export interface CollectorStats {
  readonly state: 'idle' | 'running' | 'stopping' | 'stopped';
  readonly uptimeMs: number;
  readonly events: {
    readonly offered: number;
    readonly accepted: number;
    readonly waiting: number;
    readonly buffered: number;
    readonly batched: number;
    readonly dropped: Readonly<Record<string, number>>;
  };
  readonly channel: {
    readonly capacity: number;
    readonly threshold: number;
    readonly depth: number;
    readonly highWater: number;
  };
  readonly batches: {
    readonly count: number;
    readonly flushCauses: Readonly<Record<string, number>>;
    readonly sizes: Readonly<Record<string, number>>;
  };
  readonly sources: Readonly<Record<string, SourceCounters>>;
  readonly sinks: readonly SinkStats[];
  /** Derived events (from processors): `offered = accepted + dropped`; accepted ones wait or were batched. */
  readonly derived: DerivedLaneStats;
  readonly processors: readonly ProcessorStats[];
  /** Sequence numbers: the run's id, the next number, and whether numbers survive restarts. */
  readonly sequence: { readonly runId: string; readonly next: number; readonly persistent: boolean };
  readonly telemetry: TelemetrySample | undefined;
  /** The load-shedding level (0 none, 1 shed, 2 severe), why, and how often it changed. */
  readonly shedding: { readonly level: number; readonly reason: string | undefined; readonly changes: number };
}

/** Whether the collector is ready to serve: running, every source started, every sink open. */
export interface CollectorReadiness {
  readonly ready: boolean;
  /** Why it is not ready (empty when ready). */
  readonly reasons: readonly string[];
}

type State = CollectorStats['state'];

/** The collector runtime, as in the seed. Supports `await using`. */
export class Collector implements AsyncDisposable {
  readonly config: CollectorConfig;
  readonly settings: ResolvedSettings;
  readonly #log: Logger;
  readonly #pipeline: Pipeline;
  readonly #runners: SourceRunner[] = [];
  /** The supervision loop of each running source, with the controller that ends that source alone. */
  readonly #loops = new Map<SourceRunner, { readonly ctl: AbortController; readonly loop: Promise<void> }>();
  /** The load-shedding level plug-ins observe; the watchdog sets it. */
  readonly shedding = new SheddingController();
  readonly #telemetry = new SelfTelemetry();
  readonly #abort = new AbortController();
  /** Aborts at the shutdown deadline; sinks and processors get it in `open` and `write`. */
  readonly #deadline = new AbortController();
  readonly #runtime: PluginRuntime;
  #sequence: SequenceAllocator | undefined;
  #healthTimer: ReturnType<typeof setInterval> | undefined;
  #state: State = 'idle';
  #startedAt = 0;
  #requestShutdown: (() => void) | undefined;
  #shutdownRequested = false;
  #done: Promise<ShutdownReport> | undefined;
  #report: ShutdownReport | undefined;

  /** Validates the config (throws `ERR_CONFIG_INVALID` naming the field) and builds the pipeline. */
  constructor(config: CollectorConfig = new CollectorConfig(), options: CollectorOptions = {}) {
    this.config = config;
    this.settings = config.validate();
    const base = options.logger ?? silentLogger;
    this.#log = base.child({ component: this.settings.componentName });
    this.#pipeline = new Pipeline({
      capacity: this.settings.eventBufferSize,
      threshold: this.settings.backpressureThreshold,
      maxWait: this.settings.maxBackpressureWait,
      maxBatchSize: this.settings.maxBatchSize,
      batchTimeout: this.settings.batchTimeout,
      derivedCapacity: this.settings.derivedLaneCapacity,
      maxDerivationDepth: this.settings.maxDerivationDepth,
    });
    this.#runtime = {
      componentName: this.settings.componentName,
      host: options.host ?? readHostIdentity(),
      dataDir: this.settings.dataDir,
      logger: this.#log,
      collector: {
        health: () => this.health(),
        stats: () => this.stats(),
        capabilities: () => this.capabilities(),
        sources: () => this.sources(),
      },
      shedding: this.shedding,
    };
  }

  /** The host identity this collector reports. */
  get host(): HostIdentity {
    return this.#runtime.host;
  }

  /**
   * Adds a source. Throws `ERR_SOURCE_DUPLICATE` for a name already registered, `ERR_SOURCE_LIMIT`
   * beyond `maxEventSources`, `ERR_SOURCE_INVALID` for an object that is not an EventSource, and
   * `ERR_COLLECTOR_STATE` once the collector runs.
   */
  register(source: EventSource): void {
    const name = checkSource(source);
    if (this.#state !== 'idle') {
      throw new CollectorError(
        'ERR_COLLECTOR_STATE',
        `cannot register source "${name}": the collector is ${this.#state}`,
      );
    }
    this.#checkNewSource(name);
    this.#runners.push(this.#newRunner(source));
  }

  #checkNewSource(name: string): void {
    if (this.#runners.some((r) => r.name === name)) {
      throw new CollectorError('ERR_SOURCE_DUPLICATE', `an event source named "${name}" is already registered`, {
        details: { source: name },
      });
    }
    if (this.#runners.length >= this.settings.maxEventSources) {
      throw new CollectorError(
        'ERR_SOURCE_LIMIT',
        `cannot register "${name}": max_event_sources is ${this.settings.maxEventSources}`,
        { details: { source: name, limit: this.settings.maxEventSources } },
      );
    }
  }

  #newRunner(source: EventSource): SourceRunner {
    return new SourceRunner(source, { channel: this.#pipeline.channel, settings: this.settings, logger: this.#log });
  }

  #startRunner(r: SourceRunner): void {
    const ctl = new AbortController();
    const loop = r
      .run(AbortSignal.any([this.#abort.signal, ctl.signal]))
      .catch((e: unknown) => this.#log.error({ err: describeError(e), source: r.name }, 'supervisor failed'));
    this.#loops.set(r, { ctl, loop });
  }

  /** Stops one running source alone (its signal, `stop()`, its supervision loop), within `timeoutMs`. */
  async #stopRunner(r: SourceRunner, timeoutMs: number): Promise<void> {
    const entry = this.#loops.get(r);
    entry?.ctl.abort();
    await r.stopOnce(timeoutMs / 2);
    if (entry !== undefined) {
      await Promise.race([entry.loop, new Promise((resolve) => setTimeout(resolve, timeoutMs / 2).unref())]);
    }
    r.markStopped();
    this.#loops.delete(r);
  }

  /**
   * Replaces, adds or removes one source while the collector runs (or before it runs). The source named
   * `name`, if registered, is stopped (its signal aborts, `stop()` runs, its loop ends — within
   * `startupTimeout`) and removed; then `next`, if given, is registered in its place and started when
   * the collector runs. Events the old source sent are already in the channel and are delivered as
   * usual. Throws like `register` for an invalid or duplicate `next` (before anything is stopped), and
   * `ERR_COLLECTOR_STATE` once the collector is stopping.
   */
  async replaceSource(name: string, next: EventSource | null): Promise<void> {
    this.#assertChangeable(`replace source "${name}"`);
    const index = this.#runners.findIndex((r) => r.name === name);
    if (next !== null) {
      const nextName = checkSource(next);
      if (nextName !== name && this.#runners.some((r) => r.name === nextName)) {
        throw new CollectorError('ERR_SOURCE_DUPLICATE', `an event source named "${nextName}" is already registered`, {
          details: { source: nextName },
        });
      }
      if (index < 0 && this.#runners.length >= this.settings.maxEventSources) this.#checkNewSource(nextName);
    }
    const old = index < 0 ? undefined : this.#runners[index];
    if (old !== undefined) {
      if (this.#state === 'running') await this.#stopRunner(old, this.settings.startupTimeout);
      this.#runners.splice(this.#runners.indexOf(old), 1);
    }
    if (next === null) return;
    const runner = this.#newRunner(next);
    const at = index < 0 ? this.#runners.length : Math.min(index, this.#runners.length);
    this.#runners.splice(at, 0, runner);
    if (this.#state === 'running') this.#startRunner(runner);
  }

  /**
   * Replaces, adds or removes one sink while the collector runs. The new sink's queue takes the old
   * one's place between two batches, so every later batch goes to it; the old queue writes what it
   * already holds, then its sink is closed. No accepted event is lost or delivered twice. Throws like
   * `addSink` for an invalid `next` (before anything changes).
   */
  async replaceSink(name: string, next: EventSink | null, options: SinkOptions = {}): Promise<void> {
    this.#assertChangeable(`replace sink "${name}"`);
    const sinks = this.#pipeline.sinks;
    const index = sinks.findIndex((q) => q.name === name);
    const old = index < 0 ? undefined : sinks[index];
    let queue: SinkQueue | undefined;
    if (next !== null) {
      const nextName = checkSink(next);
      if (nextName !== name && sinks.some((q) => q.name === nextName)) {
        throw new CollectorError('ERR_SINK_DUPLICATE', `a sink named "${nextName}" is already added`);
      }
      queue = this.#newSinkQueue(next, nextName, options);
    }
    if (old !== undefined) sinks.splice(index, 1, ...(queue !== undefined ? [queue] : []));
    else if (queue !== undefined) sinks.push(queue);
    if (queue !== undefined && this.#state === 'running') void queue.openEarly();
    if (old !== undefined && this.#state === 'running') {
      await old.whenIdle();
      await old.close(Math.min(this.settings.shutdownTimeout, 5000));
    }
  }

  /**
   * Replaces, adds or removes one processor while the collector runs. The new processor sees every
   * batch after the one in progress; the old one is closed after it finished that batch. Throws like
   * `addProcessor` for an invalid `next`.
   */
  async replaceProcessor(name: string, next: EventProcessor | null): Promise<void> {
    this.#assertChangeable(`replace processor "${name}"`);
    const processors = this.#pipeline.processors;
    const index = processors.findIndex((p) => p.name === name);
    const old = index < 0 ? undefined : processors[index];
    let runner: ProcessorRunner | undefined;
    if (next !== null) {
      const nextName = checkProcessor(next);
      if (nextName !== name && processors.some((p) => p.name === nextName)) {
        throw new CollectorError('ERR_PROCESSOR_DUPLICATE', `a processor named "${nextName}" is already added`);
      }
      runner = this.#newProcessorRunner(next);
    }
    if (old !== undefined) processors.splice(index, 1, ...(runner !== undefined ? [runner] : []));
    else if (runner !== undefined) processors.push(runner);
    if (old !== undefined && this.#state === 'running') {
      await old.whenIdle();
      await old.close(Math.min(this.settings.shutdownTimeout, 5000));
    }
  }

  #assertChangeable(what: string): void {
    if (this.#state === 'stopping' || this.#state === 'stopped') {
      throw new CollectorError('ERR_COLLECTOR_STATE', `cannot ${what}: the collector is ${this.#state}`);
    }
  }

  /** Names of the registered sources, in registration order. */
  sourceNames(): string[] {
    return this.#runners.map((r) => r.name);
  }

  /** The registered sources, in registration order. */
  sources(): EventSource[] {
    return this.#runners.map((r) => r.source);
  }

  /** The union of the registered sources' capabilities. */
  capabilities(): SourceCapsBits {
    return this.#runners.reduce((caps, r) => (caps | r.source.capabilities()) >>> 0, 0);
  }

  /**
   * Adds a sink with its own bounded queue (`queueCapacity` events, default the event buffer size,
   * at least `maxBatchSize`) and overflow policy (default `block`). Names must be unique.
   */
  addSink(sink: EventSink, options: SinkOptions = {}): void {
    const name = checkSink(sink);
    if (this.#state === 'stopping' || this.#state === 'stopped') {
      throw new CollectorError('ERR_COLLECTOR_STATE', `cannot add sink "${name}": the collector is ${this.#state}`);
    }
    if (this.#pipeline.sinks.some((s) => s.name === name)) {
      throw new CollectorError('ERR_SINK_DUPLICATE', `a sink named "${name}" is already added`);
    }
    const queue = this.#newSinkQueue(sink, name, options);
    this.#pipeline.sinks.push(queue);
    if (this.#state === 'running') void queue.openEarly();
  }

  #newSinkQueue(sink: EventSink, name: string, options: SinkOptions): SinkQueue {
    const capacity = options.queueCapacity ?? this.settings.eventBufferSize;
    if (!Number.isInteger(capacity) || capacity < this.settings.maxBatchSize) {
      throw new CollectorError(
        'ERR_CONFIG_INVALID',
        `sink "${name}" queueCapacity ${capacity} must be an integer of at least max_batch_size (${this.settings.maxBatchSize})`,
        { details: { field: 'queueCapacity', value: capacity, layer: 'api', source: 'addSink()' } },
      );
    }
    const overflow = options.overflow ?? 'block';
    if (!['block', 'drop-oldest', 'drop-newest'].includes(overflow)) {
      throw new CollectorError(
        'ERR_CONFIG_INVALID',
        `sink "${name}" overflow must be block, drop-oldest or drop-newest`,
        {
          details: { field: 'overflow', value: overflow, layer: 'api', source: 'addSink()' },
        },
      );
    }
    return new SinkQueue(sink, {
      capacity,
      overflow,
      logger: this.#log,
      deadline: this.#deadline.signal,
      runtime: this.#runtime,
      onClosed: () => this.#sinkClosed(),
    });
  }

  /**
   * Adds a processor: it sees every batch, in the order processors were added, before the sinks, and
   * may emit derived events. Throws `ERR_PROCESSOR_INVALID`, `ERR_PROCESSOR_DUPLICATE`, or
   * `ERR_COLLECTOR_STATE` once the collector runs.
   */
  addProcessor(processor: EventProcessor): void {
    const name = checkProcessor(processor);
    if (this.#state !== 'idle') {
      throw new CollectorError(
        'ERR_COLLECTOR_STATE',
        `cannot add processor "${name}": the collector is ${this.#state}`,
      );
    }
    if (this.#pipeline.processors.some((p) => p.name === name)) {
      throw new CollectorError('ERR_PROCESSOR_DUPLICATE', `a processor named "${name}" is already added`);
    }
    this.#pipeline.processors.push(this.#newProcessorRunner(processor));
  }

  #newProcessorRunner(processor: EventProcessor): ProcessorRunner {
    return new ProcessorRunner(processor, {
      lane: this.#pipeline.lane,
      logger: this.#log,
      runtime: this.#runtime,
      deadline: this.#deadline.signal,
    });
  }

  /** Every sink's consumer went away (a closed stdout): nothing can be delivered, so stop normally. */
  #sinkClosed(): void {
    const sinks = this.#pipeline.sinks;
    if (this.#state !== 'running' || !sinks.every((q) => q.closed)) return;
    this.#log.info('every sink is closed; shutting down');
    void this.shutdown();
  }

  /**
   * Starts every source and runs until `shutdown()` (or a signal, with `handleSignals`). Resolves with
   * the shutdown report after the graceful shutdown finished. Throws `ERR_COLLECTOR_STATE` if called twice.
   */
  async run(options: RunOptions = {}): Promise<ShutdownReport> {
    if (this.#state !== 'idle')
      throw new CollectorError('ERR_COLLECTOR_STATE', `run() called while the collector is ${this.#state}`);
    const s = this.settings;
    // Throws ERR_DATA_DIR before anything starts when the data directory is unusable.
    this.#sequence = new SequenceAllocator(s.dataDir);
    this.#pipeline.sequence = this.#sequence;
    this.#pipeline.runId = this.#sequence.runId;
    this.#state = 'running';
    this.#startedAt = performance.now();
    if (s.enableTelemetry) {
      this.#telemetry.start(s.telemetryInterval, (sample) =>
        this.#log.info({ telemetry: sample, events: this.stats().events }, 'telemetry'),
      );
    }
    const requested = new Promise<void>((resolve) => {
      this.#requestShutdown = resolve;
      if (this.#shutdownRequested) resolve();
    });
    const onSignal = (sig: NodeJS.Signals): void => {
      this.#log.info({ signal: sig }, 'signal received; shutting down');
      this.#shutdownRequested = true;
      this.#requestShutdown?.();
    };
    const onAbort = (): void => {
      this.#log.info('run signal aborted; shutting down');
      this.#shutdownRequested = true;
      this.#requestShutdown?.();
    };
    if (options.handleSignals === true) {
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    }
    // Said once SIGINT/SIGTERM are handled: whoever waits for this line to send one gets a graceful stop.
    this.#log.info(
      {
        sources: this.sourceNames(),
        processors: this.#pipeline.processors.map((p) => p.name),
        sinks: this.#pipeline.sinks.map((q) => q.name),
        runId: this.#sequence.runId,
        firstSeq: this.#sequence.next,
        ...(s.dataDir !== undefined ? { dataDir: s.dataDir } : {}),
      },
      'collector starting',
    );
    if (options.signal?.aborted === true) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
    // Sources start only once a stop signal is handled: a source whose start does synchronous work
    // must not leave a window in which SIGINT still has its default action and kills the process.
    for (const r of this.#runners) this.#startRunner(r);
    for (const q of this.#pipeline.sinks) void q.openEarly();
    // Sinks' and processors' own health is polled on the health interval. This timer is real work and,
    // like a listening server, keeps the process alive while the collector runs; it ends with the run.
    this.#healthTimer = setInterval(() => void this.#refreshPluginHealth(), s.healthCheckInterval);
    this.#done = requested.then(() => this.#shutdown());
    try {
      return await this.#done;
    } finally {
      clearInterval(this.#healthTimer);
      options.signal?.removeEventListener('abort', onAbort);
      if (options.handleSignals === true) {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    }
  }

  async #refreshPluginHealth(): Promise<void> {
    const limit = Math.max(1000, Math.min(this.settings.healthCheckInterval, 30_000));
    await Promise.all([
      ...this.#pipeline.sinks.map((q) => q.refreshHealth(limit)),
      ...this.#pipeline.processors.map((p) => p.refreshHealth(limit)),
    ]);
  }

  async #shutdown(): Promise<ShutdownReport> {
    this.#state = 'stopping';
    const t0 = performance.now();
    const deadlineTimer = setTimeout(() => this.#deadline.abort(), this.settings.shutdownTimeout);
    deadlineTimer.unref();
    const deadline = this.#deadline.signal;
    const remaining = (): number => Math.max(1, this.settings.shutdownTimeout - (performance.now() - t0));
    this.#log.info({ timeoutMs: this.settings.shutdownTimeout }, 'collector shutting down');
    this.#abort.abort();
    const stopped: string[] = [];
    for (const r of [...this.#runners].reverse()) {
      await r.stopOnce(remaining() / 2);
      stopped.push(r.name);
    }
    // Sources get half of what is left to return from start(); a source that ignores its signal must
    // not eat the time the sinks need to drain what was already accepted.
    const loops = [...this.#loops.values()].map((l) => l.loop);
    await Promise.race([Promise.all(loops), new Promise((resolve) => setTimeout(resolve, remaining() / 2).unref())]);
    for (const r of this.#runners) r.markStopped();
    this.#pipeline.channel.close();
    const drained = await this.#pipeline.drain(deadline);
    this.#pipeline.lane.close();
    let undelivered = 0;
    if (!drained) {
      undelivered += this.#pipeline.channel.abandon('shutdown_timeout');
      undelivered += this.#pipeline.lane.abandon('shutdown_timeout');
      for (const q of this.#pipeline.sinks) undelivered += q.abandon('shutdown_timeout');
      this.#log.error({ undelivered }, 'shutdown timeout: events could not be delivered');
    }
    for (const p of this.#pipeline.processors) await p.close(Math.min(remaining(), 5000));
    for (const q of this.#pipeline.sinks) await q.close(Math.min(remaining(), 5000));
    clearTimeout(deadlineTimer);
    this.#telemetry.stop();
    this.#state = 'stopped';
    const report: ShutdownReport = {
      drained,
      undelivered,
      durationMs: performance.now() - t0,
      stoppedSources: stopped,
      sinks: this.#pipeline.sinks.map((q) => {
        const st = q.stats();
        return { name: st.name, received: st.received, delivered: st.delivered, dropped: { ...st.dropped } };
      }),
    };
    this.#report = report;
    const stats = this.stats();
    this.#log.info({ ...report, events: stats.events, derived: stats.derived }, 'collector stopped');
    return report;
  }

  /**
   * Requests a graceful shutdown and resolves with its report once it finished. Idempotent. Before
   * `run()`, the collector just becomes stopped.
   */
  async shutdown(): Promise<ShutdownReport> {
    if (this.#state === 'idle') {
      this.#state = 'stopped';
      this.#report = { drained: true, undelivered: 0, durationMs: 0, stoppedSources: [], sinks: [] };
      return this.#report;
    }
    if (this.#report !== undefined) return this.#report;
    this.#shutdownRequested = true;
    this.#requestShutdown?.();
    return (await this.#done) as ShutdownReport;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  /**
   * Overall, per-source, per-sink and per-processor health, with reasons. Healthy when every part is;
   * Unhealthy when no source is delivering (every registered source is unhealthy or not running) or a
   * lossless (`block`) sink is failing, and while the collector is stopping or stopped; Degraded
   * otherwise, with the reasons listed.
   */
  health(): CollectorHealth {
    const sources = this.#runners.map((r) => r.health());
    const sinks = this.#pipeline.sinks.map((q) => q.health());
    const processors = this.#pipeline.processors.map((p) => p.health());
    const reasons: string[] = [];
    for (const [kind, parts] of [
      ['source', sources],
      ['sink', sinks],
      ['processor', processors],
    ] as const) {
      for (const p of parts)
        if (p.status !== HealthStatus.Healthy) reasons.push(`${kind} ${p.name}: ${p.reason ?? p.status}`);
    }
    const all = [...sources, ...sinks, ...processors].map((p) => p.status);
    let status: HealthStatus = worstHealth(all) === HealthStatus.Healthy ? HealthStatus.Healthy : HealthStatus.Degraded;
    const persistError = this.#sequence?.persistError;
    if (persistError !== undefined) {
      reasons.push(`sequence numbers may repeat after a restart: ${persistError}`);
      status = HealthStatus.Degraded;
    }
    const delivering = sources.some((s) => s.status !== HealthStatus.Unhealthy);
    if (sources.length > 0 && !delivering) {
      reasons.push('no source is delivering');
      status = HealthStatus.Unhealthy;
    }
    if (sinks.some((s) => s.overflow === 'block' && s.status === HealthStatus.Unhealthy)) {
      status = HealthStatus.Unhealthy;
    }
    if (this.shedding.level > 0) {
      reasons.push(
        `shedding load (${SHEDDING_LEVEL_NAMES[this.shedding.level]}): ${this.shedding.reason ?? 'over budget'}`,
      );
      if (status === HealthStatus.Healthy) status = HealthStatus.Degraded;
    }
    if (this.#state === 'stopped' || this.#state === 'stopping') {
      reasons.push(`collector is ${this.#state}`);
      status = HealthStatus.Unhealthy;
    }
    return { status, reasons, sources, sinks, processors };
  }

  /** Event counters, queue depths, batch statistics, per-source and per-sink figures, telemetry. */
  stats(): CollectorStats {
    const ch = this.#pipeline.channel;
    const p = this.#pipeline;
    const dropped = ch.dropped();
    for (const [k, v] of Object.entries(p.discarded.toObject())) dropped[k] = (dropped[k] ?? 0) + v;
    return {
      state: this.#state,
      uptimeMs: this.#startedAt === 0 ? 0 : performance.now() - this.#startedAt,
      // Events discarded after acceptance (no sink) are in `dropped`, so they leave `accepted`, as
      // shutdown_timeout drops do, to keep offered = accepted + dropped + waiting exact.
      events: {
        offered: ch.offered,
        accepted: ch.accepted - p.discarded.total(),
        waiting: ch.waiting,
        buffered: ch.size,
        batched: p.batched,
        dropped,
      },
      channel: { capacity: ch.capacity, threshold: ch.threshold, depth: ch.size, highWater: ch.highWater },
      batches: { count: p.batches, flushCauses: { ...p.flushCauses }, sizes: p.batchSizes.toObject() },
      sources: Object.fromEntries(this.#runners.map((r) => [r.name, r.counters()])),
      sinks: p.sinks.map((q) => q.stats()),
      derived: p.lane.stats(),
      processors: p.processors.map((r) => r.stats()),
      sequence: {
        runId: this.#sequence?.runId ?? '',
        next: this.#sequence?.next ?? 0,
        persistent: this.#sequence?.persistent ?? this.settings.dataDir !== undefined,
      },
      telemetry: this.#telemetry.latest(),
      shedding: { level: this.shedding.level, reason: this.shedding.reason, changes: this.shedding.changes },
    };
  }

  /**
   * Whether the collector is ready: it runs, every source has started (is `running`), and every sink
   * has opened. The reasons name what is not.
   */
  readiness(): CollectorReadiness {
    const reasons: string[] = [];
    if (this.#state !== 'running') reasons.push(`collector is ${this.#state}`);
    for (const r of this.#runners) {
      const h = r.health();
      if (h.state !== 'running')
        reasons.push(`source ${r.name} is ${h.state}${h.reason !== undefined ? `: ${h.reason}` : ''}`);
    }
    for (const q of this.#pipeline.sinks) {
      if (q.closed) reasons.push(`sink ${q.name} is closed`);
      else if (!q.opened)
        reasons.push(`sink ${q.name} is not open${q.openError !== undefined ? `: ${q.openError}` : ''}`);
    }
    return { ready: reasons.length === 0, reasons };
  }

  /**
   * Whether start-up has settled: the collector runs, every source has left `registered` and
   * `starting` (it runs, or failed and waits to restart), and every sink has opened or failed to
   * open once. A command that drops privileges waits for this: the privileged handles are open then.
   */
  startupSettled(): boolean {
    if (this.#state !== 'running') return false;
    for (const r of this.#runners) {
      const state = r.health().state;
      if (state === 'registered' || state === 'starting') return false;
    }
    return this.#pipeline.sinks.every((q) => q.opened || q.closed || q.openError !== undefined);
  }

  /** Takes a telemetry sample now (CPU, RSS, event-loop delay) and returns it. */
  sampleTelemetry(): TelemetrySample {
    return this.#telemetry.sample();
  }

  /** The retained telemetry samples, oldest first. */
  telemetryHistory(): readonly TelemetrySample[] {
    return this.#telemetry.history();
  }
}

/** Checks that `source` is an EventSource; returns its name. Throws `ERR_SOURCE_INVALID`. */
function checkSource(source: EventSource): string {
  if (typeof source !== 'object' || source === null) {
    throw new CollectorError(
      'ERR_SOURCE_INVALID',
      `an event source must be an object, not ${source === null ? 'null' : typeof source}`,
    );
  }
  for (const m of ['name', 'capabilities', 'start', 'stop', 'healthCheck'] as const) {
    if (typeof (source as unknown as Record<string, unknown>)[m] !== 'function') {
      throw new CollectorError('ERR_SOURCE_INVALID', `event source has no ${m}() method`);
    }
  }
  return source.name();
}

/** Checks that `sink` is an EventSink; returns its name. Throws `ERR_SINK_INVALID`. */
function checkSink(sink: EventSink): string {
  if (typeof sink?.name !== 'function' || typeof sink.write !== 'function') {
    throw new CollectorError('ERR_SINK_INVALID', 'a sink needs name() and write(batch) methods');
  }
  return sink.name();
}

/** Checks that `processor` is an EventProcessor; returns its name. Throws `ERR_PROCESSOR_INVALID`. */
function checkProcessor(processor: EventProcessor): string {
  if (typeof processor?.name !== 'function' || typeof processor.process !== 'function') {
    throw new CollectorError('ERR_PROCESSOR_INVALID', 'a processor needs name() and process(batch, tx) methods');
  }
  return processor.name();
}
