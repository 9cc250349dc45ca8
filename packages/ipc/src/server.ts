/**
 * CollectorIpcServer: the collector's IPC listener and a sink. As a sink it keeps the events it is
 * given in a bounded replay ring and streams them to subscribers; as a server it listens on a Unix
 * domain socket (a named pipe on Windows), checks each peer's uid (SO_PEERCRED) against an allow-list,
 * caps the connections, and answers capability negotiation, detection tasks, health and statistics
 * from the collector it runs in. A second, optional listener speaks DaemonEye's bare
 * DetectionTask → DetectionResult exchange. Closing tells every client and removes the socket.
 */
import { chmodSync, linkSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import {
  type CollectorView,
  describeError,
  type EventBatch,
  type EventSink,
  type HealthReport,
  type HostIdentity,
  isCollectorError,
  type Logger,
  type PluginRuntime,
  readHostIdentity,
  silentLogger,
} from '@daemoneye/core';
import { compileFilters, compileTopicPattern } from '@daemoneye/event-bus';
import { getPeerCredentials } from '@daemoneye/native';
import type {
  CapabilityRequest,
  CapabilityResponse,
  CounterSet,
  EnvelopeBody,
  SubscribeRequest,
} from '@daemoneye/proto';
import { ipcErrors } from './errors.ts';
import { DEFAULT_MAX_FRAME_BYTES } from './framing.ts';
import { Connection, type ConnectionHost, DaemonEyeConnection } from './internal/connection.ts';
import { LatestState } from './internal/latest-state.ts';
import { ReplayRing, type RingEntry } from './internal/replay-ring.ts';
import { defaultSocketPath, isPipePath, prepareSocketPath } from './internal/socket-path.ts';
import { healthToWire, statsToWire } from './internal/status.ts';
import { type SlowConsumerPolicy, Subscription } from './internal/subscription.ts';
import { TaskResponder } from './internal/tasks.ts';
import { batchHeader } from './internal/wire.ts';
import { capabilitiesToWire, correlationFromWire, filterFromWire } from './mapping.ts';

/** The version this server reports in capability responses. */
export const IPC_SERVER_VERSION = '0.1.0';

/** The credentials of a connected peer, as the kernel recorded them. */
export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
}

/** Options of {@link CollectorIpcServer}. Durations are milliseconds. */
export interface IpcServerOptions {
  /** Socket path (default: `defaultSocketPath(dataDir)`, the data directory given at open). */
  readonly socketPath?: string;
  /** A second listener speaking DaemonEye's bare DetectionTask → DetectionResult exchange (default off). */
  readonly daemoneyeSocketPath?: string;
  /** Connections at once (default 16); one more gets an ERR_IPC_TOO_MANY_CONNECTIONS frame and is closed. */
  readonly maxConnections?: number;
  /** Largest frame payload (default 1 MiB). */
  readonly maxFrameBytes?: number;
  /** Longest a request, or a started frame, may take (default 30 s). */
  readonly requestTimeoutMs?: number;
  /**
   * Peer uids allowed to connect (default: root and the collector's own uid, read at each connection,
   * so after a privilege drop the collector's user is allowed too).
   */
  readonly allowedUids?: readonly number[];
  /** Events of the stream a subscriber may fall behind (default 10,000). */
  readonly subscriberQueue?: number;
  /** What a subscriber that falls further behind gets (default `drop-oldest`, with a drop notice). */
  readonly slowConsumer?: SlowConsumerPolicy;
  /**
   * Events held for resuming subscribers (default 10,000: about 15 MB of heap, a held event being
   * about 1.5 KB; at least `subscriberQueue`).
   */
  readonly replayCapacity?: number;
  /** Events per streamed batch at most (default 1,000; batches also stay within one frame). */
  readonly maxBatchEvents?: number;
  /** Longest a graceful close waits for clients to hang up (default 2 s). */
  readonly shutdownGraceMs?: number;
  /** The collector to answer from, when the server runs outside a collector's sinks. */
  readonly collector?: CollectorView;
  readonly host?: HostIdentity;
  readonly componentName?: string;
  readonly logger?: Logger;
  /** Port: the peer of a connected socket (default: SO_PEERCRED through @daemoneye/native). */
  readonly peerCredentials?: (socket: Socket) => PeerCredentials | undefined;
}

/** A request the server answers (capability negotiation, a detection task, health, statistics). */
export type IpcRequest = Extract<
  EnvelopeBody,
  { $case: 'capabilityRequest' | 'detectionTask' | 'healthRequest' | 'statsRequest' }
