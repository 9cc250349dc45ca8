/**
 * Cancellation plumbing shared by the open calls: checking the `signal` option, the error an
 * aborted open rejects with, and tying a reader's `close()` to its signal. It does not open anything.
 */

import { invalidArgument, NativeError } from '../native-error.ts';
import type { NativeLogger } from '../native-logger.ts';
import { silentNativeLogger } from '../native-logger.ts';
import type { NativeOpenOptions } from '../reader-options.ts';

/** The NativeError `ERR_NATIVE_ABORTED` for `what`, with the signal's reason as cause. */
export function abortedError(what: string, signal: AbortSignal): NativeError {
  return new NativeError('ERR_NATIVE_ABORTED', `${what}: aborted`, { cause: signal.reason });
}

/**
 * Validates the shared options: throws `ERR_NATIVE_INVALID_ARGUMENT` for a `signal` that is not an
 * AbortSignal or a `logger` without the four methods, and `ERR_NATIVE_ABORTED` for an aborted signal.
 */
export function checkOpenOptions(what: string, opts: NativeOpenOptions): { logger: NativeLogger } {
  const { signal, logger } = opts;
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw invalidArgument('signal', signal, 'an AbortSignal');
  if (
    logger !== undefined &&
    (typeof logger !== 'object' ||
      logger === null ||
      !['debug', 'info', 'warn', 'error'].every(
        (m) => typeof (logger as unknown as Record<string, unknown>)[m] === 'function',
      ))
  )
    throw invalidArgument('logger', logger, 'an object with debug, info, warn and error methods');
  if (signal?.aborted) throw abortedError(what, signal);
  return { logger: logger ?? silentNativeLogger };
}

/**
 * Calls `close` once when `signal` aborts (at once if it already has); a close that rejects is
 * handed to `onFailure` (the reader's error callbacks). Returns a function that stops listening
 * (call it from `close`).
 */
export function closeOnAbort(
  signal: AbortSignal | undefined,
  close: () => Promise<void>,
  onFailure: (err: Error) => void = () => {},
): () => void {
  if (signal === undefined) return () => {};
  const onAbort = (): void =>
    void close().catch((e: unknown) => onFailure(e instanceof Error ? e : new Error(String(e))));
  if (signal.aborted) {
    queueMicrotask(onAbort);
    return () => {};
  }
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}
