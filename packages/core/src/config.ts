/**
 * `CollectorConfig`: the seed's fluent, immutable builder for the runtime's settings, with the
 * defaults of DaemonEye's code and validation that names the bad field, its value and where the value
 * came from (a `with…()` call, a file, a variable, a flag). A config can be built in code or from a
 * `LoadedConfig`. Validation runs when a `Collector` is constructed (or on `validate()`).
 */
import type { LoadedConfig, ValueOrigin } from './config-loader.ts';
import {
  type ConfigField,
  camelCaseKey,
  coerceValue,
  collectorConfigSchema,
  type OptionsOf,
  schemaDefaults,
} from './config-schema.ts';
import { CollectorError } from './errors.ts';

/**
 * The runtime settings, typed from `collectorConfigSchema` (durations in milliseconds). A setting
 * without a default (`backpressureThreshold`, `dataDir`) may be `undefined`.
 */
export type CollectorSettings = OptionsOf<typeof collectorConfigSchema>;

/** The defaults, taken from `collectorConfigSchema` (DaemonEye's code values). */
export const DEFAULT_COLLECTOR_SETTINGS: CollectorSettings = Object.freeze(schemaDefaults(collectorConfigSchema));

type Key = keyof CollectorSettings;

/** Configuration-file key (snake_case) of each setting, from the schema. */
export const SETTING_KEYS: Readonly<Record<Key, string>> = Object.freeze(
  Object.fromEntries(Object.keys(collectorConfigSchema).map((k) => [camelCaseKey(k), k])) as Record<Key, string>,
);

const FIELDS: Readonly<Record<Key, ConfigField>> = Object.fromEntries(
  Object.entries(SETTING_KEYS).map(([key, fileKey]) => [
    key,
    collectorConfigSchema[fileKey as keyof typeof collectorConfigSchema],
  ]),
) as Record<Key, ConfigField>;

/** The effective settings after validation, with the derived threshold filled in. */
export type ResolvedSettings = Omit<CollectorSettings, 'backpressureThreshold'> & {
  readonly backpressureThreshold: number;
};

/** Collector configuration: an immutable builder. Each `with…` returns a new config. */
export class CollectorConfig {
  readonly #values: CollectorSettings;
  readonly #origins: Readonly<Partial<Record<Key, ValueOrigin>>>;

  constructor(values: Partial<CollectorSettings> = {}, origins: Partial<Record<Key, ValueOrigin>> = {}) {
    this.#values = { ...DEFAULT_COLLECTOR_SETTINGS, ...values };
    this.#origins = origins;
  }

  /** Builds a config from loaded layers, keeping each value's origin for error messages. */
  static fromLoaded(loaded: LoadedConfig): CollectorConfig {
    const values: Record<string, unknown> = {};
    const origins: Partial<Record<Key, ValueOrigin>> = {};
    for (const [key, fileKey] of Object.entries(SETTING_KEYS) as [Key, string][]) {
      const v = loaded.get(fileKey);
      if (v !== undefined) values[key] = v;
      origins[key] = loaded.originOf(fileKey);
    }
    return new CollectorConfig(values as Partial<CollectorSettings>, origins);
  }

