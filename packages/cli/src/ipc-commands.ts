/**
 * `daemoneye-collector status` and `daemoneye-collector tail`: clients of a running collector's IPC
 * server, found at the configured `sinks.ipc.socket_path` (by default in the data directory).
 * `status` prints health with reasons, capabilities, each source's backend and state, the counters
 * and drops (or all of it as JSON); `tail` prints live events matching kind, pid, name and topic
 * filters, pretty or as JSON lines, and keeps going across collector restarts. Neither changes the
 * collector.
 */
import type { Writable } from 'node:stream';
import {
  type CollectionEvent,
  capabilityLabels,
  EVENT_KINDS,
  type EventKind,
  type LoadedConfig,
} from '@daemoneye/core';
import { capabilitiesFromWire, IpcClient, type ReceivedEvent, resolveSocketPath } from '@daemoneye/ipc';
import { CAPABILITY_NAMES } from '@daemoneye/native';
import { cliErrors } from './errors.ts';

/** The privileges a health answer carries. */
type Privileges = NonNullable<Awaited<ReturnType<IpcClient['health']>>['privileges']>;

/** Options of `status` and `tail` from the command line. */
export interface IpcCommandOptions {
  readonly json: boolean;
  readonly socket?: string;
  readonly kinds: readonly string[];
  readonly pids: readonly string[];
  readonly names: readonly string[];
  readonly topics: readonly string[];
  /** `tail`: stop after this many events. */
  readonly count?: string;
}

/** The socket of the collector the configuration describes. */
export function configuredSocketPath(loaded: LoadedConfig, override?: string): string {
  if (override !== undefined && override !== '') return override;
  const dataDir = loaded.get('data_dir');
  const configured = loaded.get('sinks.ipc.socket_path');
  return resolveSocketPath(
    typeof configured === 'string' ? configured : '',
    typeof dataDir === 'string' ? dataDir : undefined,
  );
}

function table(rows: readonly (readonly string[])[], out: Writable, indent = '  '): void {
  const widths: number[] = [];
  for (const r of rows) {
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  }
  for (const r of rows)
    out.write(`${indent}${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')}\n`);
}

function drops(m: { [key: string]: number }): string {
  const e = Object.entries(m).filter(([, v]) => v > 0);
  return e.length === 0 ? '0' : e.map(([k, v]) => `${k} ${v}`).join(', ');
}

function connectHint(socket: string, e: unknown): Error {
  return cliErrors.error(
    'ERR_CLI_COLLECTOR_UNREACHABLE',
    `no collector answers at ${socket} (${(e as Error).message}); is \`daemoneye-collector run\` running with the same data_dir or sinks.ipc.socket_path?`,
    { cause: e },
  );
}

/**
 * One line on the collector's privileges: `privileges: uid 65534 (nobody), gid 65534; effective
 * CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE in 6 of 18 threads; no_new_privs; missing: none`.
 */
export function privilegeLine(p: Privileges): string {
  const held = new Set(p.effective);
  const lacking = CAPABILITY_NAMES.filter((c) => !held.has(c));
  const all =
    lacking.length === 0
      ? 'all capabilities'
      : held.size > CAPABILITY_NAMES.length / 2
        ? `all capabilities but ${lacking.join(', ')}`
        : p.effective.join(', ') || 'none';
  const missing = p.missing.length > 0 ? `missing for the sources: ${p.missing.join(', ')}` : 'missing: none';
  return `privileges: uid ${p.uid}${p.user !== undefined ? ` (${p.user})` : ''}, gid ${p.gid}; effective ${all} in ${p.capableThreads} of ${p.threads} threads${p.noNewPrivs ? '; no_new_privs' : ''}; ${missing}`;
}