>;
/** What the server answers a request with. */
export type IpcResponse = Extract<
  EnvelopeBody,
  { $case: 'capabilityResponse' | 'detectionResult' | 'healthResponse' | 'statsResponse' }
>;

/** The server's own counters. */
export interface IpcServerStats {
  readonly listening: boolean;
  readonly socketPath: string;
  readonly connectionsOpen: number;
  readonly connectionsAccepted: number;
  readonly subscriptions: number;
  readonly requests: number;
  readonly eventsReceived: number;
  readonly eventsSent: number;
  readonly dropNotices: number;
  readonly streamDropped: number;
  readonly replayHeld: number;
  readonly replayEvicted: number;
  /** Refused connections, malformed input and failed requests, by error code. */
  readonly errors: Readonly<Record<string, number>>;
}

function defaultPeer(socket: Socket): PeerCredentials | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (fd === undefined || fd < 0) return undefined;
  return getPeerCredentials(fd);
}

function positive(name: string, v: number | undefined, fallback: number): number {
  const n = v ?? fallback;
  if (!Number.isInteger(n) || n <= 0) {
    throw ipcErrors.error('ERR_IPC_OPTIONS', `${name} must be a positive integer, got ${String(v)}`);
  }
  return n;
}

/** The collector's IPC server; also an `EventSink` (`name()` is `ipc`). */
export class CollectorIpcServer implements EventSink, ConnectionHost {
  readonly maxFrameBytes: number;
  readonly requestTimeoutMs: number;
  readonly maxBatchEvents: number;
  readonly ring: ReplayRing;
  readonly #o: IpcServerOptions;
  readonly #maxConnections: number;
  readonly #subscriberQueue: number;
  /** The configured allow-list; undefined for the default (root and the process's uid now). */
  readonly #allowed: ReadonlySet<number> | undefined;
  readonly #latest = new LatestState();
  readonly #tasks: TaskResponder;
  readonly #connections = new Set<Connection>();
  readonly #bare = new Set<DaemonEyeConnection>();
  readonly #errors: Record<string, number> = {};
  #log: Logger;
  #view: CollectorView | undefined;
  #host: HostIdentity;
  #component: string;
  #socketPath: string | undefined;
  #servers: Server[] = [];
  #header: Uint8Array | undefined;
  #runId = '';
  #listening = false;
  #closed = false;
  #accepted = 0;
  #requests = 0;
  #received = 0;
  #sent = 0;
  #dropNotices = 0;

