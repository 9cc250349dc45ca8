/**
 * Supervision of one event source: start it with its own sender and abort signal, wait for readiness
 * (bounded by `startupTimeout`, which never limits the source's lifetime), health-check it on its
 * interval, and restart it with exponential backoff and jitter when `start` throws or returns while
 * the collector still runs. Readiness is the first of: the source calls `tx.ready()`, sends its first
 * event, or passes a health check. Stopping the source at shutdown is the collector's job (so sources
 * stop in reverse order); this runner only stops it around restarts.
 */
import type { EventChannel } from './channel.ts';
import type { ResolvedSettings } from './config.ts';
import { ReasonCounter } from './counters.ts';
import { CollectorError, describeError } from './errors.ts';
import type { CollectionEvent } from './event.ts';
import { HealthStatus, type SourceHealth, type SourceState } from './health.ts';
import type { Logger } from './logger.ts';
import type { EventSender, EventSource, HealthReport } from './source.ts';

/** The outcome of one health check. */
type CheckResult = { readonly status: HealthStatus; readonly reason?: string };

/** Per-source event counters. */
export interface SourceCounters {
  readonly offered: number;
  readonly accepted: number;
  readonly dropped: Readonly<Record<string, number>>;
  readonly lost: Readonly<Record<string, number>>;
}

const ACCEPTED: Promise<boolean> = Promise.resolve(true);