/** `status`: prints the collector's state; resolves with the exit code (0 reachable, 1 not). */
export async function runStatusCommand(loaded: LoadedConfig, o: IpcCommandOptions, out: Writable): Promise<number> {
  const socket = configuredSocketPath(loaded, o.socket);
  const client = new IpcClient({
    socketPath: socket,
    clientId: 'daemoneye-collector status',
    requestTimeoutMs: 10_000,
  });
  try {
    let caps: Awaited<ReturnType<IpcClient['capabilities']>>;
    try {
      caps = await client.capabilities();
    } catch (e) {
      throw connectHint(socket, e);
    }
    const [health, stats] = await Promise.all([client.health(), client.stats()]);
    if (o.json) {
      out.write(`${JSON.stringify({ socket, capabilities: caps, health, stats }, null, 2)}\n`);
      return 0;
    }
    const host = health.host;
    out.write(
      `${health.collector} on ${host?.hostname ?? '?'}${host?.machineId !== undefined ? ` (${host.machineId})` : ''}\n`,
    );
    out.write(`health: ${health.status}${health.reasons.length > 0 ? ` — ${health.reasons.join('; ')}` : ''}\n`);
    out.write(
      `state: ${stats.state}, up ${Math.round(stats.uptimeMs / 1000)} s, run ${stats.runId}, next sequence ${stats.nextSeq}${stats.persistentSeq ? ' (persistent)' : ''}\n`,
    );
    out.write(`server: ${caps.serverVersion ?? '?'} at ${socket}\n`);
    if (health.privileges !== undefined) out.write(`${privilegeLine(health.privileges)}\n`);
    out.write(`capabilities: ${capabilityLabels(capabilitiesFromWire(caps.capabilities)).join(', ') || 'none'}\n`);
    out.write('sources:\n');
    const counters = new Map(stats.sources.map((s) => [s.name, s]));
    table(
      [
        ['NAME', 'STATE', 'HEALTH', 'BACKEND', 'OFFERED', 'ACCEPTED', 'DROPPED', 'REASON'],
        ...health.sources.map((s) => {
          const c = counters.get(s.name);
          return [
            s.name,
            s.state,
            s.status,
            s.backend ?? '-',
            String(c?.counters.offered ?? 0),
            String(c?.counters.accepted ?? 0),
            drops({ ...(c?.dropped ?? {}), ...(c?.lost ?? {}) }),
            s.reason ?? s.lastError ?? '',
          ];
        }),
      ],
      out,
    );
    out.write('sinks:\n');
    const sinkCounters = new Map(stats.sinks.map((s) => [s.name, s]));
    table(
      [
        ['NAME', 'HEALTH', 'RECEIVED', 'DELIVERED', 'DROPPED', 'REASON'],
        ...health.sinks.map((s) => {
          const c = sinkCounters.get(s.name);
          return [
            s.name,
            s.status,
            String(c?.counters.received ?? 0),
            String(c?.counters.delivered ?? 0),
            drops(c?.dropped ?? {}),
            s.reason ?? '',
          ];
        }),
      ],
      out,
    );
    if (health.processors.length > 0) {
      out.write('processors:\n');
      table(
        [
          ['NAME', 'HEALTH', 'ERRORS', 'REASON'],
          ...health.processors.map((p) => [p.name, p.status, String(p.failures), p.reason ?? '']),
        ],
        out,
      );
    }
    const ev = stats.events;
    out.write(
      `events: offered ${ev?.offered ?? 0}, accepted ${ev?.accepted ?? 0}, waiting ${ev?.waiting ?? 0}, dropped ${drops(ev?.dropped ?? {})}\n`,
    );
    const ipc = stats.ipc?.counters ?? {};
    out.write(
      `ipc: ${ipc.connectionsOpen ?? 0} connections, ${ipc.subscriptions ?? 0} subscriptions, ${ipc.eventsSent ?? 0} events streamed, ${ipc.streamDropped ?? 0} dropped for slow clients\n`,
    );
    return 0;
  } finally {
    await client.close();
  }
}

function parseFilters(o: IpcCommandOptions): { kinds?: EventKind[]; pids?: number[]; names?: string[] } {
  for (const k of o.kinds) {
    if (!(EVENT_KINDS as readonly string[]).includes(k)) {
      throw cliErrors.error('ERR_CLI_USAGE', `unknown event kind "${k}" (one of ${EVENT_KINDS.join(', ')})`);
    }
  }
  const pids = o.pids.map((p) => {
    const n = Number(p);
    if (!/^\d+$/.test(p) || !Number.isSafeInteger(n))
      throw cliErrors.error('ERR_CLI_USAGE', `--pid needs a number, got "${p}"`);
    return n;
  });
  return {
    ...(o.kinds.length > 0 ? { kinds: o.kinds as EventKind[] } : {}),
    ...(pids.length > 0 ? { pids } : {}),
    ...(o.names.length > 0 ? { names: [...o.names] } : {}),
  };
}

/** The name an event is about, for `--name` (a process's or a connection's owner). */
function nameOf(e: CollectionEvent): string | undefined {
  if (e.kind === 'process') return e.name;
  if (e.kind === 'network' || e.kind === 'performance') return e.processName;
  return undefined;
}

