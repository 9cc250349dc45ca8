/**
 * The logger shape the readers write to: the four pino methods they use, object first and then a
 * message (`log.debug({ fd }, 'proc connector opened')`), so a pino logger — or core's `Logger` —
 * can be passed as is. Readers log at debug only, for an operator following a run; the default
 * discards everything. This module holds no logging backend.
 */

/** A minimal pino-compatible logger. */
export interface NativeLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const noop = (): void => {};

/** A logger that discards everything: the default of every reader. */
export const silentNativeLogger: NativeLogger = { debug: noop, info: noop, warn: noop, error: noop };
