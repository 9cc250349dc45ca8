// Generates a source in a temporary copy of the repository (its root configuration, core and this
// tool), installs, builds, type-checks, lints and tests it there, as a contributor would.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { namesOf } from './run.mjs';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const copy = mkdtempSync(join(tmpdir(), 'de-create-source-'));
afterAll(() => rmSync(copy, { recursive: true, force: true }));

function sh(cmd, args, cwd = copy) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, CI: '1' }, timeout: 300_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('pnpm create-source NAME', () => {
  it('scaffolds a package that installs, builds, passes lint and its tests at once', () => {
    for (const f of [
      'package.json',
      'tsconfig.base.json',
      'tsconfig.json',
      'biome.json',
      'vitest.config.ts',
      'turbo.json',
      'README.md',
      '.gitignore',
    ]) {
      cpSync(join(repo, f), join(copy, f));
    }
    cpSync(join(repo, 'tools/create-source'), join(copy, 'tools/create-source'), { recursive: true });
    cpSync(join(repo, 'packages/core'), join(copy, 'packages/core'), {
      recursive: true,
      filter: (src) => !src.includes('node_modules'),
    });
    // Only what the copy holds: the workspace and the project references shrink to core.
    const ws = 'packages:\n  - packages/*\n';
    spawnSync('sh', ['-c', `printf '${ws}' > pnpm-workspace.yaml`], { cwd: copy });
    const tsconfig = JSON.parse(readFileSync(join(copy, 'tsconfig.json'), 'utf8'));
    tsconfig.references = [{ path: 'packages/core' }];
    spawnSync(
      'node',
      [
        '-e',
        `require('fs').writeFileSync('tsconfig.json', ${JSON.stringify(JSON.stringify(tsconfig, null, 2))} + '\\n')`,
      ],
      { cwd: copy },
    );

    const made = sh('node', [
      'tools/create-source/run.mjs',
      'usb-devices',
      '--description',
      'USB devices: plugged in and removed',
    ]);
    expect(made.status, made.out).toBe(0);
    expect(made.out).toContain(
      'created packages/source-usb-devices (@daemoneye/source-usb-devices, section [sources.usb_devices])',
    );
    const dir = join(copy, 'packages/source-usb-devices');
    for (const f of [
      'package.json',
      'tsconfig.json',
      'tsconfig.test.json',
      'README.md',
      'src/index.ts',
      'src/definition.ts',
      'src/usb-devices-event-source.ts',
      'src/usb-devices-event-source.test.ts',
    ]) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    // Registered beside the others: a project reference, a row in the package table before the command's.
    expect(JSON.parse(readFileSync(join(copy, 'tsconfig.json'), 'utf8')).references).toEqual([
      { path: 'packages/core' },
      { path: 'packages/source-usb-devices' },
    ]);
    expect(readFileSync(join(copy, 'README.md'), 'utf8')).toContain(
      '| [`@daemoneye/source-usb-devices`](packages/source-usb-devices) | USB devices: plugged in and removed |\n| [`@daemoneye/cli`]',
    );
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    for (const section of [
      'What it is',
      'Install',
      'Usage',
      'Options',
      'Events emitted',
      'Capabilities',
      'Platform support',
      'Errors',
    ]) {
      expect(readme).toContain(`\n## ${section}\n`);
    }
    // A second run refuses to overwrite it.
    expect(sh('node', ['tools/create-source/run.mjs', 'usb-devices']).status).toBe(1);

    const pnpm = ['--yes', 'pnpm@12.4.2'];
    // From the store when it holds everything; the registry only for what a fresh machine lacks (pnpm's own metadata).
    const install = sh('npx', [...pnpm, 'install', '--prefer-offline']);
    expect(install.status, install.out).toBe(0);
    const build = sh('npx', ['tsc', '-b', 'packages/source-usb-devices']);
    expect(build.status, build.out).toBe(0);
    expect(existsSync(join(dir, 'dist/index.js'))).toBe(true);
    const types = sh('npx', ['tsc', '-p', 'packages/source-usb-devices/tsconfig.test.json']);
    expect(types.status, types.out).toBe(0);
    const lint = sh('npx', ['biome', 'check', 'packages/source-usb-devices']);
    expect(lint.status, lint.out).toBe(0);
    const test = sh('npx', ['vitest', 'run', '--project', 'source-usb-devices']);
    expect(test.status, test.out).toBe(0);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: vitest colours its summary.
    expect(test.out.replace(/\u001b\[[0-9;]*m/g, '')).toMatch(/Tests\s+3 passed \(3\)/);
    // The built package is importable by plain node, as every package must be.
    const imported = sh(
      'node',
      [
        '--input-type=module',
        '-e',
        "const m = await import('@daemoneye/source-usb-devices'); console.log(m.usbDevicesSourceDefinition.key, new m.UsbDevicesEventSource().name())",
      ],
      join(dir),
    );
    expect(imported.out.trim()).toBe('usb_devices usb-devices');
  }, 300_000);

  it('refuses a name that is not lowercase words joined by "-"', () => {
    expect(() => namesOf('USB')).toThrow(/NAME must be lowercase letters and digits/);
    expect(() => namesOf('a_b')).toThrow(/got "a_b"/);
    expect(namesOf('usb-devices')).toMatchObject({ key: 'usb_devices', pascal: 'UsbDevices', camel: 'usbDevices' });
  });
});
