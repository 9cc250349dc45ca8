/**
 * Plug-in definitions: a source, sink or processor is declared once — a key, a schema whose fields
 * carry their defaults, types, bounds and descriptions, and a factory that receives the values typed
 * from that schema. `pluginSchema` composes the collector's fields and every definition's section
 * (`[sources.<key>]`, `[sinks.<key>]`, `[processors.<key>]`) into one configuration schema, and
 * `composeCollector` builds a Collector from loaded configuration and the same list. Every section has
 * `enabled`; a sink's section also has `queue_capacity` and `overflow`. This module builds; it does
 * not run anything.
 */
import { Collector } from './collector.ts';
import { CollectorConfig } from './config.ts';
import type { LoadedConfig, ValueOrigin } from './config-loader.ts';
import {
  type ConfigField,
  type ConfigSchema,
  camelCaseKey,
  collectorConfigSchema,
  field,
  isField,
  type OptionsOf,
} from './config-schema.ts';
import { CollectorError } from './errors.ts';
import type { HostIdentity } from './host.ts';
import { type Logger, silentLogger } from './logger.ts';
import type { SheddingSignal } from './shedding.ts';
import type { EventProcessor, EventSink, EventSource, OverflowPolicy } from './source.ts';

/** What every factory receives beside its options. */
export interface PluginContext {
  /** The collector's logger (a plug-in binds its own name, as the process source binds `source`). */
  readonly logger: Logger;
  /** The collector's data directory, when configured. */
  readonly dataDir: string | undefined;
  /**
   * Where the value at a dotted configuration path came from (`processors.triggers.rules_file`,
   * `triggers`), so a plug-in's own errors about a value can name the file or variable that set it.
   */
  originOf(path: string): ValueOrigin;
  /**
   * The collector's load-shedding level (set when composed by `composeCollector`): a plug-in sheds
   * optional work (hashing, short intervals, top-N, low-priority triggers) while it is above `none`.
   */
  readonly shedding?: SheddingSignal;
}

const enabledField = (kind: string) => field('boolean', true, `Run this ${kind}`);

const sinkFields = {
  queue_capacity: field('integer', 10_000, 'Events the sink queues at most (at least max_batch_size)', { min: 1 }),
  overflow: field('enum', 'block', 'What the sink does when its queue is full', {
    values: ['block', 'drop-oldest', 'drop-newest'],
  }),
} as const;

/** The section of a source definition: its own fields plus `enabled`. */
export type SourceSection<S extends ConfigSchema> = S & { readonly enabled: ConfigField<'boolean', boolean, boolean> };
/** The section of a sink definition: its own fields plus `enabled`, `queue_capacity` and `overflow`. */
export type SinkSection<S extends ConfigSchema> = SourceSection<S> & typeof sinkFields;

interface DefinitionBase<K extends 'source' | 'sink' | 'processor', S extends ConfigSchema, T extends ConfigSchema> {
  readonly kind: K;
  /** The section name under `[sources]`, `[sinks]` or `[processors]`: lowercase, digits, `-` or `_`. */
  readonly key: string;
  readonly description: string;
  /** The whole section, including the fields every definition of this kind gets. */
  readonly schema: S;
  /**
   * Fields the plug-in reads from the top level of the configuration file rather than its section
   * (the trigger manager's `[[triggers]]`); empty for most plug-ins.
   */
  readonly topLevel: T;
}

/** The options a factory receives: its section's values and its top-level fields' values. */
export type PluginOptions<S extends ConfigSchema, T extends ConfigSchema> = OptionsOf<S> & OptionsOf<T>;

/** A source kind the collector can be composed with. */
export interface SourceDefinition<S extends ConfigSchema = ConfigSchema, T extends ConfigSchema = ConfigSchema>
  extends DefinitionBase<'source', SourceSection<S>, T> {
  create(options: PluginOptions<SourceSection<S>, T>, context: PluginContext): EventSource;
}

/** A sink kind. */
export interface SinkDefinition<S extends ConfigSchema = ConfigSchema, T extends ConfigSchema = ConfigSchema>
  extends DefinitionBase<'sink', SinkSection<S>, T> {
  create(options: PluginOptions<SinkSection<S>, T>, context: PluginContext): EventSink;
}

