/**
 * The error catalog of the DaemonEye collector family. Every error the packages throw on purpose is a
 * `CollectorError` with a stable `code` literal; callers branch on the code through
 * `isCollectorError(e, code)`, never on `instanceof` (two copies of the package may be loaded). This
 * module does not decide what is an error: expected runtime conditions are counters and health, not
 * exceptions.
 */

/** Every error code the collector packages use. Codes are never reused; see docs/errors.md. */
export const ErrorCodes = [
  'ERR_CONFIG_INVALID',
  'ERR_CONFIG_UNKNOWN_KEY',
  'ERR_CONFIG_PARSE',
  'ERR_SOURCE_DUPLICATE',
  'ERR_SOURCE_LIMIT',
  'ERR_SOURCE_INVALID',
  'ERR_SOURCE_STARTUP_TIMEOUT',
  'ERR_SOURCE_FAILED',
  'ERR_SINK_DUPLICATE',
  'ERR_SINK_INVALID',
  'ERR_COLLECTOR_STATE',
  'ERR_EVENT_INVALID',
  'ERR_FLAGS_INVALID',
  'ERR_NATIVE_UNAVAILABLE',
  'ERR_NATIVE_CALL',
  'ERR_NETLINK_PROTOCOL',
  'ERR_AUDIT_LOCKED',
  'ERR_AUDIT_BUSY',
  'ERR_PROCESS_GONE',
  'ERR_HASH_TOO_LARGE',
  'ERR_HASH_TIMEOUT',
  'ERR_CLI_USAGE',
] as const;

/** A code from the catalog. */
export type ErrorCode = (typeof ErrorCodes)[number];

/** Structured details attached to an error (field names, values, origins). */
export type ErrorDetails = Readonly<Record<string, unknown>>;

/** Options for {@link CollectorError}. */
export interface CollectorErrorOptions {
  readonly cause?: unknown;
  readonly details?: ErrorDetails;
}

const BRAND = Symbol.for('@daemoneye/core/CollectorError');

/** The one error class of the collector packages: a message, a catalog `code`, optional `details`. */
export class CollectorError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, options: CollectorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CollectorError';
    this.code = code;
    this.details = options.details ?? {};
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/**
 * True when `e` is a collector error (from any loaded copy of this package), and, when `code` is
 * given, carries that code.
 */
export function isCollectorError(e: unknown, code?: ErrorCode): e is CollectorError {
  if (typeof e !== 'object' || e === null) return false;
  const rec = e as { [BRAND]?: unknown; code?: unknown };
  if (rec[BRAND] !== true) return false;
  return code === undefined || rec.code === code;
}

/** A short, single-line description of any thrown value, for logs and health reasons. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return isCollectorError(e) ? `${e.code}: ${e.message}` : `${e.name}: ${e.message}`;
  return String(e);
}
