/**
 * `CollectorConfig`: the seed's fluent, immutable builder for the runtime's settings, with the
 * defaults of DaemonEye's code and validation that names the bad field, its value and where the value
 * came from (a `with…()` call, a file, a variable, a flag). A config can be built in code or from a
 * `LoadedConfig`. Validation runs when a `Collector` is constructed (or on `validate()`).
 */
import type { LoadedConfig, ValueOrigin } from './config-loader.ts';
import { CollectorError } from './errors.ts';

/** The runtime settings. Durations are milliseconds. */
export interface CollectorSettings {
  readonly componentName: string;
  readonly maxEventSources: number;
  readonly eventBufferSize: number;
  readonly maxBatchSize: number;
  readonly batchTimeout: number;
  /** `undefined` means 80% of `eventBufferSize`. */
  readonly backpressureThreshold: number | undefined;
  readonly maxBackpressureWait: number;
  readonly startupTimeout: number;
  readonly shutdownTimeout: number;
  readonly healthCheckInterval: number;
  readonly enableTelemetry: boolean;
  readonly telemetryInterval: number;
  readonly debugLogging: boolean;
  readonly restartBackoffBase: number;
  readonly restartBackoffMax: number;
}

/** The defaults (from DaemonEye's collector code). */
export const DEFAULT_COLLECTOR_SETTINGS: CollectorSettings = Object.freeze({
  componentName: 'collector-core',
  maxEventSources: 16,
  eventBufferSize: 10_000,
  maxBatchSize: 1000,
  batchTimeout: 100,
  backpressureThreshold: undefined,
  maxBackpressureWait: 500,
  startupTimeout: 10_000,
  shutdownTimeout: 30_000,
  healthCheckInterval: 60_000,
  enableTelemetry: true,
  telemetryInterval: 30_000,
  debugLogging: false,
  restartBackoffBase: 1000,
  restartBackoffMax: 60_000,
});

type Key = keyof CollectorSettings;

/** Configuration-file key (snake_case) of each setting. */
export const SETTING_KEYS: Readonly<Record<Key, string>> = {
  componentName: 'component_name',
  maxEventSources: 'max_event_sources',
  eventBufferSize: 'event_buffer_size',
  maxBatchSize: 'max_batch_size',
  batchTimeout: 'batch_timeout',
  backpressureThreshold: 'backpressure_threshold',
  maxBackpressureWait: 'max_backpressure_wait',
  startupTimeout: 'startup_timeout',
  shutdownTimeout: 'shutdown_timeout',
  healthCheckInterval: 'health_check_interval',
  enableTelemetry: 'enable_telemetry',
  telemetryInterval: 'telemetry_interval',
  debugLogging: 'debug_logging',
  restartBackoffBase: 'restart_backoff_base',
  restartBackoffMax: 'restart_backoff_max',
};

const POSITIVE_INTEGERS: readonly Key[] = [
  'maxEventSources',
  'eventBufferSize',
  'maxBatchSize',
  'batchTimeout',
  'maxBackpressureWait',
  'startupTimeout',
  'shutdownTimeout',
  'healthCheckInterval',
  'telemetryInterval',
  'restartBackoffBase',
  'restartBackoffMax',
];

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
    const v = this.#values;
    if (typeof v.componentName !== 'string' || v.componentName.trim() === '') {
      throw this.#problem('componentName', 'must be a non-empty string');
    }
    for (const key of POSITIVE_INTEGERS) {
      const n = v[key];
      if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) throw this.#problem(key, 'must be an integer > 0');
    }
    for (const key of ['enableTelemetry', 'debugLogging'] as const) {
      if (typeof v[key] !== 'boolean') throw this.#problem(key, 'must be true or false');
    }
    const threshold = v.backpressureThreshold ?? Math.max(1, Math.floor(v.eventBufferSize * 0.8));
    if (v.backpressureThreshold !== undefined) {
      if (!Number.isInteger(threshold) || threshold <= 0)
        throw this.#problem('backpressureThreshold', 'must be an integer > 0');
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
