/**
 * The command's plug-ins and whole configuration schema: the collector's own fields at the top level,
 * `[log]` for the command, and one section per plug-in — `[sources.process]` and `[sinks.stdout]` in
 * the default list. Adding a source package to the command means adding its definition to
 * `DEFAULT_PLUGINS`.
 */
import { type ConfigSchema, field, type PluginDefinition, pluginSchema } from '@daemoneye/core';
import { processSourceDefinition } from '@daemoneye/source-process';

/** `[log]`, the command's own section. */
export const commandSchema = {
  log: {
    level: field('enum', 'info', 'Log level (stderr)', {
      values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
    }),
    format: field('enum', 'json', 'Log format', { values: ['json', 'pretty'] }),
  },
} as const satisfies ConfigSchema;

/** The plug-ins `daemoneye-collector run` composes besides its stdout sink, in order. */
export const DEFAULT_PLUGINS: readonly PluginDefinition[] = [processSourceDefinition];

/** The full schema of the command for a list of plug-ins (the stdout sink's included). */
export function cliConfigSchema(plugins: readonly PluginDefinition[]): ConfigSchema {
  return pluginSchema(plugins, commandSchema);
}
