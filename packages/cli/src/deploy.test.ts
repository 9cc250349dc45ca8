import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { schemaFields } from '@daemoneye/core';
import { describe, expect, it } from 'vitest';
import { BIN } from './__test__/built-command.ts';
import { main } from './main.ts';
import { stdoutSinkDefinition } from './output-sink.ts';
import { cliConfigSchema, DEFAULT_PLUGINS } from './schema.ts';

const deploy = (name: string): string => fileURLToPath(new URL(`../../../docs/deploy/${name}`, import.meta.url));

function capture() {
  const out = new PassThrough();
  const err = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (d: Buffer) => {
    o += d.toString();
  });
  err.on('data', (d: Buffer) => {
    e += d.toString();
  });
  return { io: { stdout: out, stderr: err, env: {} }, out: () => o, err: () => e };
}

describe('docs/deploy/collector.toml', () => {
  it('is what `config --sample` prints (regenerate it with that command when a plug-in changes)', async () => {
    const c = capture();
    expect(await main(['config', '--sample'], c.io, DEFAULT_PLUGINS)).toBe(0);
    expect(readFileSync(deploy('collector.toml'), 'utf8')).toBe(c.out());
  });

  it('names every option; uncommented, it loads and sets each one to its default', async () => {
    const text = readFileSync(deploy('collector.toml'), 'utf8');
    const uncommented = text.replace(/^# ([a-z_]+ = .*)$/gm, '$1');
    const file = join(mkdtempSync(join(tmpdir(), 'de-sample-')), 'collector.toml');
    writeFileSync(file, uncommented);
    const c = capture();
    expect(await main(['config', '--system-config', file, '--json'], c.io, DEFAULT_PLUGINS)).toBe(0);
    const entries = (JSON.parse(c.out()) as { entries: { key: string; value: unknown; layer: string }[] }).entries;
    const schema = cliConfigSchema([...DEFAULT_PLUGINS, stdoutSinkDefinition(new PassThrough())], {}, 0);
    const fields = schemaFields(schema);
    const withDefault = fields.filter(([, f]) => f.default !== undefined).map(([p]) => p);
    expect(
      entries
        .filter((e) => e.layer === 'system')
        .map((e) => e.key)
        .sort(),
    ).toEqual([...withDefault].sort());
    for (const [path, f] of fields) {
      const e = entries.find((x) => x.key === path);
      if (f.default === undefined) {
        expect(text, path).toContain(`#   ${path.split('.').at(-1)}: no default`);
        expect(e?.layer, path).toBe('default');
      } else {
        expect(e?.value, path).toEqual(f.default);
      }
    }
  });
});

describe('docs/deploy/daemoneye-collector.service', () => {
  const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  const available = analyze.status === 0;
  if (!available) console.log('skipping systemd-analyze verify: systemd-analyze is not installed on this host');

  it.skipIf(!available)('passes systemd-analyze verify (with ExecStart pointing at the built command)', () => {
    const unit = readFileSync(deploy('daemoneye-collector.service'), 'utf8');
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/daemoneye-collector run /m);
    const dir = mkdtempSync(join(tmpdir(), 'de-unit-'));
    const path = join(dir, 'daemoneye-collector.service');
    writeFileSync(path, unit.replace('/usr/bin/daemoneye-collector', `${process.execPath} ${BIN}`));
    const r = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const security = spawnSync('systemd-analyze', ['security', '--offline=yes', path], { encoding: 'utf8' });
    // The hardening is real: systemd rates the unit's exposure below "UNSAFE" (9.0 and over).
    const score = Number(/Overall exposure level for .*: (\d+\.\d+)/.exec(security.stdout + security.stderr)?.[1]);
    expect(score).toBeLessThan(7);
  });
});
