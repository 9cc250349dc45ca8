/**
 * Hierarchical configuration loading. Layers, highest first: CLI flags, environment variables
 * (`DAEMONEYE_COLLECTOR_` prefix, `__` between nested keys), the user file
 * (`$XDG_CONFIG_HOME/daemoneye/collector.toml`), the system file (`/etc/daemoneye/collector.toml`),
 * and the schema's defaults. Every value keeps the layer and place it came from, so errors and the
 * `config` command can say where a value was set. Unknown keys and wrong types are errors that name
 * the file or variable and the key. It reads files and the environment it is given; it never writes.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { closest, distance } from 'fastest-levenshtein';
import { parse as parseToml, TomlError } from 'smol-toml';
import {
  type ConfigField,
  type ConfigSchema,
  type ConfigValue,
  coerceValue,
  formatValue,
  isField,
  schemaFields,
} from './config-schema.ts';
import { CollectorError } from './errors.ts';

/** The layers of configuration, lowest precedence first. `api` is a value set in code. */
export type ConfigLayer = 'default' | 'system' | 'user' | 'env' | 'flag' | 'api';

/** Where a value came from: its layer and the file, variable or flag that set it. */
export interface ValueOrigin {
  readonly layer: ConfigLayer;
  readonly source: string;
}

/** The environment variable prefix. */
export const ENV_PREFIX = 'DAEMONEYE_COLLECTOR_';

/** Default system and user file locations for an environment. */
export function defaultConfigPaths(env: Readonly<Record<string, string | undefined>> = process.env): {
  system: string;
  user: string;
} {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg !== undefined && xdg !== '' ? xdg : join(env.HOME ?? homedir(), '.config');
  return { system: '/etc/daemoneye/collector.toml', user: join(base, 'daemoneye', 'collector.toml') };
}

/** What to load. Files that do not exist are skipped unless marked `required`. */
export interface LoadConfigOptions {
  readonly schema: ConfigSchema;
  /** System file path; `null` skips the layer. Default `/etc/daemoneye/collector.toml`. */
  readonly systemFile?: string | null;
  /** User file path; `null` skips the layer. Default under `$XDG_CONFIG_HOME` (or `~/.config`). */
  readonly userFile?: string | null;
  /** When true the user file must exist (it was named explicitly, e.g. with `--config`). */
  readonly userFileRequired?: boolean;
  /** When true the system file must exist (it was named explicitly, e.g. with `--system-config`). */
  readonly systemFileRequired?: boolean;
  /** Environment to read; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Flag overrides as `dotted.key=value` strings (highest precedence). */
  readonly flags?: readonly string[];
  /** File reader (a port for tests); returns `undefined` when the file does not exist. */
  readonly readFile?: (path: string) => string | undefined;
}

/** A loaded configuration: values by dotted path with their origins. */
export interface LoadedConfig {
  readonly schema: ConfigSchema;
  /** The value at a dotted path (`undefined` when unset and without default). */
  get(path: string): ConfigValue | undefined;
  /** Where the value at a dotted path came from. */
  originOf(path: string): ValueOrigin;
  /** Every field, in schema order, with value, display form and origin. */
  entries(): {
    path: string;
    value: ConfigValue | undefined;
    display: string;
    origin: ValueOrigin;
    field: ConfigField;
  }[];
  /** A nested plain object of all set values (for JSON output). */
  toObject(): Record<string, unknown>;
  /** The files that were read, by layer. */
  readonly files: Readonly<Partial<Record<'system' | 'user', string>>>;
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CollectorError('ERR_CONFIG_PARSE', `cannot read configuration file ${path}: ${(e as Error).message}`, {
      cause: e,
      details: { file: path },
    });
  }
}

function invalid(path: string, raw: unknown, problem: string, origin: ValueOrigin): CollectorError {
  return new CollectorError(
    'ERR_CONFIG_INVALID',
    `${path} = ${JSON.stringify(typeof raw === 'bigint' ? Number(raw) : raw)} ${problem} (set by ${origin.layer} ${origin.source})`,
    { details: { field: path, value: raw, problem, layer: origin.layer, source: origin.source } },
  );
}

/** The known key nearest to `path` when it is close enough to be a slip (a typo, a missing letter). */
function suggestion(path: string, known: readonly string[]): string | undefined {
  if (known.length === 0) return undefined;
  const best = closest(path, [...known]);
  const d = distance(path, best);
  return d <= Math.max(2, Math.floor(best.length / 4)) ? best : undefined;
}

function unknownKey(path: string, origin: ValueOrigin, known: readonly string[]): CollectorError {
  const near = suggestion(path, known);
  return new CollectorError(
    'ERR_CONFIG_UNKNOWN_KEY',
    `unknown configuration key "${path}" in ${origin.layer} ${origin.source}${near !== undefined ? `; did you mean "${near}"?` : ''}`,
    {
      details: {
        field: path,
        layer: origin.layer,
        source: origin.source,
        ...(near !== undefined ? { suggestion: near } : {}),
      },
    },
  );
}

