/**
 * The sources the command can run. Each entry names its configuration section under `[sources.*]`,
 * the schema of that section (every section has `enabled`), and a factory from the loaded values to
 * an EventSource. Adding a source package to the command means adding one entry here.
 */
import type { ConfigSchema, EventSource, LoadedConfig, Logger } from '@daemoneye/core';

/** One runnable source kind. */
export interface SourceDefinition {
  /** Section name under `[sources]`. */
  readonly key: string;
  /** The section's fields (including `enabled`). */
  readonly schema: ConfigSchema;
  /** Builds the source from the loaded configuration. `get` reads a key of this section. */
  create(get: (key: string) => unknown, logger: Logger): EventSource;
}

/** Builds the `[sources]` part of the schema from the definitions. */
export function sourcesSchema(defs: readonly SourceDefinition[]): ConfigSchema {
  return Object.fromEntries(defs.map((d) => [d.key, d.schema]));
}

/** Creates the enabled sources, in definition order. */
export function createEnabledSources(
  defs: readonly SourceDefinition[],
  loaded: LoadedConfig,
  logger: Logger,
): EventSource[] {
  const out: EventSource[] = [];
  for (const d of defs) {
    const get = (key: string): unknown => loaded.get(`sources.${d.key}.${key}`);
    if (get('enabled') === false) continue;
    out.push(d.create(get, logger));
  }
  return out;
}
