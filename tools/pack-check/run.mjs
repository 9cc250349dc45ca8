/**
 * Checks that the packages install and work the way a user gets them: packs every public package under
 * `packages/` with `pnpm pack` (which rewrites `workspace:` ranges), installs all the tarballs with
 * plain `npm install` into a new project under the system's temporary directory, then, in that
 * project, with plain `node`:
 *
 * - imports every entry point of every package and runs every executable with `--help`;
 * - runs the README's "Using the library" example, the seed's "Basic Collector Setup" and "Custom
 *   Event Source" (`project/*.mjs`), each printing `ok: …`;
 * - type-checks and compiles a third-party source with typed options (`project/ticker-source.ts`)
 *   with the repository's TypeScript, then runs it.
 *
 * Before packing, it checks that every package a built file imports is declared in that package's
 * `dependencies`, `peerDependencies` or `optionalDependencies` (npm's flat `node_modules` would hide
 * a missing one). It builds nothing (run `pnpm build` first), removes its temporary directory, and
 * ends with one line: `pack-check: ok …` (exit 0) or `pack-check: FAIL …` (exit 1).
 *
 *   node tools/pack-check/run.mjs [--keep]     (--keep leaves the temporary project in place)
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PROJECT_FILES = path.join(import.meta.dirname, 'project');
const keep = process.argv.includes('--keep');

class CheckFailure extends Error {}

/** A copy of the environment without what npm or pnpm set for the script running this check. */
function userEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(npm|pnpm)_/i.test(k) && k !== 'INIT_CWD' && k !== 'PNPM_SCRIPT_SRC_DIR') env[k] = v;
  }
  return env;
}

/**
 * Runs a command and returns its stdout; throws a CheckFailure naming `what` when it exits non-zero.
 * Its output is printed, indented, when `echo` is set or it failed.
 */
function run(what, command, args, cwd, echo = false) {
  const r = spawnSync(command, args, { cwd, env: userEnv(), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trimEnd();
  const failed = r.error !== undefined || r.status !== 0;
  if (output !== '' && (echo || failed)) console.log(output.replace(/^/gm, '    '));
  if (r.error !== undefined) throw new CheckFailure(`${what}: ${r.error.message}`);
  if (r.status !== 0) throw new CheckFailure(`${what}: exit ${r.status ?? r.signal}`);
  return r.stdout;
}

/** How to run pnpm: the pnpm running this script, else the root package.json's `packageManager`. */
function pnpmCommand() {
  if (process.env.npm_execpath && /^pnpm\//.test(process.env.npm_config_user_agent ?? '')) {
    return [process.env.npm_execpath, []];
  }
  const { packageManager } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  return ['npx', ['--yes', packageManager]];
}

function publicPackages() {
  const base = path.join(ROOT, 'packages');
  return readdirSync(base)
    .map((name) => path.join(base, name))
    .filter((dir) => existsSync(path.join(dir, 'package.json')))
    .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) }))
    .filter((p) => p.manifest.private !== true);
}

function listFiles(dir, keepFile) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile() && keepFile(d.name))
    .map((d) => path.join(d.parentPath, d.name));
}

const BUILTINS = new Set(builtinModules);
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"]+)\1/g;

/** The package name of a bare import specifier (`@scope/name/sub` → `@scope/name`), else undefined. */
function bareName(specifier) {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return undefined;
  if (specifier.startsWith('#')) return undefined;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  return BUILTINS.has(name) ? undefined : name;
}

/** Every package a built file imports must be declared, or the installed package cannot find it. */
function checkDeclaredDependencies({ dir, manifest }) {
  const declared = new Set([
    manifest.name,
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
    ...Object.keys(manifest.optionalDependencies ?? {}),
  ]);
  const files = listFiles(path.join(dir, 'dist'), (n) => n.endsWith('.js'));
  if (files.length === 0) throw new CheckFailure(`${manifest.name} has no built files in dist/: run pnpm build first`);
  const missing = new Set();
  for (const file of files) {
    for (const m of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
      const name = bareName(m[2]);
      if (name !== undefined && !declared.has(name)) missing.add(`${name} (${path.relative(dir, file)})`);
    }
  }
  if (missing.size > 0) {
    throw new CheckFailure(
      `${manifest.name} imports packages its package.json does not declare: ${[...missing].join(', ')}`,
    );
  }
}

/** Every string target of an exports map (conditions flattened), with its subpath. */
function exportTargets(exports) {
  const out = [];
  const walk = (subpath, entry) => {
    if (typeof entry === 'string') out.push({ subpath, target: entry });
    else if (Array.isArray(entry)) for (const e of entry) walk(subpath, e);
    else if (entry !== null && typeof entry === 'object') for (const v of Object.values(entry)) walk(subpath, v);
  };
  if (typeof exports === 'string' || Array.isArray(exports)) walk('.', exports);
  else if (exports !== null && typeof exports === 'object') {
    const keys = Object.keys(exports);
    if (keys.every((k) => !k.startsWith('.'))) walk('.', exports);
    else for (const k of keys) walk(k, exports[k]);
  }
  return out;
}

