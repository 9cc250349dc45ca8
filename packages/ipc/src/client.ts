/**
 * IpcClient: a client of the collector's IPC listener that keeps working across collector restarts.
 * Requests (capabilities, detection tasks, health, statistics) have timeouts and fail fast while the
 * circuit breaker is open; subscriptions reconnect with exponential backoff and jitter and resume
 * after the last sequence number they delivered, so a restart inside the server's replay ring loses
 * nothing — and what it could not replay is reported, not hidden. Every failure is a typed
 * `CollectorError` (`ERR_IPC_*`, or the server's code from an ErrorFrame).
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CollectionEvent, CollectorError, type HostIdentity, type Logger, silentLogger } from '@daemoneye/core';
import type { CorrelationFilter, EventFilter } from '@daemoneye/event-bus';
import {
  type CapabilityResponse,
  type DetectionResult,
  type DetectionTask,
  type DropNotice,
  Envelope,
  type EnvelopeBody,
  type HealthResponse,
  type StatsResponse,
  type SubscribeResponse,
} from '@daemoneye/proto';
import { ipcErrors } from './errors.ts';
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, FrameDecoder } from './framing.ts';
import { correlationToWire, filterToWire, wireToEvent } from './mapping.ts';
import { type BackoffOptions, CircuitBreaker, type CircuitBreakerOptions, reconnectDelay } from './resilience.ts';
import type { IpcRequest, IpcResponse } from './server.ts';

/** Options of {@link IpcClient}. Durations are milliseconds. */
export interface IpcClientOptions {
  readonly socketPath: string;
  readonly clientId?: string;
  readonly maxFrameBytes?: number;
  /** Longest a connection attempt may take (default 5 s). */
  readonly connectTimeoutMs?: number;
  /** Longest a request may take (default 30 s). */
  readonly requestTimeoutMs?: number;
  /** Reconnect delays of subscriptions, and how many attempts in a row before giving up (default: no limit). */
  readonly reconnect?: BackoffOptions & { readonly maxAttempts?: number };
  readonly circuitBreaker?: CircuitBreakerOptions;
  readonly logger?: Logger;
}

/** One event as a subscription delivers it, with its record. */
export interface ReceivedEvent {
  readonly seq: number;
  readonly source: string;
  readonly acceptedAt: number;
  readonly cause?: number;
  readonly depth: number;
  readonly event: CollectionEvent;
}

/** What a subscription yields. */
export type StreamItem =
  | { readonly type: 'subscribed'; readonly info: SubscribeResponse; readonly resumed: boolean }
  | {
      readonly type: 'events';
      readonly events: readonly ReceivedEvent[];
      readonly runId: string;
      readonly host: HostIdentity;
    }
  | { readonly type: 'dropped'; readonly notice: DropNotice }
  | { readonly type: 'disconnected'; readonly reason: string; readonly attempt: number; readonly retryInMs: number }
  | { readonly type: 'server-shutdown'; readonly lastSeq: number };

/** What to subscribe to. */
export interface SubscribeOptions {
  /** Event-bus topic patterns (none: every topic). */
  readonly topics?: readonly string[];
  readonly filter?: EventFilter;
  readonly correlation?: CorrelationFilter;
  /** Start with the held events numbered after this one. */
  readonly resumeAfterSeq?: number;
  /** Ends the subscription. */
  readonly signal?: AbortSignal;
}