  /** Throws `ERR_IPC_OPTIONS` for an option that is not a positive integer. */
  constructor(options: IpcServerOptions = {}) {
    this.#o = options;
    this.maxFrameBytes = positive('maxFrameBytes', options.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES);
    this.requestTimeoutMs = positive('requestTimeoutMs', options.requestTimeoutMs, 30_000);
    this.maxBatchEvents = positive('maxBatchEvents', options.maxBatchEvents, 1000);
    this.#maxConnections = positive('maxConnections', options.maxConnections, 16);
    this.#subscriberQueue = positive('subscriberQueue', options.subscriberQueue, 10_000);
    const replay = positive('replayCapacity', options.replayCapacity, 10_000);
    this.ring = new ReplayRing(Math.max(replay, this.#subscriberQueue));
    this.#allowed = options.allowedUids === undefined ? undefined : new Set(options.allowedUids);
    this.#log = options.logger ?? silentLogger;
    this.#view = options.collector;
    this.#host = options.host ?? readHostIdentity();
    this.#component = options.componentName ?? 'daemoneye-collector';
    this.#socketPath = options.socketPath;
    this.#tasks = new TaskResponder(() => this.#view, this.#latest);
  }

  name(): string {
    return 'ipc';
  }

  /** The socket path (known once the server started). */
  get socketPath(): string | undefined {
    return this.#socketPath;
  }

  /** As a sink: learns the collector, host and data directory, then starts listening. */
  async open(_signal: AbortSignal, runtime: PluginRuntime): Promise<void> {
    if (this.#listening) return;
    this.#view ??= runtime.collector;
    this.#host = this.#o.host ?? runtime.host;
    this.#component = this.#o.componentName ?? runtime.componentName;
    if (this.#o.logger === undefined) this.#log = runtime.logger;
    this.#socketPath ??= defaultSocketPath(runtime.dataDir);
    await this.start();
  }

  /**
   * Listens. Throws `ERR_IPC_SOCKET_IN_USE` when a live collector holds the socket (a stale socket is
   * replaced) and `ERR_IPC_OPTIONS` for a socket directory that is not 0700 and the collector's own.
   */
  async start(): Promise<void> {
    if (this.#listening) return;
    if (this.#closed) throw ipcErrors.error('ERR_IPC_SHUTDOWN', 'the IPC server was closed');
    this.#socketPath ??= defaultSocketPath(undefined);
    const path = this.#socketPath;
    await this.#listen(path, (s) => this.#onEnvelopeConnection(s));
    const compat = this.#o.daemoneyeSocketPath;
    if (compat !== undefined && compat !== '') await this.#listen(compat, (s) => this.#onBareConnection(s));
    this.#listening = true;
    this.#log.info({ socket: path, daemoneyeSocket: compat || undefined }, 'IPC server listening');
  }

  async #listen(path: string, onConnection: (s: Socket) => void): Promise<void> {
    await prepareSocketPath(path);
    const server = createServer({ allowHalfOpen: true }, onConnection);
    // A Unix socket is bound under a temporary name, made 0600, then renamed into place, so the path
    // never exists with a looser mode.
    const pipe = isPipePath(path);
    const bindPath = pipe ? path : `${path}.${process.pid}.tmp`;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          e.code === 'EADDRINUSE'
            ? ipcErrors.error('ERR_IPC_SOCKET_IN_USE', `another process took ${path} while this one started`)
            : e,
        ),
      );
      server.listen(bindPath, () => resolve());
    });
    server.on('error', (e) => this.#log.error({ err: e, socket: path }, 'IPC listener failed'));
    if (!pipe) {
      chmodSync(bindPath, 0o600);
      try {
        // link(2), unlike rename, refuses to replace a socket another collector placed meanwhile.
        linkSync(bindPath, path);
      } catch (e) {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        throw (e as NodeJS.ErrnoException).code === 'EEXIST'
          ? ipcErrors.error('ERR_IPC_SOCKET_IN_USE', `another process took ${path} while this one started`)
          : e;
      } finally {
        try {
          unlinkSync(bindPath);
        } catch {
          // Closing the listener removed it already.
        }
      }
    }
    this.#servers.push(server);
  }

  /** Checks the peer and the connection limit; false (after a refusal frame) when refused. */
  #admit(socket: Socket, open: number): PeerCredentials | false | undefined {
    let peer: PeerCredentials | undefined;
    try {
      peer = (this.#o.peerCredentials ?? defaultPeer)(socket);
    } catch (e) {
      if (!isCollectorError(e, 'ERR_NATIVE_UNAVAILABLE')) {
        this.#refuse(socket, 'ERR_IPC_PEER_REFUSED', `cannot read the peer's credentials: ${describeError(e)}`);
        return false;
      }
    }
    const allowed = this.#allowed?.has(peer?.uid ?? -1) ?? (peer?.uid === 0 || peer?.uid === process.getuid?.());
    if (peer !== undefined && !allowed) {
      this.#log.warn({ uid: peer.uid, pid: peer.pid }, 'IPC peer refused');
      this.#refuse(socket, 'ERR_IPC_PEER_REFUSED', `uid ${peer.uid} may not connect to this collector`);
      return false;
    }
    if (open >= this.#maxConnections) {
      this.#refuse(
        socket,
        'ERR_IPC_TOO_MANY_CONNECTIONS',
        `the collector serves at most ${this.#maxConnections} connections at once`,
      );
      return false;
    }
    return peer;
  }

  #refuse(socket: Socket, code: string, message: string): void {
    this.count(code);
    const c = new Connection(socket, this, undefined);
    c.fail(code, message);
  }

  #onEnvelopeConnection(socket: Socket): void {
    if (this.#closed) return void socket.destroy();
    const peer = this.#admit(socket, this.#connections.size + this.#bare.size);
    if (peer === false) return;
    this.#accepted++;
    this.#connections.add(new Connection(socket, this, peer));
  }

  #onBareConnection(socket: Socket): void {
    if (this.#closed) return void socket.destroy();
    const peer = this.#admit(socket, this.#connections.size + this.#bare.size);
    if (peer === false) return;
    this.#accepted++;
    const conn = new DaemonEyeConnection(
      socket,
      {
        maxFrameBytes: this.maxFrameBytes,
        requestTimeoutMs: this.requestTimeoutMs,
        count: (what) => this.count(what),
        closed: (c) => this.#bare.delete(c),
      },
      (task, signal) => {
        this.#requests++;
        return this.#tasks.run(task, signal);
      },
    );
    this.#bare.add(conn);
  }

