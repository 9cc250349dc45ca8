/**
 * Configuration schemas: each configurable value is a typed field with a default and a description,
 * grouped in nested sections that mirror the TOML file. Packages publish their own section (the
 * collector's is `collectorConfigSchema`); the CLI composes them. This module also coerces a raw value
 * from TOML or an environment string into a field's type, with an error message that names the field.
 * It does not read files or the environment (see `config-loader.ts`).
 */
import { formatDuration, parseByteSize, parseDuration } from './duration.ts';

/** The kinds of value a field holds. Durations are milliseconds, sizes are bytes. */
export type FieldType =
  | 'integer'
  | 'number'
  | 'duration'
  | 'bytes'
  | 'boolean'
  | 'string'
  | 'string[]'
  | 'enum'
  | 'table[]';

/**
 * One table of a `table[]` field (a TOML `[[name]]` entry): its keys as written, values as TOML gave
 * them (integers as numbers, dates as ISO strings). What a table may hold is for its consumer to check.
 */
export type ConfigTable = Readonly<Record<string, unknown>>;

/** A value a configuration field can hold. */
export type ConfigValue = number | boolean | string | readonly string[] | readonly ConfigTable[];

/** The TypeScript type of a field type's values (`enum` fields narrow it to their values). */
export type FieldValue<T extends FieldType> = T extends 'integer' | 'number' | 'duration' | 'bytes'
  ? number
  : T extends 'boolean'
    ? boolean
    : T extends 'string[]'
      ? readonly string[]
      : T extends 'table[]'
        ? readonly ConfigTable[]
        : string;

/**
 * One configurable value. `V` is the TypeScript type of its value and `D` the type of its default
 * (`undefined` when the field has none, so its value may be absent).
 */
export interface ConfigField<T extends FieldType = FieldType, V = ConfigValue, D = V | undefined> {
  readonly kind: 'field';
  readonly type: T;
  /** The built-in default; `undefined` means the value is derived or absent unless set. */
  readonly default: D;
  readonly description: string;
  /** Smallest accepted value for numeric types (inclusive). */
  readonly min?: number;
  /** Largest accepted value for numeric types (inclusive). */
  readonly max?: number;
  /** Accepted values for `enum` fields. */
  readonly values?: V extends string ? readonly V[] : readonly string[];
  /** Phantom marker of the value type; never set at run time. */
  readonly __value?: V;
}

/** A section of fields and nested sections, keyed as in the TOML file (snake_case). */
export interface ConfigSchema {
  readonly [key: string]: ConfigField | ConfigSchema;
}

/** Limits of a field: bounds for numbers, the accepted values of an enum. */
export interface FieldLimits<E extends string = string> {
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly E[];
}

/**
 * Declares a field, once: its type, default, description and limits. Everything else (file keys,
 * validation, typed plugin options, the `config` command, the documentation check) derives from it.
 * An `enum` field's value type is the union of its `values`.
 */
export function field<const T extends FieldType, const E extends string = string, const D = undefined>(
  type: T,
  defaultValue: D & (T extends 'enum' ? NoInfer<E> | undefined : FieldValue<T> | undefined),
  description: string,
  limits: FieldLimits<E> = {},
): ConfigField<T, T extends 'enum' ? E : FieldValue<T>, D> {
  return { kind: 'field', type, default: defaultValue, description, ...limits } as ConfigField<
    T,
    T extends 'enum' ? E : FieldValue<T>,
    D
  >;
}

type CamelCase<S extends string> = S extends `${infer H}_${infer T}` ? `${H}${Capitalize<CamelCase<T>>}` : S;

