/**
 * The sources `daemoneye-collector run` knows, with their configuration sections. Each later source
 * package adds its definition here and so becomes part of the default configuration.
 */
import type { SourceDefinition } from './source-registry.ts';

/** Sources of the default configuration, in registration order. */
export const DEFAULT_SOURCES: readonly SourceDefinition[] = [];
