/**
 * The sample `collector.toml` with every option commented out (`daemoneye-collector config --sample`,
 * and `docs/deploy/collector.toml`), written from the same schema the command loads, so it names
 * every key of the installed plug-ins with its description, accepted values and default. Removing the
 * `# ` before a `key = value` line gives that key its default; options without a default are described
 * but have no such line. It renders; it does not read files.
 */
import { type ConfigField, type ConfigSchema, formatValue, isField } from '@daemoneye/core';

function tomlValue(f: ConfigField, value: unknown): string {
  if (f.type === 'duration' || (f.type === 'bytes' && formatValue(f, value as number) !== `${value}`)) {
    return JSON.stringify(formatValue(f, value as number));
  }
  return JSON.stringify(value);
}

function limits(f: ConfigField): string {
  const parts: string[] = [];
  if (f.values !== undefined) parts.push(`one of ${f.values.map((v) => JSON.stringify(v)).join(', ')}`);
  const bound = (n: number): string => (f.type === 'duration' || f.type === 'bytes' ? formatValue(f, n) : `${n}`);
  if (f.min !== undefined) parts.push(`at least ${bound(f.min)}`);
  if (f.max !== undefined) parts.push(`at most ${bound(f.max)}`);
  return parts.length === 0 ? '' : ` (${parts.join('; ')})`;
}

function fieldLines(key: string, f: ConfigField): string[] {
  const kind = f.type === 'bytes' ? 'size' : f.type;
  const out = [`# ${f.description}${limits(f)}. ${kind}.`];
  if (f.default === undefined) out.push(`#   ${key}: no default; unset unless you set it`);
  else out.push(`# ${key} = ${tomlValue(f, f.default)}`);
  return out;
}

function sectionLines(schema: ConfigSchema, path: string, out: string[]): void {
  const fields = Object.entries(schema).filter((e): e is [string, ConfigField] => isField(e[1]));
  if (fields.length > 0) {
    out.push('', `[${path}]`);
    for (const [k, f] of fields) out.push(...fieldLines(k, f));
  }
  for (const [k, v] of Object.entries(schema)) if (!isField(v)) sectionLines(v, `${path}.${k}`, out);
}

/** The commented sample file for `schema` (the command's whole schema). */
export function renderSampleConfig(schema: ConfigSchema): string {
  const out = [
    '# daemoneye-collector configuration: /etc/daemoneye/collector.toml',
    '#',
    '# Every option with its default, commented out. Remove the "# " before a "key = value" line and',
    '# change the value to set it. Precedence, highest first: command-line flags, DAEMONEYE_COLLECTOR_*',
    '# environment variables, the user file, this file, the defaults. `daemoneye-collector config` shows',
    '# the effective values and where each came from; `daemoneye-collector reload` applies a change to',
    '# a running collector. Written by `daemoneye-collector config --sample`.',
    '',
  ];
  for (const [k, v] of Object.entries(schema)) if (isField(v)) out.push(...fieldLines(k, v));
  for (const [k, v] of Object.entries(schema)) if (!isField(v)) sectionLines(v, k, out);
  return `${out.join('\n')}\n`;
}
