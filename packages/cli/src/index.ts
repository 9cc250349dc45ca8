/**
 * @daemoneye/cli — the `daemoneye-collector` command as a library: `main` (argv → exit code), the
 * configuration schema it loads, its stdout sink and the registry of runnable sources.
 */

export type { LogFormat } from './logging.ts';
export { createLogger } from './logging.ts';
export type { CommandIo } from './main.ts';
export { ExitCode, main } from './main.ts';
export type { OutputFormat } from './output-sink.ts';
export { formatPretty, StreamSink } from './output-sink.ts';
export { cliConfigSchema, commandSchema } from './schema.ts';
export type { SourceDefinition } from './source-registry.ts';
export { createEnabledSources, sourcesSchema } from './source-registry.ts';
export { DEFAULT_SOURCES } from './sources.ts';
