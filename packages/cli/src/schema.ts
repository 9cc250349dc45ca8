/**
 * The command's whole configuration schema: the collector's own fields at the top level, `[output]`
 * and `[log]` for the command, and one `[sources.<name>]` section per runnable source.
 */
import { type ConfigSchema, collectorConfigSchema, field } from '@daemoneye/core';
import { type SourceDefinition, sourcesSchema } from './source-registry.ts';

/** `[output]` and `[log]`, the command's own sections. */
export const commandSchema = {
  output: {
    format: field('enum', 'jsonl', 'How `run` prints events on stdout', { values: ['jsonl', 'pretty', 'none'] }),
    queue_capacity: field('integer', 10_000, 'Events the stdout sink queues at most', { min: 1 }),
    overflow: field('enum', 'block', 'What the stdout sink does when its queue is full', {
      values: ['block', 'drop-oldest', 'drop-newest'],
    }),
  },
  log: {
    level: field('enum', 'info', 'Log level (stderr)', {
      values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
    }),
    format: field('enum', 'json', 'Log format', { values: ['json', 'pretty'] }),
  },
} as const satisfies ConfigSchema;

/** The full schema for a set of source definitions. */
export function cliConfigSchema(sources: readonly SourceDefinition[]): ConfigSchema {
  return { ...collectorConfigSchema, ...commandSchema, sources: sourcesSchema(sources) };
}
