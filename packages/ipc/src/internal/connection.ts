/**
 * One client connection on the server: frames in, requests dispatched with a per-request timeout,
 * responses and subscription streams out. Malformed input (a bad checksum, an oversize or empty
 * length, a frame that stops half-way, bytes that do not decode, a message the server does not know)
 * gets a typed ErrorFrame, is counted by the host, and closes this connection only. Streams are read
 * from the replay ring while the socket accepts writes; while it does not, the subscription's bounded
 * lag applies its slow-consumer policy. The listener, the ring and the answers belong to the host.
 */
import type { Socket } from 'node:net';
import { CollectorError, describeError, isCollectorError } from '@daemoneye/core';
import { DetectionResult, DetectionTask, Envelope, type EnvelopeBody, type SubscribeRequest } from '@daemoneye/proto';
import { ipcErrors } from '../errors.ts';
import { encodeFrame, FrameDecoder } from '../framing.ts';
import type { ReplayRing } from './replay-ring.ts';
import type { Subscription } from './subscription.ts';
import { encodeBatchFrame, encodeEnvelopeFrame } from './wire.ts';

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly maxFrameBytes: number;
  readonly requestTimeoutMs: number;
  readonly maxBatchEvents: number;
  readonly ring: ReplayRing;
  /** Encoded EventBatch fields other than records. */
  batchHeader(): Uint8Array;
  /** Answers a request (not a subscription). */
  answer(body: EnvelopeBody, signal: AbortSignal): Promise<EnvelopeBody>;
  /** Opens a subscription; returns its response body (or throws a typed error). */
  subscribe(conn: Connection, requestId: number, req: SubscribeRequest): { sub: Subscription; response: EnvelopeBody };
  /** Counts a malformed input or a failure by its code. */
  count(what: string): void;
  /** Counts events sent and drop notices. */
  countStream(events: number, dropNotices: number): void;
  closed(conn: Connection): void;
}

const REQUEST_CASES = new Set([
  'capabilityRequest',
  'detectionTask',
  'healthRequest',
  'statsRequest',
  'subscribeRequest',
  'unsubscribeRequest',
]);

/** Code of an error, for an ErrorFrame. */
function codeOf(e: unknown): string {
  return isCollectorError(e) ? e.code : 'ERR_IPC_REMOTE';
}

/** The message of an error without its code (the frame carries the code apart). */
function messageOf(e: unknown): string {
  return isCollectorError(e) ? e.message : describeError(e);
}

export class Connection {
  readonly socket: Socket;
  readonly peer: { readonly pid: number; readonly uid: number } | undefined;
  readonly subscriptions = new Map<number, Subscription>();
  readonly #host: ConnectionHost;
  readonly #decoder: FrameDecoder;
  readonly #abort = new AbortController();
  #partialTimer: ReturnType<typeof setTimeout> | undefined;
  #blocked = false;
  #closing = false;
  #flushQueued = false;

