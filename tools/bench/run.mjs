/**
 * Runs every benchmark of the repository, one after the other, each in its own
 * `node --expose-gc` process with its output streamed: `tools/bench/*.mjs` (except this runner) and
 * `packages/<name>/bench/*.bench.mjs`. Benchmarks import the built packages, so build first
 * (`pnpm bench` does). Each benchmark prints its own tables (every figure beside its comparison,
 * measured in the same run) and writes its own JSON under `bench-results/`; this runner prints a
 * progress line per benchmark and, at the end, writes the report: `bench/results/latest.json` (the
 * machine, each benchmark's outcome and duration, and the JSON it wrote) and `bench/results/latest.md`
 * (the machine, a summary, and each benchmark's tables).
 *
 *   node tools/bench/run.mjs [--quick] [name-filter ...]     (BENCH_QUICK=1 is the same as --quick)
 *
 * BENCH_REPORT_DIR puts the report elsewhere than `bench/results/`.
 *
 * A filter keeps the benchmarks whose path contains it. Exits non-zero if any benchmark failed.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

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

/** The workspace's package directories, sorted. */
function packageDirs() {
  const packagesDir = path.join(ROOT, 'packages');
  if (!existsSync(packagesDir)) return [];
  return readdirSync(packagesDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => path.join(packagesDir, d.name))
    .sort();
}

function discover() {
  const isBench = (n) => n.endsWith('.bench.mjs');
  const tools = listFiles(path.join(ROOT, 'tools', 'bench'), isBench);
  const packages = packageDirs().flatMap((dir) => listFiles(path.join(dir, 'bench'), isBench));
  const all = [...tools, ...packages].map((f) => path.relative(ROOT, f));
  return filters.length === 0 ? all : all.filter((f) => filters.some((q) => f.includes(q)));
}

/** JSON files in `bench-results/` (where every benchmark writes, through results.mjs) written at or after `sinceMs`. */
function resultsSince(sinceMs) {
  const found = {};
  for (const dir of [path.join(ROOT, 'bench-results')]) {
    for (const file of listFiles(dir, (n) => n.endsWith('.json'))) {
      if (statSync(file).mtimeMs < sinceMs) continue;
      try {
        found[path.relative(ROOT, file)] = JSON.parse(readFileSync(file, 'utf8'));
      } catch (err) {
        found[path.relative(ROOT, file)] = { unreadable: err.message };
      }
    }
  }
  return found;
}

function runOne(file) {
  return new Promise((resolve) => {
    const started = performance.now();
    const startedAt = Date.now() - 1;
    let output = '';
    const child = spawn(process.execPath, ['--expose-gc', file, ...(quick ? ['--quick'] : [])], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...(quick ? { BENCH_QUICK: '1' } : {}) },
    });
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      output += chunk;
    });
    const done = (fields) =>
      resolve({
        file,
        seconds: (performance.now() - started) / 1000,
        output,
        results: resultsSince(startedAt),
        ...fields,
      });
    child.on('error', (err) => done({ code: 1, signal: null, error: err.message }));
    child.on('close', (code, signal) => done({ code: code ?? 1, signal }));
  });
}

function firstLine(command, args) {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')[0]
      .trim();
  } catch {
    return undefined;
  }
}

/** What the figures were measured on. */
function describeMachine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryMiB: Math.round(os.totalmem() / 1048576),
    os: firstLine('sh', ['-c', '. /etc/os-release && echo "$PRETTY_NAME"']) ?? `${os.type()} ${os.release()}`,
    kernel: os.release(),
    arch: os.arch(),
    node: process.version,
    virtualization: firstLine('systemd-detect-virt', []) ?? 'unknown',
  };
}

function loadAverage() {
  return os.loadavg().map((v) => Number(v.toFixed(2)));
}

function statusOf(o) {
  return o.code === 0 ? 'ok' : `FAILED (${o.signal ?? `exit ${o.code}`}${o.error ? `: ${o.error}` : ''})`;
}

function writeReport(report) {
  const dir = process.env.BENCH_REPORT_DIR
    ? path.resolve(process.env.BENCH_REPORT_DIR)
    : path.join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  const m = report.machine;
  const lines = [
    `# Benchmark report${report.quick ? ' (quick)' : ''}`,
    '',
    `Run ${report.startedAt} to ${report.endedAt}.`,
    '',
    '| machine | |',
    '| --- | --- |',
    `| CPU | ${m.cpu}, ${m.cores} cores |`,
    `| memory | ${m.memoryMiB} MiB |`,
    `| system | ${m.os}, kernel ${m.kernel}, ${m.arch}, virtualization ${m.virtualization} |`,
    `| Node.js | ${m.node} |`,
    `| load average at start / end | ${report.loadAverage.start.join(' ')} / ${report.loadAverage.end.join(' ')} |`,
    '',
    '| benchmark | status | seconds |',
    '| --- | --- | ---: |',
    ...report.benchmarks.map((b) => `| ${b.file} | ${b.status} | ${b.seconds.toFixed(1)} |`),
    '',
  ];
  for (const b of report.benchmarks) {
    lines.push(`## ${b.file}`, '', b.output.trimEnd() || '(no output)', '');
  }
  writeFileSync(path.join(dir, 'latest.md'), `${lines.join('\n')}\n`);
  return dir;
}

const files = discover();
if (files.length === 0) {
  console.error(filters.length > 0 ? `no benchmark matches ${filters.join(', ')}` : 'no benchmarks found');
  process.exit(1);
}
console.log(`running ${files.length} benchmark(s)${quick ? ' (quick)' : ''}: ${files.join(', ')}\n`);

const startedAt = new Date();
const loadAtStart = loadAverage();
const runStarted = performance.now();
const outcomes = [];
for (const [i, file] of files.entries()) {
  const elapsed = ((performance.now() - runStarted) / 1000).toFixed(0);
  console.log(`=== [${i + 1}/${files.length}] ${file} (${elapsed} s into the run, load ${loadAverage().join(' ')})`);
  const outcome = await runOne(file);
  outcomes.push(outcome);
  console.log(`=== [${i + 1}/${files.length}] ${file}: ${statusOf(outcome)} in ${outcome.seconds.toFixed(1)} s\n`);
}

console.log('=== summary');
for (const o of outcomes) {
  console.log(`${o.file.padEnd(60)} ${statusOf(o).padEnd(16)} ${o.seconds.toFixed(1)} s`);
}
const reportDir = writeReport({
  startedAt: startedAt.toISOString(),
  endedAt: new Date().toISOString(),
  quick,
  filters,
  machine: describeMachine(),
  loadAverage: { start: loadAtStart, end: loadAverage() },
  benchmarks: outcomes.map((o) => ({
    file: o.file,
    status: statusOf(o),
    ok: o.code === 0,
    seconds: Number(o.seconds.toFixed(2)),
    results: o.results,
    output: o.output,
  })),
});
console.log(`report: ${path.join(path.relative(ROOT, reportDir), 'latest.md')} and latest.json`);
if (outcomes.some((o) => o.code !== 0)) process.exitCode = 1;
