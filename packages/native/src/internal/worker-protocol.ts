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
}

/** A batch of decoded items; the host answers each with an `ack` (flow control). */
export interface BatchMessage<T> {
  readonly type: 'batch';
  readonly items: T[];
}

/** Events were lost in the kernel (ENOBUFS) or the queue overflowed. */
export interface LossMessage {
  readonly type: 'loss';
  readonly reason: 'enobufs' | 'overflow';
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

/** Everything a worker posts. */
export type WorkerMessage<T> = ReadyMessage | BatchMessage<T> | LossMessage | ErrorMessage;

/** Everything the host posts to a worker. */
export type HostMessage = { readonly type: 'ack' } | { readonly type: 'stop' };
