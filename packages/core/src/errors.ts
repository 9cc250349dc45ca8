/**
 * Errors of the DaemonEye collector family. `CollectorError` is the one error class: a message, a
 * stable `code` literal, `details` and an optional `cause`. Every package defines its own codes with
 * `defineErrorCatalog` (core's are `ErrorCodes`), so no package edits another's list; callers branch on
 * the code through `isCollectorError(e, code)`, never on `instanceof` (two copies of a package may be
 * loaded). This module does not decide what is an error: expected runtime conditions are counters and
 * health, not exceptions.
 */

/** The codes `@daemoneye/core` itself throws. Codes are never reused; see docs/errors.md. */
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
  'ERR_SINK_CLOSED',
  'ERR_PROCESSOR_DUPLICATE',
  'ERR_PROCESSOR_INVALID',
  'ERR_PLUGIN_INVALID',
  'ERR_DATA_DIR',
  'ERR_COLLECTOR_STATE',
  'ERR_EVENT_INVALID',
  'ERR_FLAGS_INVALID',
  'ERR_ERROR_CATALOG',
] as const;

/** A code of `@daemoneye/core`. */
export type ErrorCode = (typeof ErrorCodes)[number];

/** Structured details attached to an error (field names, values, origins). */
export type ErrorDetails = Readonly<Record<string, unknown>>;

/** Options for {@link CollectorError}. */
export interface CollectorErrorOptions {
  readonly cause?: unknown;
  readonly details?: ErrorDetails;
}

const BRAND = Symbol.for('@daemoneye/core/CollectorError');

/**
 * The one error class of the collector packages: a message, a catalog `code`, optional `details`.
 * Packages throw it with their own codes (see {@link defineErrorCatalog}); `C` is the code union.
 */
export class CollectorError<C extends string = string> extends Error {
  readonly code: C;
  readonly details: ErrorDetails;

  constructor(code: C, message: string, options: CollectorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CollectorError';
    this.code = code;
    this.details = options.details ?? {};
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/**
 * True when `e` is a collector error (from any loaded copy of this package, or a package error
 * branded the same way), and, when `code` is given, carries that code.
 */
export function isCollectorError<C extends string = string>(e: unknown, code?: C): e is CollectorError<C> {
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

/** A package's error codes, with a typed constructor and check. */
export interface ErrorCatalog<C extends string> {
  /** The package that owns the codes (`@daemoneye/source-process`). */
  readonly owner: string;
  /** The codes, in declaration order. */
  readonly codes: readonly C[];
  /** A `CollectorError` with one of these codes. */
  error(code: C, message: string, options?: CollectorErrorOptions): CollectorError<C>;
  /** True when `e` is a collector error with one of these codes (with `code`, only that one). */
  is(e: unknown, code?: C): e is CollectorError<C>;
}

const catalogs = new Map<string, string>();
for (const code of ErrorCodes) catalogs.set(code, '@daemoneye/core');

/**
 * Declares the error codes a package throws. Each code must look like `ERR_SOMETHING` and may belong
 * to one package only: declaring a code another catalog already owns throws `ERR_ERROR_CATALOG`
 * (codes are never reused). The returned catalog builds and recognises the package's errors.
 */
export function defineErrorCatalog<const C extends string>(owner: string, codes: readonly C[]): ErrorCatalog<C> {
  for (const code of codes) {
    if (!/^ERR_[A-Z0-9_]+$/.test(code)) {
      throw new CollectorError('ERR_ERROR_CATALOG', `error code "${code}" of ${owner} must look like ERR_NAME`);
    }
    const held = catalogs.get(code);
    if (held !== undefined && held !== owner) {
      throw new CollectorError('ERR_ERROR_CATALOG', `error code ${code} of ${owner} is already defined by ${held}`);
    }
  }
  for (const code of codes) catalogs.set(code, owner);
  const own = new Set<string>(codes);
  return {
    owner,
    codes: Object.freeze([...codes]),
    error: (code, message, options) => new CollectorError(code, message, options),
    is: (e: unknown, code?: C): e is CollectorError<C> =>
      isCollectorError(e) && (code === undefined ? own.has(e.code) : e.code === code),
  };
}

/** Every code declared so far in this copy of the package, with its owner (for docs and tests). */
export function declaredErrorCodes(): ReadonlyMap<string, string> {
  return new Map(catalogs);
}