/** A processor kind. */
export interface ProcessorDefinition<S extends ConfigSchema = ConfigSchema, T extends ConfigSchema = ConfigSchema>
  extends DefinitionBase<'processor', SourceSection<S>, T> {
  create(options: PluginOptions<SourceSection<S>, T>, context: PluginContext): EventProcessor;
}

/** Any definition. */
export type PluginDefinition = SourceDefinition | SinkDefinition | ProcessorDefinition;

/** What `defineSource`, `defineSink` and `defineProcessor` take. */
export interface DefinitionInput<S extends ConfigSchema, O, P, T extends ConfigSchema = Record<never, never>> {
  readonly key: string;
  readonly description: string;
  readonly schema: S;
  /**
   * Fields read from the top level of the file (`[[triggers]]` rather than `[processors.triggers]`);
   * their values join the section's in the factory's options. Their names may not be the collector's
   * own settings, `sources`, `sinks` or `processors`, nor a field of the section.
   */
  readonly topLevel?: T;
  /** Whether the plug-in runs when the configuration says nothing (default true). */
  readonly enabledByDefault?: boolean;
  create(options: O, context: PluginContext): P;
}

const KEY = /^[a-z][a-z0-9_-]*$/;

type AnyInput = DefinitionInput<ConfigSchema, never, unknown, ConfigSchema>;

const RESERVED_TOP_LEVEL = new Set([...Object.keys(collectorConfigSchema), 'sources', 'sinks', 'processors']);

/** Checks a definition and builds it: its section is `enabled`, its own fields, then `extra`. */
function define(kind: 'source' | 'sink' | 'processor', input: AnyInput, extra: ConfigSchema): unknown {
  if (typeof input.key !== 'string' || !KEY.test(input.key)) {
    throw new CollectorError(
      'ERR_PLUGIN_INVALID',
      `a ${kind} definition key must be lowercase letters, digits, "-" or "_", got ${JSON.stringify(input.key)}`,
    );
  }
  if (typeof input.create !== 'function') {
    throw new CollectorError('ERR_PLUGIN_INVALID', `${kind} definition "${input.key}" has no create() function`);
  }
  for (const reserved of Object.keys(extra)) {
    if (Object.hasOwn(input.schema, reserved) && reserved !== 'enabled') {
      throw new CollectorError(
        'ERR_PLUGIN_INVALID',
        `${kind} definition "${input.key}" declares "${reserved}", which every ${kind} section already has`,
      );
    }
  }
  const topLevel = input.topLevel ?? {};
  for (const name of Object.keys(topLevel)) {
    const entry = topLevel[name] as ConfigField | ConfigSchema;
    const problem = RESERVED_TOP_LEVEL.has(name)
      ? 'a name the collector itself uses'
      : Object.hasOwn(input.schema, name) || Object.hasOwn(extra, name) || name === 'enabled'
        ? 'also a field of its section'
        : !isField(entry)
          ? 'not a field (top-level entries are fields, not sections)'
          : undefined;
    if (problem !== undefined) {
      throw new CollectorError(
        'ERR_PLUGIN_INVALID',
        `${kind} definition "${input.key}" reads the top-level key "${name}", which is ${problem}`,
      );
    }
  }
  const enabled = field('boolean', input.enabledByDefault ?? true, enabledField(kind).description);
  return Object.freeze({
    kind,
    key: input.key,
    description: input.description,
    schema: { enabled, ...input.schema, ...extra },
    topLevel,
    create: input.create,
  });
}

/** Declares a source: its `[sources.<key>]` section and a factory receiving typed options. */
export function defineSource<const S extends ConfigSchema, const T extends ConfigSchema = Record<never, never>>(
  input: DefinitionInput<S, PluginOptions<SourceSection<S>, T>, EventSource, T>,
): SourceDefinition<S, T> {
  return define('source', input as unknown as AnyInput, {}) as SourceDefinition<S, T>;
}

/** Declares a sink: its `[sinks.<key>]` section (with `queue_capacity` and `overflow`) and a factory. */
export function defineSink<const S extends ConfigSchema, const T extends ConfigSchema = Record<never, never>>(
  input: DefinitionInput<S, PluginOptions<SinkSection<S>, T>, EventSink, T>,
): SinkDefinition<S, T> {
  return define('sink', input as unknown as AnyInput, sinkFields) as SinkDefinition<S, T>;
}

