/**
 * The command's HTTP endpoint for operators: `/metrics` in the Prometheus text format (prom-client),
 * `/healthz` (live) and `/readyz` (ready), all read from the running collector's own `stats()`,
 * `health()` and `readiness()` at the moment of the request. Every source, sink and processor the
 * collector holds appears under its name, so plug-ins added later show up without changes here. The
 * process's own CPU, memory and event-loop delay come from prom-client's default Node.js metrics. It
 * serves; it never changes the collector.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type Collector,
  CollectorError,
  type CollectorStats,
  EVENT_LOOP_RESOLUTION_MS,
  HealthStatus,
  type ValueOrigin,
  type WatchdogStats,
} from '@daemoneye/core';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/** Where to listen, parsed from `HOST:PORT` (`[::1]:9464` for IPv6). */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses `HOST:PORT`; throws `ERR_CONFIG_INVALID` naming the value and, when given, the layer that
 * set it.
 */
export function parseListenAddress(value: string, origin?: ValueOrigin): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value.trim());
  const port = Number(m?.[3]);
  const host = m?.[1] ?? m?.[2];
  if (m === null || host === undefined || !Number.isInteger(port) || port > 65535) {
    const by = origin === undefined ? '' : ` (set by ${origin.layer} ${origin.source})`;
    throw new CollectorError(
      'ERR_CONFIG_INVALID',
      `metrics.listen must be HOST:PORT (such as 127.0.0.1:9464), got "${value}"${by}`,
      {
        details: {
          field: 'metrics.listen',
          value,
          problem: 'must be HOST:PORT',
          ...(origin !== undefined ? { layer: origin.layer, source: origin.source } : {}),
        },
      },
    );
  }
  return { host, port };
}

/** What the endpoint reads; the collector is looked up per request. */
export interface MetricsEndpointOptions {
  readonly collector: () => Collector;
  readonly watchdog?: () => WatchdogStats | undefined;
}

const STATUSES = [HealthStatus.Healthy, HealthStatus.Degraded, HealthStatus.Unhealthy] as const;

/** The collector's metrics in a registry of their own, refreshed from one snapshot per scrape. */
export class CollectorMetrics {
  readonly registry = new Registry();
  readonly #o: MetricsEndpointOptions;
  readonly #refreshers: ((s: CollectorStats, c: Collector) => void)[] = [];