  // ConnectionHost

  batchHeader(): Uint8Array {
    this.#header ??= batchHeader(
      { hostname: this.#host.hostname, machineId: this.#host.machineId },
      this.#component,
      this.#runId,
    );
    return this.#header;
  }

  count(what: string): void {
    this.#errors[what] = (this.#errors[what] ?? 0) + 1;
  }

  countStream(events: number, dropNotices: number): void {
    this.#sent += events;
    this.#dropNotices += dropNotices;
  }

  closed(conn: Connection): void {
    this.#connections.delete(conn);
  }

  answer(body: EnvelopeBody, signal: AbortSignal): Promise<EnvelopeBody> {
    return this.handleRequest(body as IpcRequest, signal);
  }

  /**
   * Answers one request, as the seed's `handleRequest(request) → IpcResponse`. Rejects with
   * `ERR_IPC_UNKNOWN_MESSAGE` for a message that is not a request, `ERR_IPC_UNSUPPORTED` for a task
   * no running source can answer, `ERR_IPC_TASK_INVALID` for a task missing what it needs.
   */
  async handleRequest(request: IpcRequest, signal: AbortSignal = new AbortController().signal): Promise<IpcResponse> {
    this.#requests++;
    switch (request.$case) {
      case 'capabilityRequest':
        return { $case: 'capabilityResponse', value: this.getCapabilities(request.value) };
      case 'detectionTask':
        return { $case: 'detectionResult', value: await this.#tasks.run(request.value, signal) };
      case 'healthRequest':
        return {
          $case: 'healthResponse',
          value: healthToWire(this.#requireView(), {
            host: this.#host,
            collector: this.#component,
            serverVersion: IPC_SERVER_VERSION,
          }),
        };
      case 'statsRequest':
        return { $case: 'statsResponse', value: statsToWire(this.#requireView(), this.#ipcCounters()) };
      default:
        throw ipcErrors.error(
          'ERR_IPC_UNKNOWN_MESSAGE',
          `${(request as { $case?: string }).$case ?? 'this message'} is not a request`,
        );
    }
  }

  #requireView(): CollectorView {
    if (this.#view === undefined) {
      throw ipcErrors.error('ERR_IPC_UNSUPPORTED', 'this IPC server runs without a collector to report on');
    }
    return this.#view;
  }

  /**
   * The capabilities of the running sources (their SourceCaps, as DaemonEye's CollectionCapabilities).
   * A client that asks for domains none of them covers gets `negotiationSuccess = false` and a message
   * naming what is missing.
   */
  getCapabilities(request?: CapabilityRequest): CapabilityResponse {
    const caps = this.#view?.capabilities() ?? 0;
    const wire = capabilitiesToWire(caps);
    const missing = (request?.requestedDomains ?? []).filter((d) => !wire.supportedDomains.includes(d));
    return {
      negotiationSuccess: missing.length === 0,
      capabilities: wire,
      errorMessage:
        missing.length === 0
          ? undefined
          : `no running source collects the requested domain(s) ${missing.join(', ')} (MonitoringDomain values)`,
      serverVersion: IPC_SERVER_VERSION,
    };
  }

  subscribe(
    _conn: Connection,
    requestId: number,
    req: SubscribeRequest,
  ): { sub: Subscription; response: EnvelopeBody } {
    const topics = req.topics.map((t) => compileTopicPattern(t));
    const predicate = compileFilters(filterFromWire(req.filter), correlationFromWire(req.correlation));
    const ring = this.ring;
    const next = Math.max(this.#view?.stats().sequence.next ?? 0, (ring.newestSeq ?? 0) + 1);
    const runStart = ring.firstSeq ?? next;
    const oldest = ring.oldestSeq;
    const after = req.resumeAfterSeq;
    let start = ring.head;
    let missed = 0;
    let earlierRunGap = false;
    if (after !== undefined) {
      start = ring.positionAfter(after);
      if (after + 1 < runStart || after >= next) {
        earlierRunGap = true;
        missed = oldest === undefined ? 0 : oldest - runStart;
        if (after >= next) start = ring.head;
      } else if (oldest !== undefined && after + 1 < oldest) {
        missed = oldest - after - 1;
      }
    }
    const sub = new Subscription({
      requestId,
      predicate,
      topics,
      queueCapacity: this.#subscriberQueue,
      slowConsumer: this.#o.slowConsumer ?? 'drop-oldest',
      start,
    });
    let replayed = 0;
    for (let p = start; p < ring.head; p++) {
      const e = ring.at(p);
      if (e !== undefined && sub.matches(e)) replayed++;
    }
    return {
      sub,
      response: {
        $case: 'subscribeResponse',
        value: {
          runId: this.#runId || (this.#view?.stats().sequence.runId ?? ''),
          oldestHeldSeq: oldest,
          nextSeq: next,
          replayed,
          missed,
          earlierRunGap,
          queueCapacity: this.#subscriberQueue,
        },
      },
    };
  }

  /** As a sink: holds the batch in the replay ring and streams it to the matching subscribers. */
  async write(batch: EventBatch): Promise<void> {
    if (this.#closed) return;
    const records = batch.records;
    if (records.runId !== this.#runId) {
      this.#runId = records.runId;
      this.#header = undefined;
    }
    this.#latest.ingest(batch);
    const held: RingEntry[] = [];
    for (let i = 0; i < batch.length; i++) {
      const event = batch[i];
      if (event === undefined) continue;
      const entry: RingEntry = {
        seq: records.seq(i),
        event,
        source: records.source(i),
        acceptedAt: records.acceptedAt(i),
        cause: records.cause(i),
        depth: records.depth(i),
        bytes: undefined,
        batch: held,
      };
      held.push(entry);
      this.ring.push(entry);
    }
    this.#received += batch.length;
    for (const c of this.#connections) {
      if (c.subscriptions.size === 0) continue;
      if (c.enforce()) c.scheduleFlush();
    }
  }

  #ipcCounters(): CounterSet {
    const s = this.stats();
    const counters: { [key: string]: number } = {};
    for (const [k, v] of Object.entries(s)) if (typeof v === 'number') counters[k] = v;
    const errors: { [key: string]: number } = { ...s.errors };
    return { name: 'ipc', counters, dropped: { slow_consumer: s.streamDropped }, lost: errors };
  }

  /** The server's counters. */
  stats(): IpcServerStats {
    let subscriptions = 0;
    let streamDropped = 0;
    for (const c of this.#connections) {
      subscriptions += c.subscriptions.size;
      for (const s of c.subscriptions.values()) streamDropped += s.dropped;
    }
    return {
      listening: this.#listening,
      socketPath: this.#socketPath ?? '',
      connectionsOpen: this.#connections.size + this.#bare.size,
      connectionsAccepted: this.#accepted,
      subscriptions,
      requests: this.#requests,
      eventsReceived: this.#received,
      eventsSent: this.#sent,
      dropNotices: this.#dropNotices,
      streamDropped,
      replayHeld: this.ring.held,
      replayEvicted: this.ring.evicted,
      errors: { ...this.#errors },
    };
  }

  /** Healthy while listening; Unhealthy when the listener is not up. */
  health(): HealthReport | undefined {
    if (!this.#listening && !this.#closed) return { status: 'unhealthy', reason: 'the IPC socket is not listening' };
    return undefined;
  }

  /**
   * Graceful shutdown: stops accepting, sends what each subscriber has pending and a ShutdownNotice
   * with the last sequence number, ends every connection (destroying those still open after
   * `shutdownGraceMs`), and removes the socket files. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const servers = this.#servers;
    this.#servers = [];
    const closing = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    const lastSeq = this.ring.newestSeq ?? 0;
    const sockets: Socket[] = [];
    for (const c of this.#connections) {
      c.flush();
      c.sendEnvelope(0, { $case: 'shutdownNotice', value: { reason: 'the collector is shutting down', lastSeq } });
      sockets.push(c.socket);
      c.close();
    }
    for (const c of this.#bare) {
      sockets.push(c.socket);
      c.close();
    }
    const grace = this.#o.shutdownGraceMs ?? 2000;
    const timer = setTimeout(() => {
      for (const s of sockets) s.destroy();
    }, grace);
    await Promise.all(closing);
    clearTimeout(timer);
    for (const path of [this.#socketPath, this.#o.daemoneyeSocketPath]) {
      if (path === undefined || path === '' || isPipePath(path) || !this.#listening) continue;
      try {
        unlinkSync(path);
      } catch {
        // Already gone (server.close removes a Unix socket on some platforms).
      }
    }
    this.#listening = false;
    this.#log.info({ sent: this.#sent, connections: this.#accepted }, 'IPC server closed');
  }
}