/** In the installed project: every exported file exists, every entry imports, every bin runs. */
function checkInstalled(project, name) {
  const installed = path.join(project, 'node_modules', ...name.split('/'));
  const manifestPath = path.join(installed, 'package.json');
  if (!existsSync(manifestPath))
    throw new CheckFailure(`${name} is not in the project's node_modules after npm install`);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  for (const [range, deps] of [
    ['dependencies', manifest.dependencies],
    ['peerDependencies', manifest.peerDependencies],
  ]) {
    for (const [dep, spec] of Object.entries(deps ?? {})) {
      if (/^(workspace|link|file):/.test(spec))
        throw new CheckFailure(`${name} ${range} has ${dep}@${spec} in its tarball`);
    }
  }
  const targets = exportTargets(manifest.exports);
  if (targets.length === 0) throw new CheckFailure(`${name} has no exports map`);
  for (const { subpath, target } of targets) {
    if (target.includes('*')) continue;
    if (!existsSync(path.join(installed, target))) {
      throw new CheckFailure(`${name} exports "${subpath}" → ${target}, which is not in the tarball`);
    }
  }
  const entries = [...new Set(targets.map((t) => t.subpath))].filter((s) => !s.includes('*') && s !== './package.json');
  for (const subpath of entries) {
    const specifier = subpath === '.' ? name : `${name}/${subpath.slice(2)}`;
    run(
      `import('${specifier}')`,
      process.execPath,
      ['--input-type=module', '-e', `await import('${specifier}');`],
      project,
    );
  }
  const bins = typeof manifest.bin === 'string' ? { [name.split('/').pop()]: manifest.bin } : (manifest.bin ?? {});
  for (const bin of Object.keys(bins)) {
    const stdout = run(`${bin} --help`, path.join(project, 'node_modules', '.bin', bin), ['--help'], project);
    if (!/usage/i.test(stdout)) throw new CheckFailure(`${bin} --help printed no usage`);
  }
  return entries.length;
}

/** Runs one example with node; it must exit 0 with an `ok:` line. */
function runExample(project, file) {
  const stdout = run(`example ${file}`, process.execPath, [file], project, true);
  if (!/^ok: /m.test(stdout)) throw new CheckFailure(`example ${file} printed no "ok:" line`);
}

function main(temp) {
  const packages = publicPackages();
  if (packages.length === 0) throw new CheckFailure('no public package under packages/');
  for (const p of packages) checkDeclaredDependencies(p);

  const tarballs = path.join(temp, 'tarballs');
  mkdirSync(tarballs);
  const [pnpm, pnpmArgs] = pnpmCommand();
  for (const { dir, manifest } of packages) {
    console.log(`pack-check: packing ${manifest.name}`);
    run(`pnpm pack ${manifest.name}`, pnpm, [...pnpmArgs, 'pack', '--pack-destination', tarballs], dir);
  }
  const files = readdirSync(tarballs)
    .filter((f) => f.endsWith('.tgz'))
    .map((f) => path.join(tarballs, f));
  if (files.length !== packages.length)
    throw new CheckFailure(`${packages.length} packages packed into ${files.length} tarballs`);

  const project = path.join(temp, 'project');
  mkdirSync(project);
  writeFileSync(
    path.join(project, 'package.json'),
    `${JSON.stringify({ name: 'pack-check-project', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
  );
  console.log(`pack-check: npm install ${files.map((f) => path.basename(f)).join(' ')}`);
  run('npm install', 'npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...files], project);

  let entryPoints = 0;
  for (const { manifest } of packages) entryPoints += checkInstalled(project, manifest.name);
  console.log(`pack-check: ${entryPoints} entry points of ${packages.length} packages import with plain node`);

  cpSync(PROJECT_FILES, project, { recursive: true });
  for (const example of ['readme-example.mjs', 'basic-collector.mjs', 'custom-source.mjs'])
    runExample(project, example);

  writeFileSync(
    path.join(project, 'tsconfig.json'),
    `${JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2023',
          lib: ['ES2023', 'ESNext.Disposable'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          outDir: 'out',
          typeRoots: [path.join(ROOT, 'node_modules', '@types')],
          types: ['node'],
        },
        files: ['ticker-source.ts'],
      },
      null,
      2,
    )}\n`,
  );
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  run('tsc (ticker-source.ts)', process.execPath, [tsc, '-p', 'tsconfig.json'], project, true);
  runExample(project, path.join('out', 'ticker-source.js'));
  return `${packages.length} packages packed, installed with npm and imported; 4 examples ran`;
}

const temp = mkdtempSync(path.join(tmpdir(), 'daemoneye-pack-check-'));
let result;
try {
  result = `ok: ${main(temp)}`;
} catch (e) {
  result = `FAIL: ${e instanceof CheckFailure ? e.message : (e?.stack ?? e)}`;
} finally {
  if (keep) console.log(`pack-check: kept ${temp}`);
  else rmSync(temp, { recursive: true, force: true });
}
console.log(`pack-check: ${result}`);
process.exit(result.startsWith('ok: ') ? 0 : 1);
