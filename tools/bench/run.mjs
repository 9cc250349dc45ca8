/**
 * Runs every benchmark of the repository, one after the other, each in its own
 * `node --expose-gc` process with its output streamed: `tools/bench/*.mjs` (except this runner) and
 * `packages/<name>/bench/*.bench.mjs`. Benchmarks import the built packages, so build first
 * (`pnpm bench` does). It only discovers and runs; each benchmark prints its own table and writes
 * its own JSON under `bench-results/`.
 *
 *   node tools/bench/run.mjs [--quick] [name-filter ...]     (BENCH_QUICK=1 is the same as --quick)
 *
 * A filter keeps the benchmarks whose path contains it. Exits non-zero if any benchmark failed.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SELF = path.basename(import.meta.filename);

const args = process.argv.slice(2);
const quick = args.includes('--quick') || process.env.BENCH_QUICK === '1';
const filters = args.filter((a) => !a.startsWith('--'));

function listFiles(dir, keep) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isFile() && keep(d.name))
    .map((d) => path.join(dir, d.name))
    .sort();
}

function discover() {
  const tools = listFiles(path.join(ROOT, 'tools', 'bench'), (n) => n.endsWith('.mjs') && n !== SELF);
  const packagesDir = path.join(ROOT, 'packages');
  const packages = existsSync(packagesDir)
    ? readdirSync(packagesDir, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
        .sort()
        .flatMap((name) => listFiles(path.join(packagesDir, name, 'bench'), (n) => n.endsWith('.bench.mjs')))
    : [];
  const all = [...tools, ...packages].map((f) => path.relative(ROOT, f));
  return filters.length === 0 ? all : all.filter((f) => filters.some((q) => f.includes(q)));
}

function runOne(file) {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--expose-gc', file, ...(quick ? ['--quick'] : [])], {
      cwd: ROOT,
      stdio: 'inherit',
      env: { ...process.env, ...(quick ? { BENCH_QUICK: '1' } : {}) },
    });
    child.on('error', (err) => resolve({ file, code: 1, signal: null, error: err.message, seconds: 0 }));
    child.on('exit', (code, signal) =>
      resolve({ file, code: code ?? 1, signal, seconds: (performance.now() - started) / 1000 }),
    );
  });
}

const files = discover();
if (files.length === 0) {
  console.error(filters.length > 0 ? `no benchmark matches ${filters.join(', ')}` : 'no benchmarks found');
  process.exit(1);
}
console.log(`running ${files.length} benchmark(s)${quick ? ' (quick)' : ''}: ${files.join(', ')}\n`);

const outcomes = [];
for (const file of files) {
  console.log(`=== ${file}`);
  const outcome = await runOne(file);
  outcomes.push(outcome);
  console.log('');
}

console.log('=== summary');
for (const o of outcomes) {
  const status = o.code === 0 ? 'ok' : `FAILED (${o.signal ?? `exit ${o.code}`}${o.error ? `: ${o.error}` : ''})`;
  console.log(`${o.file.padEnd(60)} ${status.padEnd(16)} ${o.seconds.toFixed(1)} s`);
}
if (outcomes.some((o) => o.code !== 0)) process.exitCode = 1;