function walkToml(
  schema: ConfigSchema,
  table: Record<string, unknown>,
  prefix: string,
  origin: ValueOrigin,
  set: (path: string, f: ConfigField, raw: unknown, fromText: boolean, origin: ValueOrigin) => void,
  known: readonly string[],
): void {
  for (const [key, raw] of Object.entries(table)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const entry = Object.hasOwn(schema, key) ? schema[key] : undefined;
    if (entry === undefined) throw unknownKey(path, origin, known);
    if (isField(entry)) set(path, entry, raw, false, origin);
    else if (typeof raw === 'object' && raw !== null && !Array.isArray(raw) && !(raw instanceof Date)) {
      walkToml(entry, raw as Record<string, unknown>, path, origin, set, known);
    } else throw invalid(path, raw, 'must be a table (section)', origin);
  }
}

/** A TOML syntax error as one line with its place: `line 3, column 7: …`. */
function tomlProblem(e: unknown): { message: string; line?: number; column?: number } {
  const first = ((e as Error).message.split('\n')[0] ?? '').trim();
  if (e instanceof TomlError) {
    const text = first.replace(/^Invalid TOML document:\s*/i, '');
    return { message: `line ${e.line}, column ${e.column}: ${text}`, line: e.line, column: e.column };
  }
  return { message: first };
}

/**
 * Loads configuration from all layers. Throws `ERR_CONFIG_PARSE` for unreadable or malformed TOML,
 * `ERR_CONFIG_UNKNOWN_KEY` for a key the schema does not know, and `ERR_CONFIG_INVALID` for a value of
 * the wrong type or out of range — each naming the file, variable or flag, and the key.
 */
export function loadConfig(options: LoadConfigOptions): LoadedConfig {
  const { schema } = options;
  const env = options.env ?? process.env;
  const read = options.readFile ?? readIfExists;
  const fields = new Map(schemaFields(schema));
  const known = [...fields.keys()];
  const values = new Map<string, ConfigValue>();
  const origins = new Map<string, ValueOrigin>();
  for (const [path, f] of fields) {
    if (f.default !== undefined) values.set(path, f.default);
    origins.set(path, { layer: 'default', source: 'built-in default' });
  }
  const set = (path: string, f: ConfigField, raw: unknown, fromText: boolean, origin: ValueOrigin): void => {
    const c = coerceValue(f, raw, fromText);
    if (!c.ok) throw invalid(path, raw, c.problem, origin);
    values.set(path, c.value);
    origins.set(path, origin);
  };

  const defaults = defaultConfigPaths(env);
  const files: Partial<Record<'system' | 'user', string>> = {};
  for (const layer of ['system', 'user'] as const) {
    const given = layer === 'system' ? options.systemFile : options.userFile;
    if (given === null) continue;
    const path = given ?? defaults[layer];
    const text = read(path);
    if (text === undefined) {
      const required = layer === 'user' ? options.userFileRequired : options.systemFileRequired;
      if (required === true) {
        throw new CollectorError('ERR_CONFIG_PARSE', `configuration file ${path} does not exist`, {
          details: { file: path },
        });
      }
      continue;
    }
    let table: Record<string, unknown>;
    try {
      table = parseToml(text) as Record<string, unknown>;
    } catch (e) {
      const p = tomlProblem(e);
      throw new CollectorError('ERR_CONFIG_PARSE', `${path} is not valid TOML: ${p.message}`, {
        cause: e,
        details: {
          file: path,
          ...(p.line !== undefined ? { line: p.line } : {}),
          ...(p.column !== undefined ? { column: p.column } : {}),
        },
      });
    }
    files[layer] = path;
    walkToml(schema, table, '', { layer, source: path }, set, known);
  }

  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined) continue;
    const path = name.slice(ENV_PREFIX.length).toLowerCase().split('__').join('.');
    const origin: ValueOrigin = { layer: 'env', source: name };
    const f = fields.get(path);
    if (f === undefined) throw unknownKey(path, origin, known);
    set(path, f, raw, true, origin);
  }

  for (const flag of options.flags ?? []) {
    const eq = flag.indexOf('=');
    const origin: ValueOrigin = { layer: 'flag', source: `--set ${flag}` };
    if (eq <= 0) {
      throw new CollectorError('ERR_CONFIG_INVALID', `flag "--set ${flag}" must have the form key=value`, {
        details: { layer: 'flag', source: origin.source },
      });
    }
    const path = flag.slice(0, eq).trim().replace(/-/g, '_');
    const f = fields.get(path);
    if (f === undefined) throw unknownKey(path, origin, known);
    set(path, f, flag.slice(eq + 1), true, origin);
  }

  return {
    schema,
    files,
    get: (path) => values.get(path),
    originOf: (path) => origins.get(path) ?? { layer: 'default', source: 'built-in default' },
    entries: () =>
      [...fields].map(([path, f]) => {
        const value = values.get(path);
        return {
          path,
          value,
          display: formatValue(f, value),
          origin: origins.get(path) ?? { layer: 'default', source: 'built-in default' },
          field: f,
        };
      }),
    toObject: () => {
      const root: Record<string, unknown> = {};
      for (const [path, value] of values) {
        const parts = path.split('.');
        let node = root;
        for (const p of parts.slice(0, -1)) {
          node[p] ??= {};
          node = node[p] as Record<string, unknown>;
        }
        node[parts[parts.length - 1] as string] = value;
      }
      return root;
    },
  };
}
