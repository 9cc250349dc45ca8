/**
 * The messages exchanged between a reader worker thread and the thread that started it. Plain
 * structured-clone data only (BigInt is allowed). This module defines shapes, not behaviour.
 */
import type { NativeErrorCode } from '../native-error.ts';

/** Sent once by the worker after it set up its fd. */
export interface ReadyMessage {
  readonly type: 'ready';
  readonly fd: number;
  readonly receiveBufferBytes: number;
  /** What else the worker wants the host to know about its setup (the eBPF loader: programs, timings). */
  readonly detail?: Readonly<Record<string, unknown>>;
}

/**
 * A batch of decoded items. The host acknowledges each (flow control) by adding one to the shared
 * counter of {@link ackCounter} when the worker was given one (no message, so no cross-thread wake-up
 * per batch), else with an `ack` message.
 */
export interface BatchMessage<T> {
  readonly type: 'batch';
  readonly items: T[];
}

/** Events were lost in the kernel (ENOBUFS) or a queue overflowed. */
export interface LossMessage {
  readonly type: 'loss';
  readonly reason: 'enobufs' | 'overflow' | 'ring_full' | 'argv_truncated' | 'filename_truncated' | 'malformed';
  readonly count: number;
  readonly at: number;
}

/** A failure in the worker; `fatal` ones end it (before `ready`, they reject the open call). */
export interface ErrorMessage {
  readonly type: 'error';
  readonly code: NativeErrorCode;
  readonly message: string;
  readonly errno?: number;
  readonly fatal: boolean;
}

/** A one-shot job a request worker runs for the host (see `request-worker.ts`). */
export type WorkerRequest =
  | {
      /** One netlink request on a fresh socket; the reply is the messages (payloads as bytes). */
      readonly kind: 'netlink';
      readonly protocol: number;
      readonly type: number;
      readonly payload: Uint8Array;
      readonly until: 'ack' | 'done' | 'reply';
      readonly flags?: number;
    }
  | {
      /**
       * Inet sock_diag dumps on the worker's socket, one per query, decoded into one set of columns;
       * the reply is an InetDiagColumns whose buffers are transferred.
       */
      readonly kind: 'sock-diag-columns';
      readonly queries: readonly { readonly family: 4 | 6; readonly protocol: 'tcp' | 'udp' }[];
      readonly withInfo: boolean;
      /** idiag_states: a bit per state number. */
      readonly states: number;
    }
  | {
      /** A Unix socket dump on the worker's socket; the reply is the decoded sockets. */
      readonly kind: 'sock-diag-unix';
      readonly states: number;
    }
  | {
      /** Subscribe to the proc connector and unsubscribe at once; the reply is an availability value. */
      readonly kind: 'probe-proc-connector';
    };

/** The answer to one {@link RequestMessage}: the value, or the error it failed with. */
export type ReplyMessage =
  | { readonly type: 'reply'; readonly id: number; readonly ok: true; readonly value: unknown }
  | {
      readonly type: 'reply';
      readonly id: number;
      readonly ok: false;
      readonly code: NativeErrorCode;
      readonly message: string;
      readonly errno?: number;
    };

/** Everything a worker posts. */
export type WorkerMessage<T> = ReadyMessage | BatchMessage<T> | LossMessage | ErrorMessage | ReplyMessage;

/** A request from the host; answered with a {@link ReplyMessage} of the same id. */
export interface RequestMessage {
  readonly type: 'request';
  readonly id: number;
  readonly request: WorkerRequest;
}

/** Everything the host posts to a worker. */
export type HostMessage = { readonly type: 'ack' } | { readonly type: 'stop' } | RequestMessage;

/** The `workerData` key of the shared acknowledgement counter (an `Int32Array` over a `SharedArrayBuffer`). */
export const ACK_COUNTER_KEY = 'ackCounter';

/**
 * The acknowledgement counter a reader worker was given in its `workerData`, or `undefined`: the
 * host adds one per batch it handled, the worker reads it to know how many of its batches are still
 * in flight.
 */
function ackCounter(data: unknown): Int32Array | undefined {
  const sab = (data as Record<string, unknown> | null)?.[ACK_COUNTER_KEY];
  return sab instanceof SharedArrayBuffer && sab.byteLength >= 4 ? new Int32Array(sab, 0, 1) : undefined;
}

/**
 * Batches posted and not yet acknowledged, for a worker: acknowledgements come through the shared
 * counter when there is one, else as `ack` messages (call {@link InFlight.acked} for each).
 */
export class InFlight {
  readonly #shared: Int32Array | undefined;
  #posted = 0;
  #acked = 0;

  constructor(data: unknown) {
    this.#shared = ackCounter(data);
  }

  /** One more batch posted. */
  posted(): void {
    this.#posted++;
  }

  /** An `ack` message arrived (hosts without the shared counter). */
  acked(): void {
    this.#acked++;
  }

  /** Batches waiting for their acknowledgement. */
  count(): number {
    const acked = this.#shared === undefined ? this.#acked : Atomics.load(this.#shared, 0);
    return Math.max(0, this.#posted - acked);
  }
}