/** Reads what a health check resolved with: nothing is healthy; a report says degraded or unhealthy. */
function readReport(value: unknown): CheckResult {
  if (value === undefined || value === null || typeof value !== 'object') return { status: HealthStatus.Healthy };
  const r = value as Partial<HealthReport>;
  const s = String(r.status).toLowerCase();
  const reason = typeof r.reason === 'string' && r.reason !== '' ? r.reason : undefined;
  if (s === 'degraded') return { status: HealthStatus.Degraded, reason: reason ?? 'degraded' };
  if (s === 'unhealthy') return { status: HealthStatus.Unhealthy, reason: reason ?? 'unhealthy' };
  return { status: HealthStatus.Healthy };
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/** Runs and supervises one source. */
export class SourceRunner {
  readonly source: EventSource;
  readonly name: string;
  readonly #channel: EventChannel;
  readonly #settings: ResolvedSettings;
  readonly #log: Logger;
  #state: SourceState = 'registered';
  #status: HealthStatus = HealthStatus.Healthy;
  #reason: string | undefined;
  #lastError: string | undefined;
  #lastCheckAt: number | undefined;
  #restarts = 0;
  #ready = false;
  #readyResolve: (() => void) | undefined;
  #offered = 0;
  #accepted = 0;
  readonly #dropped = new ReasonCounter();
  readonly #lost = new ReasonCounter();
  #stopPromise: Promise<void> | undefined;
  #healthTimer: ReturnType<typeof setInterval> | undefined;
  readonly sender: EventSender;

  constructor(source: EventSource, options: { channel: EventChannel; settings: ResolvedSettings; logger: Logger }) {
    this.source = source;
    this.name = source.name();
    this.#channel = options.channel;
    this.#settings = options.settings;
    this.#log = options.logger.child({ source: this.name });
    this.sender = this.#makeSender();
  }

  #makeSender(): EventSender {
    const channel = this.#channel;
    const name = this.name;
    const markReady = (): void => this.#markReady();
    return {
      send: (event: CollectionEvent): Promise<boolean> => {
        this.#offered++;
        if (!this.#ready) markReady();
        if (!channel.closed && channel.size < channel.threshold && channel.waiting === 0) {
          channel.trySend(event, name);
          this.#accepted++;
          return ACCEPTED;
        }
        return channel.send(event, name).then((ok) => {
          if (ok) this.#accepted++;
          else this.#drop(channel.closed ? 'closed' : 'backpressure_timeout');
          return ok;
        });
      },
      trySend: (event: CollectionEvent): boolean => {
        this.#offered++;
        if (!this.#ready) markReady();
        const ok = channel.trySend(event, name);
        if (ok) this.#accepted++;
        else this.#drop(channel.closed ? 'closed' : 'channel_full');
        return ok;
      },
      pressure: () => channel.size / channel.capacity,
      get underPressure() {
        return channel.size >= channel.threshold;
      },
      get closed() {
        return channel.closed;
      },
      ready: markReady,
      reportLoss: (count: number, reason: string): void => {
        if (!Number.isFinite(count) || count <= 0) return;
        this.#lost.add(reason, count);
        channel.recordLoss(reason, count);
        this.#log.warn({ lost: count, reason }, 'source reported lost events');
      },
    };
  }

  /** Counts a refused event; the first of each reason is logged (counts are in `stats()`). */
  #drop(reason: string): void {
    this.#dropped.add(reason);
    if (this.#dropped.get(reason) === 1 && reason !== 'closed') {
      this.#log.warn(
        { reason },
        'collector refusing events from this source (logged once per reason; see stats for counts)',
      );
    }
  }

  #markReady(): void {
    this.#ready = true;
    const r = this.#readyResolve;
    this.#readyResolve = undefined;
    r?.();
  }

  #setHealth(status: HealthStatus, reason?: string): void {
    this.#status = status;
    this.#reason = reason;
  }

  /** Supervises the source until `signal` aborts; resolves when its last start has settled. */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      const ctl = new AbortController();
      const runSignal = AbortSignal.any([signal, ctl.signal]);
      this.#state = this.#restarts > 0 ? 'restarting' : 'starting';
      this.#ready = false;
      this.#stopPromise = undefined;
      const startedAt = performance.now();
      this.#log.debug({ restarts: this.#restarts }, this.#restarts > 0 ? 'source restarting' : 'source starting');
      const started = Promise.resolve().then(() => this.source.start(this.sender, runSignal));
      const settled = started.then(
        () => ({ ok: true as const }),
        (e: unknown) => ({ ok: false as const, error: e }),
      );
      const outcome = await this.#awaitReady(settled, runSignal);
      let failure: string | undefined;
      if (outcome === 'ready') {
        this.#state = 'running';
        if (this.#status !== HealthStatus.Degraded) this.#setHealth(HealthStatus.Healthy);
        this.#log.debug({ readyMs: Math.round(performance.now() - startedAt) }, 'source ready');
        this.#startHealthChecks(runSignal);
        const end = await settled;
        this.#stopHealthChecks();
        if (signal.aborted) break;
        failure = end.ok
          ? 'start() returned while the collector was running'
          : `start() failed: ${describeError(end.error)}`;
      } else if (outcome === 'timeout') {
        failure = `not ready within startup timeout of ${this.#settings.startupTimeout} ms`;
      } else if (outcome === 'aborted') {
        await settled;
        break;
      } else {
        if (signal.aborted) break;
        failure = outcome.ok
          ? 'start() returned before the source was ready'
          : `start() failed: ${describeError(outcome.error)}`;
      }
      // A failed run: stop it, back off, try again.
      this.#lastError = failure;
      this.#state = 'restarting';
      this.#setHealth(HealthStatus.Unhealthy, failure);
      this.#log.error({ restarts: this.#restarts, reason: failure }, 'source failed; restarting with backoff');
      ctl.abort(
        new CollectorError(outcome === 'timeout' ? 'ERR_SOURCE_STARTUP_TIMEOUT' : 'ERR_SOURCE_FAILED', failure),
      );
      await this.stopOnce(this.#settings.startupTimeout);
      await Promise.race([settled, sleep(this.#settings.startupTimeout, signal)]);
      if (performance.now() - startedAt > this.#settings.restartBackoffMax) failures = 0;
      failures++;
      const cap = Math.min(this.#settings.restartBackoffMax, this.#settings.restartBackoffBase * 2 ** (failures - 1));
      const delay = cap / 2 + Math.random() * (cap / 2);
      await sleep(delay, signal);
      if (signal.aborted) break;
      this.#restarts++;
    }
    this.#stopHealthChecks();
  }

  async #awaitReady(
    settled: Promise<{ ok: true } | { ok: false; error: unknown }>,
    signal: AbortSignal,
  ): Promise<'ready' | 'timeout' | 'aborted' | { ok: true } | { ok: false; error: unknown }> {
    if (this.#ready) return 'ready';
    const ready = new Promise<'ready'>((resolve) => {
      this.#readyResolve = () => resolve('ready');
    });
    const ctl = new AbortController();
    const local = AbortSignal.any([signal, ctl.signal]);
    const timeout = sleep(this.#settings.startupTimeout, local).then((): 'aborted' | 'timeout' =>
      signal.aborted ? 'aborted' : 'timeout',
    );
    const probe = (async (): Promise<'ready' | 'aborted'> => {
      const every = Math.max(10, Math.min(100, Math.floor(this.#settings.startupTimeout / 10)));
      while (!local.aborted) {
        const r = await this.#check();
        if (r.status !== HealthStatus.Unhealthy) {
          this.#setHealth(r.status, r.reason);
          return 'ready';
        }
        await sleep(every, local);
      }
      return 'aborted';
    })();
    try {
      const r = await Promise.race([ready, timeout, settled, probe.then((p) => (p === 'ready' ? p : ready))]);
      if (r === 'ready') this.#markReady();
      return r;
    } finally {
      ctl.abort();
      this.#readyResolve = undefined;
    }
  }

  async #check(): Promise<CheckResult> {
    const limit = Math.max(1000, Math.min(this.#settings.healthCheckInterval, 30_000));
    this.#lastCheckAt = Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const r = await Promise.race([
        this.source.healthCheck(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`health check took longer than ${limit} ms`)), limit);
          timer.unref();
        }),
      ]);
      return readReport(r);
    } catch (e) {
      this.#lastError = describeError(e);
      return { status: HealthStatus.Unhealthy, reason: `health check failed: ${this.#lastError}` };
    } finally {
      clearTimeout(timer);
    }
  }

  #startHealthChecks(signal: AbortSignal): void {
    this.#stopHealthChecks();
    this.#healthTimer = setInterval(() => {
      if (signal.aborted) return;
      void this.#check().then((r) => {
        if (this.#state !== 'running') return;
        if (r.status !== this.#status || r.reason !== this.#reason) {
          this.#log.debug({ status: r.status, reason: r.reason }, 'source health changed');
        }
        this.#setHealth(r.status, r.reason);
      });
    }, this.#settings.healthCheckInterval);
  }

  #stopHealthChecks(): void {
    if (this.#healthTimer !== undefined) clearInterval(this.#healthTimer);
    this.#healthTimer = undefined;
  }

  /** Calls the source's `stop()` at most once per start, bounded by `timeoutMs`; never rejects. */
  stopOnce(timeoutMs: number): Promise<void> {
    this.#stopPromise ??= (async () => {
      const prev = this.#state;
      this.#state = 'stopping';
      try {
        const r = await Promise.race([
          this.source.stop().then(() => 'ok' as const),
          new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref()),
        ]);
        if (r === 'timeout') this.#log.warn({ timeoutMs }, 'source stop() did not finish in time');
        else this.#log.debug('source stopped');
      } catch (e) {
        this.#log.error({ err: describeError(e) }, 'source stop() failed');
      }
      if (prev !== 'restarting') this.#state = 'stopped';
      else this.#state = prev;
    })();
    return this.#stopPromise;
  }

  /** Marks the source stopped after shutdown. */
  markStopped(): void {
    this.#state = 'stopped';
    this.#stopHealthChecks();
  }

  health(): SourceHealth {
    const base = { name: this.name, state: this.#state, restarts: this.#restarts };
    return {
      ...base,
      status: this.#status,
      ...(this.#reason !== undefined ? { reason: this.#reason } : {}),
      ...(this.#lastCheckAt !== undefined ? { lastCheckAt: this.#lastCheckAt } : {}),
      ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
    };
  }

  counters(): SourceCounters {
    return {
      offered: this.#offered,
      accepted: this.#accepted,
      dropped: this.#dropped.toObject(),
      lost: this.#lost.toObject(),
    };
  }
}
