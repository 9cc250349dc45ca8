/**
 * Logging for the command line: pino writing to stderr (stdout carries events), JSON by default or
 * pretty-printed through pino-pretty. Library packages only see the `Logger` shape from core.
 */
import type { Logger } from '@daemoneye/core';
import { pino } from 'pino';
import pretty from 'pino-pretty';

/** Log formats. */
export type LogFormat = 'json' | 'pretty';

/** A pino logger on stderr at `level`. */
export function createLogger(level: string, format: LogFormat): Logger & { flush?: () => void } {
  const options = { level, base: { pid: process.pid }, name: 'daemoneye-collector' };
  if (format === 'pretty') return pino(options, pretty({ destination: 2, colorize: process.stderr.isTTY, sync: true }));
  return pino(options, pino.destination({ dest: 2, sync: true }));
}