/** The camelCase form of a snake_case key (`scan_interval` → `scanInterval`). */
export function camelCaseKey(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The typed value of one field: its value type, or that or `undefined` when it has no default. */
export type FieldOption<F> =
  F extends ConfigField<FieldType, infer V, infer D> ? (undefined extends D ? V | undefined : V) : never;

/**
 * The typed options a schema describes, keyed in camelCase: `{ scan_interval: field('duration', …) }`
 * becomes `{ scanInterval: number }`; nested sections become nested objects.
 */
export type OptionsOf<S> = {
  readonly [K in keyof S & string as CamelCase<K>]: S[K] extends ConfigField ? FieldOption<S[K]> : OptionsOf<S[K]>;
};

/** True when a schema entry is a field rather than a section. */
export function isField(entry: ConfigField | ConfigSchema): entry is ConfigField {
  return (entry as { kind?: unknown }).kind === 'field' && typeof (entry as { type?: unknown }).type === 'string';
}

/** Every field of a schema with its dotted path (`sources.process.scan_interval`). */
export function schemaFields(schema: ConfigSchema, prefix = ''): [string, ConfigField][] {
  const out: [string, ConfigField][] = [];
  for (const [k, v] of Object.entries(schema)) {
    const path = prefix === '' ? k : `${prefix}.${k}`;
    if (isField(v)) out.push([path, v]);
    else out.push(...schemaFields(v, path));
  }
  return out;
}

/** The result of coercing a raw value: the typed value, or a message saying what is wrong. */
export type Coerced =
  | { readonly ok: true; readonly value: ConfigValue }
  | { readonly ok: false; readonly problem: string };

function numeric(f: ConfigField, n: number): Coerced {
  if (!Number.isFinite(n)) return { ok: false, problem: 'is not a finite number' };
  if (f.type !== 'number' && !Number.isInteger(n)) return { ok: false, problem: 'must be a whole number' };
  if (f.min !== undefined && n < f.min) return { ok: false, problem: `must be at least ${f.min}` };
  if (f.max !== undefined && n > f.max) return { ok: false, problem: `must be at most ${f.max}` };
  return { ok: true, value: n };
}

/** A TOML value made plain: integers as numbers, dates as ISO strings, nested tables and arrays alike. */
function plainValue(v: unknown): { ok: true; value: unknown } | { ok: false; problem: string } {
  if (typeof v === 'bigint') {
    return Number.isSafeInteger(Number(v))
      ? { ok: true, value: Number(v) }
      : { ok: false, problem: `holds the integer ${v}, beyond what a number holds exactly` };
  }
  if (v instanceof Date) return { ok: true, value: v.toISOString() };
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    for (const x of v) {
      const c = plainValue(x);
      if (!c.ok) return c;
      out.push(c.value);
    }
    return { ok: true, value: out };
  }
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const c = plainValue(x);
      if (!c.ok) return c;
      out[k] = c.value;
    }
    return { ok: true, value: out };
  }
  return { ok: true, value: v };
}

function tables(raw: unknown, fromText: boolean): Coerced {
  let value = raw;
  if (fromText && typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      return { ok: false, problem: 'must be a JSON array of objects' };
    }
  }
  const isTable = (t: unknown) => typeof t === 'object' && t !== null && !Array.isArray(t) && !(t instanceof Date);
  if (!Array.isArray(value) || !value.every(isTable)) {
    return { ok: false, problem: fromText ? 'must be a JSON array of objects' : 'must be an array of tables ([[…]])' };
  }
  const c = plainValue(value);
  return c.ok ? { ok: true, value: c.value as ConfigTable[] } : c;
}

/**
 * Coerces `raw` (a TOML value, or a string from the environment or a flag when `fromText` is true)
 * into the field's type, checking limits.
 */
export function coerceValue(f: ConfigField, raw: unknown, fromText: boolean): Coerced {
  switch (f.type) {
    case 'integer':
    case 'number': {
      if (typeof raw === 'bigint') return numeric(f, Number(raw));
      if (typeof raw === 'number') return numeric(f, raw);
      if (fromText && typeof raw === 'string' && /^-?\d+(\.\d+)?$/.test(raw.trim())) return numeric(f, Number(raw));
      return { ok: false, problem: `must be ${f.type === 'integer' ? 'an integer' : 'a number'}` };
    }
    case 'duration':
    case 'bytes': {
      const parse = f.type === 'duration' ? parseDuration : parseByteSize;
      if (typeof raw === 'number' || typeof raw === 'bigint') return numeric(f, Number(raw));
      if (typeof raw === 'string') {
        const n = parse(raw);
        if (n !== undefined) return numeric(f, n);
      }
      return {
        ok: false,
        problem:
          f.type === 'duration'
            ? 'must be a duration such as "100ms", "5s" or a number of milliseconds'
            : 'must be a size such as "32MiB" or a number of bytes',
      };
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return { ok: true, value: raw };
      if (fromText && typeof raw === 'string') {
        const t = raw.trim().toLowerCase();
        if (['true', '1', 'yes', 'on'].includes(t)) return { ok: true, value: true };
        if (['false', '0', 'no', 'off'].includes(t)) return { ok: true, value: false };
      }
      return { ok: false, problem: 'must be true or false' };
    }
    case 'string':
      return typeof raw === 'string' ? { ok: true, value: raw } : { ok: false, problem: 'must be a string' };
    case 'enum': {
      const values = f.values ?? [];
      return typeof raw === 'string' && values.includes(raw)
        ? { ok: true, value: raw }
        : { ok: false, problem: `must be one of ${values.map((v) => `"${v}"`).join(', ')}` };
    }
    case 'string[]': {
      if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) return { ok: true, value: raw as string[] };
      if (fromText && typeof raw === 'string') {
        return {
          ok: true,
          value: raw
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s.length > 0),
        };
      }
      return { ok: false, problem: 'must be a list of strings' };
    }
    case 'table[]':
      return tables(raw, fromText);
  }
}

