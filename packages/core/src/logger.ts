/**
 * The `Logger` shape the packages log through: the subset of pino's API they use (object first,
 * then message), so a pino instance can be passed as is. Libraries are silent by default; the CLI
 * wires pino. This module holds no logging backend.
 */

/** One log method: `log.warn({ dropped }, 'queue full')` or `log.info('started')`. */
export interface LogFn {
  (obj: object, msg?: string): void;
  (msg: string): void;
}

/** A pino-compatible logger. */
export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

const noop: LogFn = () => {};

/** A logger that discards everything; the default of every library component. */
export const silentLogger: Logger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  fatal: noop,
  child: () => silentLogger,
};