  constructor(options: MetricsEndpointOptions) {
    this.#o = options;
    // The lag monitor ticks as coarsely as the collector's own (prom-client's 10 ms would wake an idle
    // collector 100 times a second).
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_RESOLUTION_MS });
    this.#define();
  }

  #counter(name: string, help: string, labels: string[], read: (s: CollectorStats, c: Collector) => Row[]): void {
    const m = new Counter({ name, help, labelNames: labels, registers: [this.registry] });
    this.#refreshers.push((s, c) => {
      m.reset();
      for (const [l, v] of read(s, c)) if (v >= 0) m.inc(l, v);
    });
  }

  #gauge(name: string, help: string, labels: string[], read: (s: CollectorStats, c: Collector) => Row[]): void {
    const m = new Gauge({ name, help, labelNames: labels, registers: [this.registry] });
    this.#refreshers.push((s, c) => {
      m.reset();
      for (const [l, v] of read(s, c)) m.set(l, v);
    });
  }

  #define(): void {
    const one = (v: number): Row[] => [[{}, v]];
    this.#gauge(
      'daemoneye_collector_info',
      'The collector: component, host and run id',
      ['component', 'host', 'run_id'],
      (s, c) => [[{ component: c.settings.componentName, host: c.host.hostname, run_id: s.sequence.runId }, 1]],
    );
    this.#gauge('daemoneye_collector_running', '1 while the collector runs', [], (s) =>
      one(s.state === 'running' ? 1 : 0),
    );
    this.#gauge('daemoneye_collector_uptime_seconds', 'Time since the collector started', [], (s) =>
      one(s.uptimeMs / 1000),
    );
    this.#gauge('daemoneye_health_status', 'Overall health: 1 for the current status', ['status'], (_s, c) => {
      const h = c.health().status;
      return STATUSES.map((st) => [{ status: st }, st === h ? 1 : 0]);
    });
    this.#gauge('daemoneye_ready', '1 when every source started and every sink opened', [], (_s, c) =>
      one(c.readiness().ready ? 1 : 0),
    );
    this.#counter('daemoneye_events_offered_total', 'Events sources offered (losses they reported included)', [], (s) =>
      one(s.events.offered),
    );
    this.#counter('daemoneye_events_accepted_total', 'Events accepted into the channel', [], (s) =>
      one(s.events.accepted),
    );
    this.#counter('daemoneye_events_batched_total', 'Events handed to the processors and sinks in batches', [], (s) =>
      one(s.events.batched),
    );
    this.#gauge('daemoneye_events_waiting', 'Events whose send() waits under backpressure', [], (s) =>
      one(s.events.waiting),
    );
    this.#counter(
      'daemoneye_events_dropped_total',
      'Events dropped before a batch, by reason and source ("" for drops of the collector itself)',
      ['reason', 'source'],
      droppedRows,
    );
    this.#counter(
      'daemoneye_source_events_lost_total',
      'Events a source lost in the kernel before it could send them',
      ['source', 'reason'],
      (s) =>
        Object.entries(s.sources).flatMap(([source, c]) =>
          Object.entries(c.lost).map(([reason, v]): Row => [{ source, reason }, v]),
        ),
    );
    this.#counter('daemoneye_source_events_offered_total', 'Events each source offered', ['source'], (s) =>
      Object.entries(s.sources).map(([source, c]): Row => [{ source }, c.offered]),
    );
    this.#counter('daemoneye_source_events_accepted_total', 'Events of each source accepted', ['source'], (s) =>
      Object.entries(s.sources).map(([source, c]): Row => [{ source }, c.accepted]),
    );
    this.#gauge(
      'daemoneye_source_health',
      'Health of each source: 1 for its current status',
      ['source', 'status'],
      (_s, c) =>
        c
          .health()
          .sources.flatMap((h) => STATUSES.map((st): Row => [{ source: h.name, status: st }, st === h.status ? 1 : 0])),
    );
    this.#gauge('daemoneye_source_running', '1 while the source is running', ['source'], (_s, c) =>
      c.health().sources.map((h): Row => [{ source: h.name }, h.state === 'running' ? 1 : 0]),
    );
    this.#counter('daemoneye_source_restarts_total', 'Restarts of each source after a failure', ['source'], (_s, c) =>
      c.health().sources.map((h): Row => [{ source: h.name }, h.restarts]),
    );
    this.#gauge('daemoneye_channel_depth_events', 'Events buffered in the channel', [], (s) => one(s.channel.depth));
    this.#gauge('daemoneye_channel_capacity_events', 'Capacity of the channel', [], (s) => one(s.channel.capacity));
    this.#gauge('daemoneye_channel_high_water_events', 'Most events the channel held', [], (s) =>
      one(s.channel.highWater),
    );
    this.#gauge('daemoneye_channel_backpressure_threshold_events', 'Depth at which send() waits', [], (s) =>
      one(s.channel.threshold),
    );
    this.#counter('daemoneye_batches_total', 'Batches flushed, by cause', ['cause'], (s) =>
      Object.entries(s.batches.flushCauses).map(([cause, v]): Row => [{ cause }, v]),
    );
    this.#defineSinks();
    this.#defineProcessors();
    this.#gauge('daemoneye_shedding_level', 'Load shedding: 0 none, 1 shed, 2 severe', [], (s) =>
      one(s.shedding.level),
    );
    this.#counter('daemoneye_shedding_changes_total', 'Changes of the shedding level', [], (s) =>
      one(s.shedding.changes),
    );
    const dog = (): WatchdogStats | undefined => this.#o.watchdog?.();
    this.#gauge(
      'daemoneye_watchdog_cpu_budget_percent',
      'CPU budget of the watchdog (percent of one core; 0: none)',
      [],
      () => one(dog()?.cpuPercentBudget ?? 0),
    );
    this.#gauge('daemoneye_watchdog_rss_budget_bytes', 'RSS budget of the watchdog (0: none)', [], () =>
      one(dog()?.rssBytesBudget ?? 0),
    );
    this.#counter('daemoneye_watchdog_over_budget_checks_total', 'Watchdog samples over budget', [], () =>
      one(dog()?.overBudgetChecks ?? 0),
    );
  }

  #defineSinks(): void {
    const bySink = (f: (k: CollectorStats['sinks'][number]) => number) => (s: CollectorStats) =>
      s.sinks.map((k): Row => [{ sink: k.name }, f(k)]);
    this.#counter(
      'daemoneye_sink_events_received_total',
      'Events offered to each sink',
      ['sink'],
      bySink((k) => k.received),
    );
    this.#counter(
      'daemoneye_sink_events_delivered_total',
      'Events each sink wrote',
      ['sink'],
      bySink((k) => k.delivered),
    );
    this.#counter(
      'daemoneye_sink_events_dropped_total',
      'Events each sink dropped, by reason',
      ['sink', 'reason'],
      (s) => s.sinks.flatMap((k) => Object.entries(k.dropped).map(([reason, v]): Row => [{ sink: k.name, reason }, v])),
    );
    this.#gauge(
      'daemoneye_sink_queue_depth_events',
      'Events queued for each sink',
      ['sink'],
      bySink((k) => k.queueDepth),
    );
    this.#gauge(
      'daemoneye_sink_queue_capacity_events',
      'Queue capacity of each sink',
      ['sink'],
      bySink((k) => k.capacity),
    );
    this.#gauge(
      'daemoneye_sink_queue_high_water_events',
      'Most events queued for each sink',
      ['sink'],
      bySink((k) => k.queueHighWater),
    );
    this.#counter(
      'daemoneye_sink_writes_total',
      'Batches each sink was asked to write',
      ['sink'],
      bySink((k) => k.writes),
    );
    this.#counter(
      'daemoneye_sink_failed_writes_total',
      'Writes that failed',
      ['sink'],
      bySink((k) => k.failedWrites),
    );
    this.#gauge(
      'daemoneye_sink_write_latency_seconds',
      'Recent write latency of each sink',
      ['sink', 'quantile'],
      (s) =>
        s.sinks.flatMap((k) =>
          (
            [
              ['0.5', k.latencyMs.p50],
              ['0.9', k.latencyMs.p90],
              ['0.99', k.latencyMs.p99],
              ['1', k.latencyMs.max],
            ] as const
          ).map(([quantile, ms]): Row => [{ sink: k.name, quantile }, ms / 1000]),
        ),
    );
    this.#gauge(
      'daemoneye_sink_open',
      '1 once the sink opened',
      ['sink'],
      bySink((k) => (k.opened ? 1 : 0)),
    );
    this.#gauge('daemoneye_sink_health', 'Health of each sink: 1 for its current status', ['sink', 'status'], (_s, c) =>
      c
        .health()
        .sinks.flatMap((h) => STATUSES.map((st): Row => [{ sink: h.name, status: st }, st === h.status ? 1 : 0])),
    );
  }

  #defineProcessors(): void {
    this.#counter('daemoneye_processor_batches_total', 'Batches each processor saw', ['processor'], (s) =>
      s.processors.map((p): Row => [{ processor: p.name }, p.batches]),
    );
    this.#counter('daemoneye_processor_errors_total', 'Batches a processor failed on', ['processor'], (s) =>
      s.processors.map((p): Row => [{ processor: p.name }, p.errors]),
    );
    this.#counter(
      'daemoneye_processor_events_emitted_total',
      'Derived events each processor emitted',
      ['processor'],
      (s) => s.processors.map((p): Row => [{ processor: p.name }, p.emitted]),
    );
    this.#counter(
      'daemoneye_processor_events_refused_total',
      'Derived events refused, by reason',
      ['processor', 'reason'],
      (s) =>
        s.processors.flatMap((p) =>
          Object.entries(p.refused).map(([reason, v]): Row => [{ processor: p.name, reason }, v]),
        ),
    );
    this.#gauge(
      'daemoneye_processor_health',
      'Health of each processor: 1 for its current status',
      ['processor', 'status'],
      (_s, c) =>
        c
          .health()
          .processors.flatMap((h) =>
            STATUSES.map((st): Row => [{ processor: h.name, status: st }, st === h.status ? 1 : 0]),
          ),
    );
    this.#counter('daemoneye_derived_events_offered_total', 'Derived events offered to the derived lane', [], (s) => [
      [{}, s.derived.offered],
    ]);
    this.#counter(
      'daemoneye_derived_events_dropped_total',
      'Derived events refused by the lane, by reason',
      ['reason'],
      (s) => Object.entries(s.derived.dropped).map(([reason, v]): Row => [{ reason }, v]),
    );
    this.#gauge('daemoneye_derived_lane_depth_events', 'Derived events waiting for a batch', [], (s) => [
      [{}, s.derived.buffered],
    ]);
  }

  /** The metrics text, from one snapshot of the collector. */
  async text(): Promise<string> {
    const c = this.#o.collector();
    const s = c.stats();
    for (const r of this.#refreshers) r(s, c);
    return this.registry.metrics();
  }
}