function time(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

/** One line for a person. */
export function describeEvent(r: ReceivedEvent): string {
  const e = r.event;
  const head = `${String(r.seq).padStart(8)} ${time(e.timestamp)}`;
  switch (e.kind) {
    case 'process':
      return `${head} process.${e.subtype} pid ${e.pid}${e.ppid !== undefined ? ` ppid ${e.ppid}` : ''} ${e.name}${e.commandLine.length > 0 ? ` — ${e.commandLine.join(' ')}` : ''}`;
    case 'network':
      return `${head} network.${e.subtype ?? 'snapshot'} ${e.protocol} ${e.sourceAddr} → ${e.destAddr} ${e.state}${e.pid !== undefined ? ` pid ${e.pid}${e.processName !== undefined ? ` ${e.processName}` : ''}` : ''}`;
    case 'filesystem':
      return `${head} filesystem.${e.operation} ${e.path}${e.pid !== undefined ? ` pid ${e.pid}` : ''}`;
    case 'performance':
      return `${head} performance ${e.metricName}${e.instance !== undefined ? `[${e.instance}]` : ''} = ${e.value} ${e.unit}${e.subtype !== undefined && e.subtype !== 'sample' ? ` (${e.subtype})` : ''}`;
    case 'trigger_request':
      return `${head} trigger ${e.triggerId} ${e.analysisType} priority ${e.priority}${e.targetPid !== undefined ? ` pid ${e.targetPid}` : ''}${e.targetPath !== undefined ? ` ${e.targetPath}` : ''}`;
    case 'analysis_result':
      return `${head} analysis ${e.analysisType} ${e.success ? 'ok' : `failed: ${e.error ?? ''}`}`;
  }
}

/**
 * `tail`: prints events until `signal` aborts, or `--count` events were printed; notes about the
 * connection go to `err`. Resolves with the exit code.
 */
export async function runTailCommand(
  loaded: LoadedConfig,
  o: IpcCommandOptions,
  io: { stdout: Writable; stderr: NodeJS.WritableStream },
  signal: AbortSignal,
): Promise<number> {
  const f = parseFilters(o);
  const limit = o.count === undefined ? Number.POSITIVE_INFINITY : Number(o.count);
  if (o.count !== undefined && (!Number.isInteger(limit) || limit <= 0))
    throw cliErrors.error('ERR_CLI_USAGE', `--count needs a positive integer, got "${o.count}"`);
  const socket = configuredSocketPath(loaded, o.socket);
  const client = new IpcClient({ socketPath: socket, clientId: 'daemoneye-collector tail' });
  const names = f.names === undefined ? undefined : new Set(f.names);
  const stop = new AbortController();
  const both = AbortSignal.any([signal, stop.signal]);
  let printed = 0;
  try {
    const stream = client.subscribe({
      topics: o.topics,
      filter: {
        ...(f.kinds !== undefined ? { kinds: f.kinds } : {}),
        ...(f.pids !== undefined ? { pids: f.pids } : {}),
      },
      signal: both,
    });
    for await (const item of stream) {
      if (item.type === 'events') {
        for (const r of item.events) {
          if (names !== undefined) {
            const n = nameOf(r.event);
            if (n === undefined || !names.has(n)) continue;
          }
          io.stdout.write(
            o.json
              ? `${JSON.stringify({ seq: r.seq, source: r.source, acceptedAt: r.acceptedAt, host: item.host.hostname, event: r.event })}\n`
              : `${describeEvent(r)}\n`,
          );
          if (++printed >= limit) {
            stop.abort();
            break;
          }
        }
      } else if (item.type === 'subscribed') {
        const i = item.info;
        if (item.resumed) {
          io.stderr.write(
            `tail: reconnected to ${socket}; ${i.replayed} held events resent${i.missed > 0 ? `, ${i.missed} no longer held` : ''}${i.earlierRunGap ? ' (the collector restarted: events of its earlier run after the last one shown may be lost)' : ''}\n`,
          );
        } else io.stderr.write(`tail: following ${socket} (run ${i.runId || 'not started'})\n`);
      } else if (item.type === 'dropped') {
        io.stderr.write(
          `tail: ${item.notice.dropped} events dropped (this reader fell behind; ${item.notice.totalDropped} in all)\n`,
        );
      } else if (item.type === 'disconnected') {
        if (item.attempt === 1 || item.attempt % 10 === 0) {
          io.stderr.write(`tail: no collector at ${socket} (${item.reason}); retrying in ${item.retryInMs} ms\n`);
        }
      } else if (item.type === 'server-shutdown') {
        io.stderr.write(`tail: the collector is shutting down (last sequence ${item.lastSeq}); waiting for it\n`);
      }
    }
  } finally {
    await client.close();
  }
  return 0;
}
