/**
 * The collector's health and counters as the wire's HealthResponse and StatsResponse: every source
 * with its status, lifecycle state, capabilities and backend (a source that names one with a
 * `backend()` method), every sink and processor, the event ledger, the drops by reason and the IPC
 * server's own counters. It reads; it changes nothing.
 */
import {
  type CollectorHealth,
  type CollectorView,
  capabilityLabels,
  type EventSource,
  type HostIdentity,
} from '@daemoneye/core';
import { processPrivileges } from '@daemoneye/native';
import type { CounterSet, HealthResponse, Privileges, StatsResponse } from '@daemoneye/proto';

function numbers(o: object): { [key: string]: number } {
  const out: { [key: string]: number } = {};
  for (const [k, v] of Object.entries(o)) if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  return out;
}

function counts(o: Readonly<Record<string, number>> | undefined): { [key: string]: number } {
  const out: { [key: string]: number } = {};
  if (o !== undefined) for (const [k, v] of Object.entries(o)) if (v > 0) out[k] = v;
  return out;
}

/** The backend a source names, when it has a `backend()` method returning a string. */
export function backendOf(source: EventSource | undefined): string | undefined {
  const f = (source as { backend?: unknown } | undefined)?.backend;
  if (typeof f !== 'function') return undefined;
  const b: unknown = f.call(source);
  return typeof b === 'string' ? b : undefined;
}

/**
 * The process's privileges now (uid, groups, the main thread's capabilities, how many threads hold
 * any) and what the running sources need of them; `undefined` off Linux.
 */
export function privilegesToWire(sources: readonly EventSource[]): Privileges | undefined {
  const p = processPrivileges();
  if (p === undefined) return undefined;
  const needed = [...new Set(sources.flatMap((s) => [...(s.privileges?.() ?? [])]))].sort();
  const effective = new Set(p.effective);
  return {
    uid: p.uid,
    gid: p.gid,
    user: p.user,
    groups: [...p.groups],
    effective: [...p.effective],
    bounding: [...p.bounding],
    noNewPrivs: p.noNewPrivs,
    threads: p.threads,
    capableThreads: p.capableThreads,
    needed,
    missing: needed.filter((c) => !effective.has(c)),
  };
}

/** What a health response says besides the collector's own health. */
export interface HealthContext {
  readonly host: HostIdentity;
  readonly collector: string;
  readonly serverVersion: string;
}

/** The collector's health on the wire. */
export function healthToWire(view: CollectorView, ctx: HealthContext): HealthResponse {
  const h: CollectorHealth = view.health();
  const sources = new Map(view.sources().map((s) => [s.name(), s]));
  return {
    status: h.status,
    reasons: [...h.reasons],
    sources: h.sources.map((s) => {
      const source = sources.get(s.name);
      const caps = source?.capabilities() ?? 0;
      return {
        name: s.name,
        status: s.status,
        state: s.state,
        reason: s.reason,
        restarts: s.restarts,
        lastCheckAt: s.lastCheckAt,
        lastError: s.lastError,
        capabilities: caps,
        capabilityLabels: capabilityLabels(caps),
        backend: backendOf(source),
      };
    }),
    sinks: h.sinks.map((s) => ({
      name: s.name,
      status: s.status,
      reason: s.reason,
      failures: s.consecutiveFailures,
      overflow: s.overflow,
    })),
    processors: h.processors.map((p) => ({
      name: p.name,
      status: p.status,
      reason: p.reason,
      failures: p.errors,
      overflow: undefined,
    })),
    host: { hostname: ctx.host.hostname, machineId: ctx.host.machineId },
    collector: ctx.collector,
    serverVersion: ctx.serverVersion,
    privileges: privilegesToWire(view.sources()),
  };
}

/** The collector's counters on the wire, with the IPC server's own. */
export function statsToWire(view: CollectorView, ipc: CounterSet): StatsResponse {
  const s = view.stats();
  const sources: CounterSet[] = Object.entries(s.sources).map(([name, c]) => {
    const source = view.sources().find((x) => x.name() === name);
    const own = (source as { stats?: unknown } | undefined)?.stats;
    const extra = typeof own === 'function' ? (own.call(source) as unknown) : undefined;
    return {
      name,
      counters: {
        ...(typeof extra === 'object' && extra !== null ? numbers(extra) : {}),
        offered: c.offered,
        accepted: c.accepted,
      },
      dropped: counts(c.dropped),
      lost: counts(c.lost),
    };
  });
  return {
    state: s.state,
    uptimeMs: Math.round(s.uptimeMs),
    events: {
      offered: s.events.offered,
      accepted: s.events.accepted,
      waiting: s.events.waiting,
      buffered: s.events.buffered,
      batched: s.events.batched,
      dropped: counts(s.events.dropped),
    },
    channel: numbers(s.channel),
    sources,
    sinks: s.sinks.map((k) => ({
      name: k.name,
      counters: {
        ...numbers(k),
        latencyP50Ms: k.latencyMs.p50 ?? 0,
        latencyP99Ms: k.latencyMs.p99 ?? 0,
      },
      dropped: counts(k.dropped),
      lost: {},
    })),
    processors: s.processors.map((p) => ({ name: p.name, counters: numbers(p), dropped: counts(p.refused), lost: {} })),
    runId: s.sequence.runId,
    nextSeq: s.sequence.next,
    persistentSeq: s.sequence.persistent,
    ipc,
    telemetry: s.telemetry === undefined ? {} : numbers(s.telemetry),
  };
}
