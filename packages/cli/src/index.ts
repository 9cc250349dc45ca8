/**
 * @daemoneye/cli — the `daemoneye-collector` command as a library: `main` (argv → exit code), the
 * configuration schema it loads, its stdout sink definition and the list of plug-ins it composes.
 */

export { cliErrors } from './errors.ts';
export type { LogFormat } from './logging.ts';
export { createLogger } from './logging.ts';
export type { CommandIo } from './main.ts';
export { ExitCode, main } from './main.ts';
export type { OutputFormat } from './output-sink.ts';
export { formatPretty, StreamSink, stdoutSinkDefinition } from './output-sink.ts';
export { cliConfigSchema, commandSchema, DEFAULT_PLUGINS } from './schema.ts';