  constructor(socket: Socket, host: ConnectionHost, peer: { pid: number; uid: number } | undefined) {
    this.socket = socket;
    this.peer = peer;
    this.#host = host;
    this.#decoder = new FrameDecoder(host.maxFrameBytes);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.#onEnd());
    socket.on('drain', () => {
      this.#blocked = false;
      this.flush();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#closing = true;
      this.#abort.abort();
      clearTimeout(this.#partialTimer);
      host.closed(this);
    });
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** Sends a frame; false when the socket's buffer is full (the stream waits for 'drain'). */
  send(frame: Buffer): boolean {
    if (this.#closing) return false;
    const ok = this.socket.write(frame);
    if (!ok) this.#blocked = true;
    return ok;
  }

  /** Sends an envelope, or a fatal error frame when the envelope is too large for a frame. */
  sendEnvelope(requestId: number, body: EnvelopeBody): boolean {
    try {
      return this.send(encodeEnvelopeFrame(requestId, body, this.#host.maxFrameBytes));
    } catch (e) {
      this.#host.count('ERR_IPC_FRAME_TOO_LARGE');
      this.sendEnvelope(requestId, {
        $case: 'error',
        value: { code: codeOf(e), message: `response not sent: ${messageOf(e)}`, fatal: false },
      });
      return false;
    }
  }

  /** Sends an error frame and closes the connection. */
  fail(code: string, message: string): void {
    if (this.#closing) return;
    this.#host.count(code);
    this.sendEnvelope(0, { $case: 'error', value: { code, message, fatal: true } });
    this.close();
  }

  /** Ends the connection after what was written (destroyed if the peer does not finish in 2 s). */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#abort.abort();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  /** Schedules a flush of the subscriptions (coalesced). */
  scheduleFlush(): void {
    if (this.#flushQueued || this.#blocked || this.#closing || this.subscriptions.size === 0) return;
    this.#flushQueued = true;
    setImmediate(() => {
      this.#flushQueued = false;
      this.flush();
    });
  }

  /** Applies every subscription's slow-consumer policy; false when the connection was closed for it. */
  enforce(): boolean {
    for (const sub of this.subscriptions.values()) {
      if (!sub.enforce(this.#host.ring)) {
        this.fail(
          'ERR_IPC_SLOW_CONSUMER',
          `subscription ${sub.requestId} fell more than ${sub.queueCapacity} events behind; disconnected (slow_consumer = disconnect)`,
        );
        return false;
      }
    }
    return true;
  }

  /** Writes pending stream messages while the socket accepts them. */
  flush(): void {
    const ring = this.#host.ring;
    const budget = this.#host.maxFrameBytes - 256;
    let progress = true;
    while (progress && !this.#blocked && !this.#closing) {
      progress = false;
      for (const sub of this.subscriptions.values()) {
        if (this.#blocked || this.#closing) break;
        const drop = sub.takeDrop();
        if (drop !== undefined) {
          this.#host.countStream(0, 1);
          this.sendEnvelope(sub.requestId, {
            $case: 'dropNotice',
            value: {
              dropped: drop.count,
              firstSeq: drop.firstSeq,
              lastSeq: drop.lastSeq,
              reason: 'slow_consumer',
              totalDropped: sub.dropped,
            },
          });
          progress = true;
        }
        if (!sub.pending(ring)) continue;
        const taken = sub.take(ring, this.#host.maxBatchEvents, budget - this.#host.batchHeader().length);
        if (taken.entries.length > 0) {
          this.#host.countStream(taken.entries.length, 0);
          this.send(encodeBatchFrame(this.#host.batchHeader(), taken.bytes, sub.requestId));
        }
        progress = true;
      }
    }
  }

  #onData(chunk: Buffer): void {
    if (this.#closing) return;
    let payloads: Buffer[];
    try {
      payloads = this.#decoder.push(chunk);
    } catch (e) {
      this.fail(codeOf(e), messageOf(e));
      return;
    }
    for (const p of payloads) {
      if (this.#closing) return;
      this.#onPayload(p);
    }
    this.#watchPartial();
  }

  /** A frame that starts but does not finish within the request timeout closes the connection. */
  #watchPartial(): void {
    if (this.#decoder.buffered === 0) {
      clearTimeout(this.#partialTimer);
      this.#partialTimer = undefined;
      return;
    }
    if (this.#partialTimer !== undefined) return;
    this.#partialTimer = setTimeout(() => {
      this.fail(
        'ERR_IPC_TRUNCATED',
        `a frame started but did not finish within ${this.#host.requestTimeoutMs} ms (${this.#decoder.buffered} bytes of it arrived)`,
      );
    }, this.#host.requestTimeoutMs);
    this.#partialTimer.unref();
  }

  #onEnd(): void {
    try {
      this.#decoder.end();
    } catch (e) {
      this.fail(codeOf(e), messageOf(e));
      return;
    }
    this.close();
  }

  #onPayload(payload: Buffer): void {
    let envelope: Envelope;
    try {
      envelope = Envelope.decode(payload);
    } catch (e) {
      this.fail('ERR_IPC_DECODE', `the frame does not hold an Envelope: ${describeError(e)}`);
      return;
    }
    const body = envelope.body;
    if (body === undefined || !REQUEST_CASES.has(body.$case)) {
      this.fail(
        'ERR_IPC_UNKNOWN_MESSAGE',
        body === undefined
          ? 'the envelope carries no message this server knows'
          : `a client may not send ${body.$case}`,
      );
      return;
    }
    const id = envelope.requestId;
    if (body.$case === 'subscribeRequest') {
      this.#subscribe(id, body.value);
      return;
    }
    if (body.$case === 'unsubscribeRequest') {
      const sub = body.value.subscription;
      this.subscriptions.delete(sub);
      this.sendEnvelope(id, { $case: 'unsubscribeResponse', value: { subscription: sub } });
      return;
    }
    void this.#request(id, body);
  }

  #subscribe(id: number, req: SubscribeRequest): void {
    if (this.subscriptions.has(id)) {
      this.#requestError(
        id,
        ipcErrors.error('ERR_IPC_SUBSCRIPTION_INVALID', `request id ${id} already has a subscription`),
      );
      return;
    }
    try {
      const { sub, response } = this.#host.subscribe(this, id, req);
      this.sendEnvelope(id, response);
      this.subscriptions.set(id, sub);
      this.flush();
    } catch (e) {
      this.#requestError(id, e);
    }
  }

  #requestError(id: number, e: unknown): void {
    this.#host.count(codeOf(e));
    this.sendEnvelope(id, { $case: 'error', value: { code: codeOf(e), message: messageOf(e), fatal: false } });
  }

  async #request(id: number, body: EnvelopeBody): Promise<void> {
    const timeout = AbortSignal.timeout(this.#host.requestTimeoutMs);
    const signal = AbortSignal.any([timeout, this.#abort.signal]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            ipcErrors.error('ERR_IPC_TIMEOUT', `request ${id} took longer than ${this.#host.requestTimeoutMs} ms`),
          ),
        this.#host.requestTimeoutMs,
      );
    });
    try {
      const response = await Promise.race([this.#host.answer(body, signal), timedOut]);
      this.sendEnvelope(id, response);
    } catch (e) {
      if (!this.#closing) this.#requestError(id, e);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * A connection on a listener in DaemonEye mode: bare DetectionTask frames in, bare DetectionResult
 * frames out, as DaemonEye's agent speaks. A malformed frame gets a DetectionResult with
 * `success = false` and the error's code in `error_message`, then the connection closes.
 */
export class DaemonEyeConnection {
  readonly socket: Socket;
  readonly #decoder: FrameDecoder;
  readonly #run: (task: DetectionTask, signal: AbortSignal) => Promise<DetectionResult>;
  readonly #host: Pick<ConnectionHost, 'maxFrameBytes' | 'requestTimeoutMs' | 'count' | 'closed'>;
  #closing = false;
  #queue: Promise<void> = Promise.resolve();

  constructor(
    socket: Socket,
    host: Pick<ConnectionHost, 'maxFrameBytes' | 'requestTimeoutMs' | 'count'> & {
      closed(c: DaemonEyeConnection): void;
    },
    run: (task: DetectionTask, signal: AbortSignal) => Promise<DetectionResult>,
  ) {
    this.socket = socket;
    this.#host = host as never;
    this.#run = run;
    this.#decoder = new FrameDecoder(host.maxFrameBytes);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => {
      try {
        this.#decoder.end();
      } catch (e) {
        this.#fail('', e);
        return;
      }
      void this.#queue.then(() => this.close());
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#closing = true;
      host.closed(this);
    });
  }

  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  #write(result: DetectionResult): void {
    if (this.#closing) return;
    try {
      this.socket.write(encodeFrame(DetectionResult.encode(result).finish(), this.#host.maxFrameBytes));
    } catch (e) {
      this.#host.count(codeOf(e));
      this.socket.write(
        encodeFrame(DetectionResult.encode(failure(result.taskId, e)).finish(), this.#host.maxFrameBytes),
      );
    }
  }

  #fail(taskId: string, e: unknown): void {
    this.#host.count(codeOf(e));
    this.#write(failure(taskId, e));
    this.close();
  }

  #onData(chunk: Buffer): void {
    if (this.#closing) return;
    let payloads: Buffer[];
    try {
      payloads = this.#decoder.push(chunk);
    } catch (e) {
      this.#fail('', e);
      return;
    }
    for (const p of payloads) {
      let task: DetectionTask;
      try {
        task = DetectionTask.decode(p);
      } catch (e) {
        this.#fail(
          '',
          new CollectorError('ERR_IPC_DECODE', `the frame does not hold a DetectionTask: ${describeError(e)}`),
        );
        return;
      }
      // DaemonEye answers request after request, in order.
      this.#queue = this.#queue.then(async () => {
        const ms = this.#host.requestTimeoutMs;
        const signal = AbortSignal.timeout(ms);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timedOut = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(ipcErrors.error('ERR_IPC_TIMEOUT', `task ${task.taskId} took longer than ${ms} ms`)),
            ms,
          );
        });
        try {
          this.#write(await Promise.race([this.#run(task, signal), timedOut]));
        } catch (e) {
          this.#host.count(codeOf(e));
          this.#write(failure(task.taskId, e));
        } finally {
          clearTimeout(timer);
        }
      });
    }
  }
}

function failure(taskId: string, e: unknown): DetectionResult {
  return DetectionResult.fromPartial({ taskId, success: false, errorMessage: `${codeOf(e)}: ${messageOf(e)}` });
}
