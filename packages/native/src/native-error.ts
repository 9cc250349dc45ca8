/**
 * The error type of the native package. It mirrors the collector error catalog of the core package
 * (same `code` strings, same brand symbol) so `isCollectorError` recognises it, without this package
 * depending on core. It is only for failures callers must act on; expected runtime conditions such as
 * lost events are reported through callbacks and counters instead.
 */

/**
 * Every code a {@link NativeError} can carry, in catalog order:
 *
 * - `ERR_NATIVE_UNAVAILABLE`: not Linux, the FFI or libc cannot load, a missing capability (EPERM),
 *   or an interface this kernel or namespace does not have;
 * - `ERR_NATIVE_CALL`: a system call or netlink request failed (`errno` set), or a reader was used
 *   after close;
 * - `ERR_NETLINK_PROTOCOL`: no netlink reply in time, or a truncated or malformed one;
 * - `ERR_AUDIT_LOCKED`: the audit configuration is locked (`enabled = 2`) until reboot;
 * - `ERR_AUDIT_BUSY`: another audit daemon or another live owner of the state file is in the way;
 * - `ERR_NATIVE_INVALID_ARGUMENT`: an option or argument is out of range (the message names it and
 *   the bad value; `details` holds `{ option, value }`);
 * - `ERR_NATIVE_ABORTED`: the caller's `signal` was aborted before an open call finished, or a
 *   request was pending when its reader was closed.
 */
export const NativeErrorCodes = Object.freeze([
  'ERR_NATIVE_UNAVAILABLE',
  'ERR_NATIVE_CALL',
  'ERR_NETLINK_PROTOCOL',
  'ERR_AUDIT_LOCKED',
  'ERR_AUDIT_BUSY',
  'ERR_NATIVE_INVALID_ARGUMENT',
  'ERR_NATIVE_ABORTED',
] as const);

/** The codes a {@link NativeError} can carry: one of {@link NativeErrorCodes}. */
export type NativeErrorCode = (typeof NativeErrorCodes)[number];

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

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return `[${value.map(show).join(', ')}]`;
  return String(value);
}

/**
 * A NativeError `ERR_NATIVE_INVALID_ARGUMENT` for `option`: `<option> must be <expected>, got <value>`,
 * with `{ option, value }` in `details`.
 */
export function invalidArgument(option: string, value: unknown, expected: string): NativeError {
  return new NativeError('ERR_NATIVE_INVALID_ARGUMENT', `${option} must be ${expected}, got ${show(value)}`, {
    details: { option, value },
  });
}