/** Declares a processor: its `[processors.<key>]` section and a factory. */
export function defineProcessor<const S extends ConfigSchema, const T extends ConfigSchema = Record<never, never>>(
  input: DefinitionInput<S, PluginOptions<SourceSection<S>, T>, EventProcessor, T>,
): ProcessorDefinition<S, T> {
  return define('processor', input as unknown as AnyInput, {}) as ProcessorDefinition<S, T>;
}

const GROUP = { source: 'sources', sink: 'sinks', processor: 'processors' } as const;

/**
 * The configuration schema of a collector composed of `definitions`: the collector's own fields at
 * the top level, then `sources`, `sinks` and `processors` sections (only those that have a
 * definition), plus `extra` sections (a command's own, such as `[log]`). Throws `ERR_PLUGIN_INVALID`
 * for two definitions of one kind with the same key.
 */
export function pluginSchema(definitions: readonly PluginDefinition[], extra: ConfigSchema = {}): ConfigSchema {
  const groups: Record<string, Record<string, ConfigSchema>> = {};
  const top: Record<string, ConfigField | ConfigSchema> = {};
  const topOwners = new Map<string, string>();
  for (const d of definitions) {
    const group = GROUP[d.kind];
    groups[group] ??= {};
    const g = groups[group] as Record<string, ConfigSchema>;
    if (Object.hasOwn(g, d.key)) {
      throw new CollectorError('ERR_PLUGIN_INVALID', `two ${d.kind} definitions share the key "${d.key}"`);
    }
    g[d.key] = d.schema;
    for (const [name, f] of Object.entries(d.topLevel)) {
      const owner = topOwners.get(name);
      if (owner !== undefined || Object.hasOwn(extra, name)) {
        throw new CollectorError(
          'ERR_PLUGIN_INVALID',
          `the top-level key "${name}" is read by ${d.kind} "${d.key}" and ${owner ?? 'the command itself'}`,
        );
      }
      topOwners.set(name, `${d.kind} "${d.key}"`);
      top[name] = f;
    }
  }
  return { ...collectorConfigSchema, ...top, ...groups, ...extra };
}

/** The typed values of one section of loaded configuration (camelCase keys, nested sections). */
export function sectionOptions<S extends ConfigSchema>(loaded: LoadedConfig, prefix: string, schema: S): OptionsOf<S> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    const path = prefix === '' ? k : `${prefix}.${k}`;
    out[camelCaseKey(k)] = isField(v) ? loaded.get(path) : sectionOptions(loaded, path, v);
  }
  return out as OptionsOf<S>;
}

/** Options of {@link composeCollector}. */
export interface ComposeOptions {
  readonly logger?: Logger;
  readonly host?: HostIdentity;
}

/** One plug-in instance a composition made: which definition, the instance's name, its options. */
export interface ComposedPart {
  readonly kind: PluginDefinition['kind'];
  /** `sources.<key>`, `sinks.<key>` or `processors.<key>`. */
  readonly id: string;
  /** The name the instance reports (`name()`), under which the collector knows it. */
  readonly name: string;
  /** The instance's options as JSON, to tell whether a new configuration changes them. */
  readonly fingerprint: string;
}

/** What `composeCollector` built a collector from, kept for `reloadCollector`. */
export interface Composition {
  readonly loaded: LoadedConfig;
  readonly parts: ReadonlyMap<string, ComposedPart>;
  readonly logger: Logger;
}

const compositions = new WeakMap<Collector, Composition>();

/** The composition a collector was built from by {@link composeCollector}, if it was. */
export function compositionOf(collector: Collector): Composition | undefined {
  return compositions.get(collector);
}

/** Records what a collector is now composed of (after a reload). */
export function recordComposition(collector: Collector, composition: Composition): void {
  compositions.set(collector, composition);
}

/** A plug-in instance made from a definition and loaded configuration, not yet added to a collector. */
export type CreatedPart =
  | { readonly kind: 'source'; readonly part: EventSource; readonly meta: ComposedPart }
  | { readonly kind: 'processor'; readonly part: EventProcessor; readonly meta: ComposedPart }
  | {
      readonly kind: 'sink';
      readonly part: EventSink;
      readonly meta: ComposedPart;
      readonly options: { readonly queueCapacity: number; readonly overflow: OverflowPolicy };
    };