interface Pending {
  readonly resolve: (body: EnvelopeBody) => void;
  readonly reject: (e: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** The message of each kind of response. */
type ResponseValues = { [R in IpcResponse as R['$case']]: R['value'] };

/** Batches a subscription holds for its reader before the client stops reading the socket. */
const HIGH_WATER = 64;

class ClientSubscription {
  readonly options: SubscribeOptions;
  requestId = 0;
  lastSeq: number | undefined;
  items: StreamItem[] = [];
  waiter: (() => void) | undefined;
  error: Error | undefined;
  done = false;
  subscribedOnce = false;

  constructor(options: SubscribeOptions) {
    this.options = options;
    this.lastSeq = options.resumeAfterSeq;
  }

  push(item: StreamItem): void {
    this.items.push(item);
    this.wake();
  }

  end(error?: Error): void {
    if (this.done) return;
    this.done = true;
    this.error = error;
    this.wake();
  }

  wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}

export class IpcClient {
  readonly socketPath: string;
  readonly breaker: CircuitBreaker;
  readonly #o: IpcClientOptions;
  readonly #maxFrame: number;
  readonly #log: Logger;
  readonly #pending = new Map<number, Pending>();
  readonly #subs = new Set<ClientSubscription>();
  #socket: Socket | undefined;
  #connecting: Promise<Socket> | undefined;
  #reconnecting: Promise<void> | undefined;
  #nextId = 1;
  #closed = false;
  #paused = false;

  constructor(options: IpcClientOptions) {
    this.#o = options;
    this.socketPath = options.socketPath;
    this.#maxFrame = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.breaker = new CircuitBreaker(options.circuitBreaker);
    this.#log = options.logger ?? silentLogger;
  }

  /** True while a connection is open. */
  get connected(): boolean {
    return this.#socket !== undefined;
  }

  /**
   * Connects (once; requests and subscriptions connect by themselves). Rejects with
   * `ERR_IPC_CIRCUIT_OPEN` while the breaker is open and `ERR_IPC_CONNECTION` when no collector
   * answers within the connect timeout.
   */
  async connect(): Promise<void> {
    await this.#ensure();
  }

  #ensure(): Promise<Socket> {
    if (this.#closed) return Promise.reject(ipcErrors.error('ERR_IPC_CONNECTION', 'the client was closed'));
    if (this.#socket !== undefined) return Promise.resolve(this.#socket);
    if (this.#connecting !== undefined) return this.#connecting;
    if (!this.breaker.allows()) {
      return Promise.reject(
        ipcErrors.error(
          'ERR_IPC_CIRCUIT_OPEN',
          `the circuit to ${this.socketPath} is open after repeated failures; next try in ${Math.ceil(this.breaker.retryInMs)} ms`,
        ),
      );
    }
    this.#connecting = this.#open().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  #open(): Promise<Socket> {
    return new Promise<Socket>((resolve, reject) => {
      const socket = connect(this.socketPath);
      const timeoutMs = this.#o.connectTimeoutMs ?? 5000;
      const timer = setTimeout(() => {
        socket.destroy();
        this.breaker.failure();
        reject(ipcErrors.error('ERR_IPC_CONNECTION', `no answer from ${this.socketPath} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (e) => {
        clearTimeout(timer);
        this.breaker.failure();
        reject(
          ipcErrors.error('ERR_IPC_CONNECTION', `cannot connect to ${this.socketPath}: ${(e as Error).message}`, {
            cause: e,
          }),
        );
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        this.#attach(socket);
        resolve(socket);
      });
    });
  }

  #attach(socket: Socket): void {
    this.#socket = socket;
    this.#paused = false;
    const decoder = new FrameDecoder(this.#maxFrame);
    socket.on('data', (chunk: Buffer) => {
      let payloads: Buffer[];
      try {
        payloads = decoder.push(chunk);
      } catch (e) {
        this.#log.warn({ err: e }, 'IPC stream from the collector is corrupt; reconnecting');
        socket.destroy();
        return;
      }
      for (const p of payloads) this.#onPayload(p);
    });
    socket.on('error', () => {});
    socket.on('close', () => this.#onClose(socket));
  }

  #onClose(socket: Socket): void {
    if (this.#socket !== socket) return;
    this.#socket = undefined;
    const err = ipcErrors.error('ERR_IPC_CONNECTION', `the connection to ${this.socketPath} closed`);
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      this.#pending.delete(id);
      p.reject(err);
    }
    if (!this.#closed && [...this.#subs].some((s) => !s.done)) void this.#reconnectLoop('the connection closed');
  }

  #onPayload(payload: Buffer): void {
    let env: Envelope;
    try {
      env = Envelope.decode(payload);
    } catch (e) {
      this.#log.warn({ err: e }, 'undecodable IPC frame from the collector; reconnecting');
      this.#socket?.destroy();
      return;
    }
    const body = env.body;
    if (body === undefined) return;
    const id = env.requestId;
    const pending = this.#pending.get(id);
    if (pending !== undefined) {
      this.#pending.delete(id);
      clearTimeout(pending.timer);
      if (body.$case === 'error') pending.reject(new CollectorError(body.value.code, body.value.message));
      else pending.resolve(body);
      return;
    }
    if (id === 0) {
      if (body.$case === 'shutdownNotice') {
        for (const s of this.#subs) s.push({ type: 'server-shutdown', lastSeq: body.value.lastSeq });
      } else if (body.$case === 'error') {
        this.#log.warn({ code: body.value.code }, body.value.message);
        if (body.value.fatal) {
          // Refusals (a uid not allowed, too many connections) are final for requests waiting now.
          const e = new CollectorError(body.value.code, body.value.message);
          for (const [pid, p] of this.#pending) {
            clearTimeout(p.timer);
            this.#pending.delete(pid);
            p.reject(e);
          }
          if (body.value.code === 'ERR_IPC_PEER_REFUSED') for (const s of this.#subs) s.end(e);
        }
      }
      return;
    }
    const sub = [...this.#subs].find((s) => s.requestId === id);
    if (sub === undefined) return;
    this.#onStream(sub, body);
  }

  #onStream(sub: ClientSubscription, body: EnvelopeBody): void {
    switch (body.$case) {
      case 'subscribeResponse':
        sub.push({ type: 'subscribed', info: body.value, resumed: sub.subscribedOnce });
        sub.subscribedOnce = true;
        break;
      case 'eventBatch': {
        const b = body.value;
        const records = b.records;
        const events = new Array<ReceivedEvent>(records.length);
        for (let i = 0; i < records.length; i++) {
          const r = records[i] as (typeof records)[number];
          const event = wireToEvent(r);
          events[i] =
            r.cause !== undefined
              ? { seq: r.seq, source: r.source, acceptedAt: r.acceptedAt, cause: r.cause, depth: r.depth, event }
              : { seq: r.seq, source: r.source, acceptedAt: r.acceptedAt, depth: r.depth, event };
        }
        const host: HostIdentity =
          b.host?.machineId !== undefined
            ? { hostname: b.host.hostname, machineId: b.host.machineId }
            : { hostname: b.host?.hostname ?? '' };
        const last = events[events.length - 1];
        if (last !== undefined) sub.lastSeq = last.seq;
        sub.push({ type: 'events', events, runId: b.runId, host });
        if (sub.items.length > HIGH_WATER && !this.#paused) {
          this.#paused = true;
          this.#socket?.pause();
        }
        break;
      }
      case 'dropNotice':
        if (body.value.lastSeq > (sub.lastSeq ?? 0)) sub.lastSeq = body.value.lastSeq;
        sub.push({ type: 'dropped', notice: body.value });
        break;
      case 'error':
        sub.end(new CollectorError(body.value.code, body.value.message));
        this.#subs.delete(sub);
        break;
      default:
        break;
    }
  }

  #maybeResume(): void {
    if (!this.#paused) return;
    for (const s of this.#subs) if (s.items.length > HIGH_WATER / 4) return;
    this.#paused = false;
    this.#socket?.resume();
  }

  /**
   * Sends a request and resolves with the answer. Rejects with the server's code from an ErrorFrame
   * (`ERR_IPC_UNSUPPORTED`, `ERR_IPC_TIMEOUT`, ...), `ERR_IPC_TIMEOUT` when no answer came in time,
   * `ERR_IPC_CONNECTION` when the connection failed, `ERR_IPC_CIRCUIT_OPEN` while the breaker is open.
   */
  async request(body: IpcRequest, options: { timeoutMs?: number } = {}): Promise<IpcResponse> {
    const socket = await this.#ensure();
    const id = this.#nextId++;
    const timeoutMs = options.timeoutMs ?? this.#o.requestTimeoutMs ?? 30_000;
    try {
      const answer = await new Promise<EnvelopeBody>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.#pending.delete(id);
          reject(ipcErrors.error('ERR_IPC_TIMEOUT', `no answer to ${body.$case} within ${timeoutMs} ms`));
        }, timeoutMs);
        this.#pending.set(id, { resolve, reject, timer });
        socket.write(encodeFrame(Envelope.encode({ requestId: id, body }).finish(), this.#maxFrame));
      });
      this.breaker.success();
      return answer as IpcResponse;
    } catch (e) {
      // A typed answer from the server is not a failure of the connection.
      if (!(e instanceof CollectorError) || ['ERR_IPC_TIMEOUT', 'ERR_IPC_CONNECTION'].includes(e.code)) {
        this.breaker.failure();
      } else this.breaker.success();
      throw e;
    }
  }

  async #expect<C extends IpcResponse['$case']>(
    body: IpcRequest,
    want: C,
    timeoutMs?: number,
  ): Promise<ResponseValues[C]> {
    const r: { $case: string; value: unknown } = await this.request(body, timeoutMs === undefined ? {} : { timeoutMs });
    if (r.$case !== want) throw ipcErrors.error('ERR_IPC_UNKNOWN_MESSAGE', `expected ${want}, got ${r.$case}`);
    return r.value as ResponseValues[C];
  }

  /** Capability negotiation: the running sources' capabilities and the server's version. */
  capabilities(requestedDomains: number[] = []): Promise<CapabilityResponse> {
    return this.#expect(
      {
        $case: 'capabilityRequest',
        value: {
          clientId: this.#o.clientId ?? `ipc-client-${process.pid}`,
          requestedDomains: requestedDomains as never,
          clientVersion: '0.1.0',
        },
      },
      'capabilityResponse',
    );
  }

  /** Runs a detection task on the collector. */
  detect(task: DetectionTask, timeoutMs?: number): Promise<DetectionResult> {
    return this.#expect({ $case: 'detectionTask', value: task }, 'detectionResult', timeoutMs);
  }

  health(): Promise<HealthResponse> {
    return this.#expect({ $case: 'healthRequest', value: {} }, 'healthResponse');
  }

  stats(): Promise<StatsResponse> {
    return this.#expect({ $case: 'statsRequest', value: {} }, 'statsResponse');
  }

  /**
   * Subscribes to events. The iterator yields `subscribed` (again after each reconnect, with
   * `resumed`), `events`, `dropped` (the server dropped events for this client, or could not replay
   * them), `disconnected` (with the next retry) and `server-shutdown`. It ends when the signal
   * aborts or the client closes; it throws the server's typed error for a refused subscription (a bad
   * topic pattern, a uid not allowed) or `ERR_IPC_CONNECTION` after `reconnect.maxAttempts` failures.
   */
  subscribe(options: SubscribeOptions = {}): AsyncIterableIterator<StreamItem> {
    const sub = new ClientSubscription(options);
    this.#subs.add(sub);
    const onAbort = (): void => {
      sub.end();
      this.#unsubscribe(sub);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    void this.#start(sub);
    const next = async (): Promise<IteratorResult<StreamItem>> => {
      for (;;) {
        const item = sub.items.shift();
        if (item !== undefined) {
          this.#maybeResume();
          return { value: item, done: false };
        }
        if (sub.done) {
          this.#subs.delete(sub);
          options.signal?.removeEventListener('abort', onAbort);
          if (sub.error !== undefined) throw sub.error;
          return { value: undefined, done: true };
        }
        await new Promise<void>((resolve) => {
          sub.waiter = resolve;
        });
      }
    };
    const iterator: AsyncIterableIterator<StreamItem> = {
      next,
      return: async () => {
        onAbort();
        this.#subs.delete(sub);
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  #unsubscribe(sub: ClientSubscription): void {
    const socket = this.#socket;
    if (socket === undefined || sub.requestId === 0) return;
    const id = this.#nextId++;
    socket.write(
      encodeFrame(
        Envelope.encode({
          requestId: id,
          body: { $case: 'unsubscribeRequest', value: { subscription: sub.requestId } },
        }).finish(),
        this.#maxFrame,
      ),
    );
  }

  async #start(sub: ClientSubscription): Promise<void> {
    try {
      this.#send(await this.#ensure(), sub);
    } catch {
      void this.#reconnectLoop('no collector answered');
    }
  }

  #send(socket: Socket, sub: ClientSubscription): void {
    if (sub.done) return;
    sub.requestId = this.#nextId++;
    const o = sub.options;
    socket.write(
      encodeFrame(
        Envelope.encode({
          requestId: sub.requestId,
          body: {
            $case: 'subscribeRequest',
            value: {
              topics: [...(o.topics ?? [])],
              filter: filterToWire(o.filter),
              correlation: correlationToWire(o.correlation),
              resumeAfterSeq: sub.lastSeq,
            },
          },
        }).finish(),
        this.#maxFrame,
      ),
    );
  }

  /** Reconnects with backoff until connected, then resubscribes every live subscription. */
  #reconnectLoop(reason: string): Promise<void> {
    this.#reconnecting ??= (async () => {
      const max = this.#o.reconnect?.maxAttempts ?? Number.POSITIVE_INFINITY;
      for (let attempt = 0; !this.#closed; attempt++) {
        const live = [...this.#subs].filter((s) => !s.done);
        if (live.length === 0) return;
        if (attempt >= max) {
          const e = ipcErrors.error(
            'ERR_IPC_CONNECTION',
            `gave up on ${this.socketPath} after ${attempt} attempts: ${reason}`,
          );
          for (const s of live) s.end(e);
          return;
        }
        const delay = Math.max(reconnectDelay(attempt, this.#o.reconnect), this.breaker.retryInMs);
        for (const s of live)
          s.push({ type: 'disconnected', reason, attempt: attempt + 1, retryInMs: Math.round(delay) });
        await sleep(delay);
        if (this.#closed) return;
        try {
          const socket = await this.#ensure();
          this.breaker.success();
          for (const s of this.#subs) this.#send(socket, s);
          return;
        } catch (e) {
          reason = (e as Error).message;
        }
      }
    })().finally(() => {
      this.#reconnecting = undefined;
    });
    return this.#reconnecting;
  }

  /** Ends every subscription and the connection. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const s of this.#subs) s.end();
    const socket = this.#socket;
    this.#socket = undefined;
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      this.#pending.delete(id);
      p.reject(ipcErrors.error('ERR_IPC_CONNECTION', 'the client was closed'));
    }
    if (socket !== undefined) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.end();
        setTimeout(() => socket.destroy(), 500).unref();
      });
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
