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

/** A batch of decoded items; the host answers each with an `ack` (flow control). */
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