/** Renders a value for display, in the unit of its field (`100ms`, `32MiB`, `["a","b"]`). */
export function formatValue(f: ConfigField, value: ConfigValue | undefined): string {
  if (value === undefined) return '(unset)';
  if (f.type === 'duration' && typeof value === 'number') return formatDuration(value);
  if (f.type === 'bytes' && typeof value === 'number') {
    for (const [u, m] of [
      ['GiB', 1024 ** 3],
      ['MiB', 1024 ** 2],
      ['KiB', 1024],
    ] as const) {
      if (value >= m && value % m === 0) return `${value / m}${u}`;
    }
    return `${value}`;
  }
  return JSON.stringify(value);
}

/** The collector runtime's own fields, at the top level of the configuration file. */
export const collectorConfigSchema = {
  component_name: field('string', 'collector-core', 'Name reported in logs, health and telemetry'),
  max_event_sources: field('integer', 16, 'Most sources one collector accepts', { min: 1 }),
  event_buffer_size: field('integer', 10_000, 'Capacity of the bounded event channel', { min: 1 }),
  max_batch_size: field('integer', 1000, 'Largest batch handed to sinks', { min: 1 }),
  batch_timeout: field('duration', 100, 'Longest an event waits for its batch to fill', { min: 1 }),
  backpressure_threshold: field(
    'integer',
    undefined,
    'Channel depth at which send() starts waiting (default 80% of event_buffer_size)',
    { min: 1 },
  ),
  max_backpressure_wait: field('duration', 500, 'Longest send() waits under backpressure before dropping', { min: 1 }),
  startup_timeout: field('duration', 10_000, 'Longest a source may take to become ready', { min: 1 }),
  shutdown_timeout: field('duration', 30_000, 'Longest a graceful shutdown may take', { min: 1 }),
  health_check_interval: field('duration', 60_000, 'How often each source and sink is health-checked', { min: 1 }),
  enable_telemetry: field('boolean', true, 'Sample own CPU, RSS and event-loop delay'),
  telemetry_interval: field('duration', 30_000, 'How often telemetry is sampled and logged', { min: 1 }),
  debug_logging: field('boolean', false, 'Log at debug level'),
  restart_backoff_base: field('duration', 1000, 'First delay before restarting a failed source', { min: 1 }),
  restart_backoff_max: field('duration', 60_000, 'Longest delay between source restarts', { min: 1 }),
  data_dir: field(
    'string',
    undefined,
    'Directory for the collector state (the sequence high-water mark); unset keeps sequence numbers per run',
  ),
  derived_lane_capacity: field('integer', 1000, 'Derived events (from processors) waiting for a batch at most', {
    min: 1,
  }),
  max_derivation_depth: field('integer', 4, 'Longest chain of derived events from one source event', {
    min: 1,
    max: 64,
  }),
} as const satisfies ConfigSchema;

/** The value of every field that has a default, keyed in camelCase (sections nested). */
export function schemaDefaults<S extends ConfigSchema>(schema: S): OptionsOf<S> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    const key = camelCaseKey(k);
    if (isField(v)) out[key] = v.default;
    else out[key] = schemaDefaults(v);
  }
  return out as OptionsOf<S>;
}