  /** `method` is the setter the caller used, named in errors (defaults to `with<Key>`). */
  #with<K extends Key>(
    key: K,
    value: CollectorSettings[K],
    method = `with${key[0]?.toUpperCase()}${key.slice(1)}`,
  ): CollectorConfig {
    return new CollectorConfig(
      { ...this.#values, [key]: value },
      { ...this.#origins, [key]: { layer: 'api', source: `${method}()` } },
    );
  }

  withComponentName(name: string): CollectorConfig {
    return this.#with('componentName', name);
  }
  withMaxEventSources(n: number): CollectorConfig {
    return this.#with('maxEventSources', n);
  }
  withEventBufferSize(n: number): CollectorConfig {
    return this.#with('eventBufferSize', n);
  }
  withMaxBatchSize(n: number): CollectorConfig {
    return this.#with('maxBatchSize', n);
  }
  /** Milliseconds an event may wait for its batch to fill. */
  withBatchTimeout(ms: number): CollectorConfig {
    return this.#with('batchTimeout', ms);
  }
  withBackpressureThreshold(n: number): CollectorConfig {
    return this.#with('backpressureThreshold', n);
  }
  withMaxBackpressureWait(ms: number): CollectorConfig {
    return this.#with('maxBackpressureWait', ms);
  }
  withStartupTimeout(ms: number): CollectorConfig {
    return this.#with('startupTimeout', ms);
  }
  withShutdownTimeout(ms: number): CollectorConfig {
    return this.#with('shutdownTimeout', ms);
  }
  withHealthCheckInterval(ms: number): CollectorConfig {
    return this.#with('healthCheckInterval', ms);
  }
  withTelemetry(enabled: boolean): CollectorConfig {
    return this.#with('enableTelemetry', enabled, 'withTelemetry');
  }
  withTelemetryInterval(ms: number): CollectorConfig {
    return this.#with('telemetryInterval', ms);
  }
  withDebugLogging(enabled: boolean): CollectorConfig {
    return this.#with('debugLogging', enabled);
  }
  /** Directory for the collector's state (the persisted sequence high-water mark). */
  withDataDir(path: string): CollectorConfig {
    return this.#with('dataDir', path);
  }
  /** Derived events (emitted by processors) that may wait for a batch. */
  withDerivedLaneCapacity(n: number): CollectorConfig {
    return this.#with('derivedLaneCapacity', n);
  }
  /** Longest chain of derived events that one source event may cause. */
  withMaxDerivationDepth(n: number): CollectorConfig {
    return this.#with('maxDerivationDepth', n);
  }
  /** First and largest delay between restarts of a failed source. */
  withRestartBackoff(baseMs: number, maxMs: number): CollectorConfig {
    return this.#with('restartBackoffBase', baseMs, 'withRestartBackoff').#with(
      'restartBackoffMax',
      maxMs,
      'withRestartBackoff',
    );
  }

  /** The raw settings (threshold possibly undefined). */
  get settings(): CollectorSettings {
    return this.#values;
  }

  /** Where a setting's value came from. */
  originOf(key: Key): ValueOrigin {
    return this.#origins[key] ?? { layer: 'default', source: 'built-in default' };
  }

  #problem(key: Key, problem: string): CollectorError {
    const origin = this.originOf(key);
    const value = this.#values[key];
    return new CollectorError(
      'ERR_CONFIG_INVALID',
      `${SETTING_KEYS[key]} = ${JSON.stringify(value)} ${problem} (set by ${origin.layer} ${origin.source})`,
      { details: { field: SETTING_KEYS[key], value, problem, layer: origin.layer, source: origin.source } },
    );
  }

  /**
   * Checks every setting and returns the effective values. Throws `ERR_CONFIG_INVALID` naming the
   * first bad field, its value and its origin.
   */
  validate(): ResolvedSettings {
    const v: Record<string, unknown> = { ...this.#values };
    for (const [key, f] of Object.entries(FIELDS) as [Key, ConfigField][]) {
      const raw = v[key];
      if (raw === undefined && f.default === undefined) continue;
      const c = coerceValue(f, raw, false);
      if (!c.ok) throw this.#problem(key, c.problem);
      v[key] = c.value;
    }
    if ((v.componentName as string).trim() === '') throw this.#problem('componentName', 'must be a non-empty string');
    return this.#crossCheck(v as unknown as CollectorSettings);
  }

  #crossCheck(v: CollectorSettings): ResolvedSettings {
    const threshold = v.backpressureThreshold ?? Math.max(1, Math.floor(v.eventBufferSize * 0.8));
    if (v.backpressureThreshold !== undefined) {
      if (threshold >= v.eventBufferSize && v.eventBufferSize > 1) {
        throw this.#problem('backpressureThreshold', `must be below event_buffer_size (${v.eventBufferSize})`);
      }
    }
    if (v.maxBatchSize > v.eventBufferSize) {
      throw this.#problem('maxBatchSize', `must not exceed event_buffer_size (${v.eventBufferSize})`);
    }
    if (v.restartBackoffBase > v.restartBackoffMax) {
      throw this.#problem('restartBackoffBase', `must not exceed restart_backoff_max (${v.restartBackoffMax})`);
    }
    return { ...v, backpressureThreshold: threshold };
  }
}
