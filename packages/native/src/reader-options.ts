/**
 * What every reader of this package shares: the options each `open*` call takes (`signal`,
 * `logger`) and the shape of a loss report. Shapes only; the readers implement them.
 */
import type { NativeLogger } from './native-logger.ts';

/** Options every `open*` call accepts. */
export interface NativeOpenOptions {
  /**
   * Aborting it closes the reader, as `close()` does. An already-aborted signal makes the open call
   * reject with NativeError `ERR_NATIVE_ABORTED` before anything is opened; one aborted while the
   * open call runs makes it release what it opened and reject the same way.
   */
  readonly signal?: AbortSignal;
  /** Where the reader logs (debug level: privileges, kernel state changes, fds). Default: silent. */
  readonly logger?: NativeLogger;
}

/**
 * Why events were lost: `enobufs` (the socket's receive buffer overflowed, errno 105), `overflow`
 * (a queue overflowed: the kernel's inotify/fanotify queue, or batches waiting for a first callback),
 * `audit_lost` (the kernel's audit `lost` counter rose), and from the eBPF loader: `ring_full` (the
 * ring buffer refused records), `argv_truncated` and `filename_truncated` (exec records delivered
 * with their argument block or file name cut), `malformed` (records that did not decode).
 */
export type LossReason =
  | 'enobufs'
  | 'overflow'
  | 'audit_lost'
  | 'ring_full'
  | 'argv_truncated'
  | 'filename_truncated'
  | 'malformed';

/** One loss report. */
export interface LossInfo {
  readonly reason: LossReason;
  /** How many losses this report stands for (kernel reports, dropped events or records). */
  readonly count: number;
  /** When it was seen, in epoch ms. */
  readonly at: number;
}