/** The id, options and fingerprint of one definition in `loaded`, and whether it is enabled. */
export function definitionValues(
  loaded: LoadedConfig,
  d: PluginDefinition,
): { id: string; values: Record<string, unknown>; enabled: boolean; fingerprint: string } {
  const id = `${GROUP[d.kind]}.${d.key}`;
  const values = {
    ...sectionOptions(loaded, id, d.schema),
    ...sectionOptions(loaded, '', d.topLevel),
  } as Record<string, unknown>;
  return { id, values, enabled: values.enabled !== false, fingerprint: JSON.stringify(values) };
}

/**
 * Creates the instance of one enabled definition with its typed options. Throws `ERR_CONFIG_INVALID`
 * for a sink whose `queue_capacity` is below `maxBatchSize`, and whatever the factory throws.
 */
export function createPart(
  loaded: LoadedConfig,
  d: PluginDefinition,
  context: PluginContext,
  maxBatchSize: number,
): CreatedPart {
  const { id, values, fingerprint } = definitionValues(loaded, d);
  if (d.kind === 'source') {
    const part = d.create(values as never, context);
    return { kind: 'source', part, meta: { kind: d.kind, id, name: part.name(), fingerprint } };
  }
  if (d.kind === 'processor') {
    const part = d.create(values as never, context);
    return { kind: 'processor', part, meta: { kind: d.kind, id, name: part.name(), fingerprint } };
  }
  const queueCapacity = values.queueCapacity as number;
  if (queueCapacity < maxBatchSize) {
    const origin = loaded.originOf(`${id}.queue_capacity`);
    throw new CollectorError(
      'ERR_CONFIG_INVALID',
      `${id}.queue_capacity = ${queueCapacity} must be at least max_batch_size (${maxBatchSize}) (set by ${origin.layer} ${origin.source})`,
      {
        details: {
          field: `${id}.queue_capacity`,
          value: queueCapacity,
          problem: `must be at least max_batch_size (${maxBatchSize})`,
          layer: origin.layer,
          source: origin.source,
        },
      },
    );
  }
  const part = d.create(values as never, context);
  return {
    kind: 'sink',
    part,
    meta: { kind: d.kind, id, name: part.name(), fingerprint },
    options: { queueCapacity, overflow: values.overflow as OverflowPolicy },
  };
}

/** The definitions in the order a collector is composed: sources, processors, then sinks. */
export function compositionOrder(definitions: readonly PluginDefinition[]): PluginDefinition[] {
  return [
    ...definitions.filter((d) => d.kind === 'source'),
    ...definitions.filter((d) => d.kind === 'processor'),
    ...definitions.filter((d) => d.kind === 'sink'),
  ];
}

/**
 * Builds a Collector from loaded configuration (loaded with `pluginSchema(definitions)`) and the
 * definitions: the collector's settings from the top level, then every enabled source, processor and
 * sink, in definition order, created with its typed options. Throws `ERR_CONFIG_INVALID` naming the
 * key and where its value came from (a sink's `queue_capacity` below `max_batch_size`, say), and what
 * the factories or `register`/`addSink`/`addProcessor` throw. The collector remembers what it was
 * composed of, so `reloadCollector` can later apply a new configuration to it.
 */
export function composeCollector(
  loaded: LoadedConfig,
  definitions: readonly PluginDefinition[],
  options: ComposeOptions = {},
): Collector {
  const logger = options.logger ?? silentLogger;
  const collector = new Collector(CollectorConfig.fromLoaded(loaded), {
    logger,
    ...(options.host !== undefined ? { host: options.host } : {}),
  });
  const context = pluginContext(collector, loaded, logger);
  const parts = new Map<string, ComposedPart>();
  for (const d of compositionOrder(definitions)) {
    if (!definitionValues(loaded, d).enabled) continue;
    const created = createPart(loaded, d, context, collector.settings.maxBatchSize);
    if (created.kind === 'source') collector.register(created.part);
    else if (created.kind === 'processor') collector.addProcessor(created.part);
    else collector.addSink(created.part, created.options);
    parts.set(created.meta.id, created.meta);
  }
  compositions.set(collector, { loaded, parts, logger });
  return collector;
}

/** The context factories get for `collector` composed from `loaded`. */
export function pluginContext(collector: Collector, loaded: LoadedConfig, logger: Logger): PluginContext {
  return {
    logger,
    dataDir: collector.settings.dataDir,
    originOf: (path) => loaded.originOf(path),
    shedding: collector.shedding,
  };
}
