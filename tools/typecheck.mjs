/**
 * What `pnpm typecheck` runs: `tsc -b` over the packages (their library sources), then `tsc -p
 * <config> --noEmit` over every configuration that covers code the build leaves out — each
 * package's tests (`packages/<name>/tsconfig.test.json`), `docs/examples` and the TypeScript under
 * `tools/` — so test files and examples are type-checked too. It reports every configuration's
 * errors, not only the first failing one, and ends with one line naming those that failed. It emits
 * nothing but the packages' build output.
 *
 *   node tools/typecheck.mjs
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

function configsUnder(group, file) {
  const base = path.join(ROOT, group);
  if (!existsSync(base)) return [];
  return readdirSync(base)
    .map((name) => path.join(group, name, file))
    .filter((config) => existsSync(path.join(ROOT, config)))
    .sort();
}

const configs = [
  ...configsUnder('packages', 'tsconfig.test.json'),
  ...(existsSync(path.join(ROOT, 'docs/examples/tsconfig.json')) ? ['docs/examples/tsconfig.json'] : []),
  ...configsUnder('tools', 'tsconfig.json'),
];

function tsc(label, args) {
  const r = spawnSync(process.execPath, [TSC, ...args], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) console.log(`typecheck: ${label} has type errors`);
  return r.status === 0;
}

const failed = [];
if (!tsc('tsc -b', ['-b'])) failed.push('tsc -b');
for (const config of configs) if (!tsc(config, ['-p', config, '--noEmit'])) failed.push(config);
console.log(
  failed.length === 0
    ? `typecheck: ok (tsc -b and ${configs.length} test and example configurations)`
    : `typecheck: FAIL in ${failed.join(', ')}`,
);
process.exit(failed.length === 0 ? 0 : 1);
