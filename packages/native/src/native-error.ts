/**
 * The error type of the native package. It mirrors the collector error catalog of the core package
 * (same `code` strings, same brand symbol) so `isCollectorError` recognises it, without this package
 * depending on core. It is only for failures callers must act on; expected runtime conditions such as
 * lost events are reported through callbacks and counters instead.
 */

/** The catalog codes a {@link NativeError} can carry (a subset of the collector error catalog). */
export type NativeErrorCode =
  | 'ERR_NATIVE_UNAVAILABLE'
  | 'ERR_NATIVE_CALL'
  | 'ERR_NETLINK_PROTOCOL'
  | 'ERR_AUDIT_LOCKED'
  | 'ERR_AUDIT_BUSY';

/** Options for {@link NativeError}. */
export interface NativeErrorOptions {
  /** The OS error number (positive), when the failure came from a system call. */
  readonly errno?: number;
  readonly cause?: unknown;
  readonly details?: Readonly<Record<string, unknown>>;
}

const BRAND = Symbol.for('@daemoneye/core/CollectorError');

/**
 * An error from a kernel interface: a catalog `code`, a message naming the call that failed, and the
 * `errno` when there is one. Branded like the core `CollectorError`, so `isCollectorError(e, code)`
 * accepts it; check `code`, not `instanceof`.
 */
export class NativeError extends Error {
  readonly code: NativeErrorCode;
  declare readonly errno?: number;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: NativeErrorCode, message: string, options: NativeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NativeError';
    this.code = code;
    if (options.errno !== undefined) this.errno = options.errno;
    this.details = options.details ?? {};
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** True when `e` is a {@link NativeError} (from any loaded copy of this package) with `code`, if given. */
export function isNativeError(e: unknown, code?: NativeErrorCode): e is NativeError {
  if (typeof e !== 'object' || e === null) return false;
  const rec = e as { [BRAND]?: unknown; code?: unknown; name?: unknown };
  if (rec[BRAND] !== true || rec.name !== 'NativeError') return false;
  return code === undefined || rec.code === code;
}
