import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { ErrorCodes, formatValue, schemaFields } from '@daemoneye/core';
import { busErrors } from '@daemoneye/event-bus';
import { natsErrors } from '@daemoneye/forward-nats';
import { ipcErrors } from '@daemoneye/ipc';
import { NativeErrorCodes } from '@daemoneye/native';
import { networkErrors } from '@daemoneye/source-network';
import { perfErrors } from '@daemoneye/source-perf';
import { processErrors } from '@daemoneye/source-process';
import { storeErrors } from '@daemoneye/store-sqlite';
import { triggerErrors } from '@daemoneye/triggers';
import { describe, expect, it } from 'vitest';
import { cliErrors } from './errors.ts';
import { stdoutSinkDefinition } from './output-sink.ts';
import { cliConfigSchema, DEFAULT_PLUGINS } from './schema.ts';

const doc = (name: string): string => readFileSync(new URL(`../../../docs/${name}`, import.meta.url), 'utf8');

/** Rows of every table in `markdown` whose first cell is a back-quoted name: name → cells. */
function tableRows(markdown: string, section?: string): [string, string[]][] {
  let text = markdown;
  if (section !== undefined) {
    const at = text.indexOf(`\n## \`${section}\``);
    if (at < 0) return [];
    const next = text.indexOf('\n## ', at + 4);
    text = text.slice(at, next < 0 ? undefined : next);
  }
  const rows: [string, string[]][] = [];
  for (const line of text.split('\n')) {
    const m = /^\|\s*`([^`]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (m?.[1] !== undefined) rows.push([m[1], (m[2] ?? '').split(/(?<!\\)\|/).map((c) => c.trim())]);
  }
  return rows;
}

describe('docs/errors.md', () => {
  const markdown = doc('errors.md');
  it.each([
    ['@daemoneye/core', ErrorCodes],
    ['@daemoneye/native', NativeErrorCodes],
    ['@daemoneye/source-process', processErrors.codes],
    ['@daemoneye/source-network', networkErrors.codes],
    ['@daemoneye/source-perf', perfErrors.codes],
    ['@daemoneye/store-sqlite', storeErrors.codes],
    ['@daemoneye/event-bus', busErrors.codes],
    ['@daemoneye/triggers', triggerErrors.codes],
    ['@daemoneye/ipc', ipcErrors.codes],
    ['@daemoneye/forward-nats', natsErrors.codes],
    ['@daemoneye/cli', cliErrors.codes],
  ] as const)('lists every code of %s in its section, and no other', (pkg, codes) => {
    const documented = tableRows(markdown, pkg).map(([code]) => code);
    expect([...documented].sort()).toEqual([...codes].sort());
    expect(documented.length).toBe(new Set(documented).size);
  });

  it('lists no code twice across packages', () => {
    const all = [
      ...ErrorCodes,
      ...NativeErrorCodes,
      ...processErrors.codes,
      ...networkErrors.codes,
      ...perfErrors.codes,
      ...storeErrors.codes,
      ...busErrors.codes,
      ...triggerErrors.codes,
      ...ipcErrors.codes,
      ...natsErrors.codes,
      ...cliErrors.codes,
    ];
    expect(all.length).toBe(new Set(all).size);
  });
});

describe('docs/configuration.md', () => {
  const schema = cliConfigSchema([...DEFAULT_PLUGINS, stdoutSinkDefinition(new PassThrough())], {});
  const rows = new Map(tableRows(doc('configuration.md')).filter(([k]) => /^[a-z_.]+$/.test(k)));

  it('documents every key of the command and its plug-ins, with its default', () => {
    const fields = schemaFields(schema);
    for (const [path, field] of fields) {
      const row = rows.get(path);
      expect(row, `configuration.md has no row for ${path}`).toBeDefined();
      const cell = (row?.[1] ?? '').replace(/`/g, '');
      // data_dir's command default depends on who runs it; the library default is unset.
      if (field.default === undefined || path === 'data_dir') expect(cell, path).toMatch(/^unset/);
      else expect(cell.replace(/"/g, ''), path).toBe(formatValue(field, field.default).replace(/"/g, ''));
    }
  });

  it('documents no key the schema does not have', () => {
    const known = new Set(schemaFields(schema).map(([p]) => p));
    const stale = [...rows.keys()].filter((k) => k.includes('_') || k.includes('.')).filter((k) => !known.has(k));
    expect(stale).toEqual([]);
  });
});