type Row = [Record<string, string>, number];

/**
 * Drops by reason and source: each source's refused events and the losses it reported (as
 * `source_lost:<reason>`, the collector's name for them), then what the collector dropped itself
 * (`shutdown_timeout`, `no_sink`) with `source=""`. Summed over sources they equal `stats().events.dropped`.
 */
function droppedRows(s: CollectorStats): Row[] {
  const rows: Row[] = [];
  const attributed = new Map<string, number>();
  for (const [source, c] of Object.entries(s.sources)) {
    const add = (reason: string, v: number): void => {
      rows.push([{ reason, source }, v]);
      attributed.set(reason, (attributed.get(reason) ?? 0) + v);
    };
    for (const [reason, v] of Object.entries(c.dropped)) add(reason, v);
    for (const [reason, v] of Object.entries(c.lost)) add(`source_lost:${reason}`, v);
  }
  for (const [reason, v] of Object.entries(s.events.dropped)) {
    const rest = v - (attributed.get(reason) ?? 0);
    if (rest > 0) rows.push([{ reason, source: '' }, rest]);
  }
  return rows;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

/** A listening endpoint: its address and how to close it. */
export interface MetricsEndpoint {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

/**
 * Serves `/metrics`, `/healthz` and `/readyz` on `listen`. `/healthz` answers 200 while the collector
 * is Healthy or Degraded and 503 when Unhealthy; `/readyz` 200 when ready, 503 otherwise; both with a
 * JSON body holding the status and its reasons. Rejects when the address cannot be bound.
 */
export async function startMetricsEndpoint(
  listen: ListenAddress,
  options: MetricsEndpointOptions,
): Promise<MetricsEndpoint> {
  const metrics = new CollectorMetrics(options);
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, 'text/plain', 'method not allowed\n');
    }
    const c = options.collector();
    if (path === '/metrics') return send(res, 200, metrics.registry.contentType, await metrics.text());
    if (path === '/healthz') {
      const h = c.health();
      const body = { status: h.status, state: c.stats().state, reasons: h.reasons };
      return send(
        res,
        h.status === HealthStatus.Unhealthy ? 503 : 200,
        'application/json',
        `${JSON.stringify(body)}\n`,
      );
    }
    if (path === '/readyz') {
      const r = c.readiness();
      return send(res, r.ready ? 200 : 503, 'application/json', `${JSON.stringify(r)}\n`);
    }
    return send(res, 404, 'text/plain', 'not found: try /metrics, /healthz or /readyz\n');
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => send(res, 500, 'text/plain', `${String(e)}\n`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    address: server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
