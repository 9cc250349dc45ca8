// The benchmark runner through its command line: a progress line per benchmark, and the report
// (latest.json and latest.md) with the machine, each outcome and the JSON each benchmark wrote.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const RUNNER = path.join(ROOT, 'tools/bench/run.mjs');
const dirs = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function reportDir() {
  const d = mkdtempSync(path.join(os.tmpdir(), 'de-bench-report-'));
  dirs.push(d);
  return d;
}

describe('pnpm bench (tools/bench/run.mjs)', () => {
  it('runs the chosen benchmark with progress lines and writes the report', { timeout: 120_000 }, () => {
    const dir = reportDir();
    const out = execFileSync(process.execPath, [RUNNER, '--quick', 'event-bus/bench/fanout'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, BENCH_REPORT_DIR: dir },
    });
    expect(out).toMatch(/^=== \[1\/1\] packages\/event-bus\/bench\/fanout\.bench\.mjs \(0 s into the run, load /m);
    expect(out).toMatch(/^=== \[1\/1\] packages\/event-bus\/bench\/fanout\.bench\.mjs: ok in \d+\.\d s$/m);

    const report = JSON.parse(readFileSync(path.join(dir, 'latest.json'), 'utf8'));
    expect(report.quick).toBe(true);
    expect(report.machine.cores).toBe(os.cpus().length);
    expect(report.machine.node).toBe(process.version);
    expect(report.machine.kernel).toBe(os.release());
    expect(report.benchmarks).toHaveLength(1);
    const [b] = report.benchmarks;
    expect(b.file).toBe('packages/event-bus/bench/fanout.bench.mjs');
    expect(b.ok).toBe(true);
    expect(b.status).toBe('ok');
    // The figures the benchmark wrote travel in the report, beside its printed table.
    const written = Object.keys(b.results);
    expect(written).toEqual(['bench-results/event-bus-fanout.json']);
    // The path it printed is relative to the repository: no machine's directories in the output.
    expect(b.output).toContain('wrote bench-results/event-bus-fanout.json\n');
    expect(b.output).not.toContain(ROOT);
    expect(b.output).toContain('| EventBus, 4 async-iterator subscribers, topic # |');
    expect(b.output).toContain('| node:events EventEmitter, 4 listeners (sync, unbounded) |');

    const md = readFileSync(path.join(dir, 'latest.md'), 'utf8');
    expect(md).toContain('# Benchmark report (quick)');
    expect(md).toContain(`| Node.js | ${process.version} |`);
    expect(md).toMatch(/^\| packages\/event-bus\/bench\/fanout\.bench\.mjs \| ok \| \d+\.\d \|$/m);
    expect(md).toContain('## packages/event-bus/bench/fanout.bench.mjs');
    expect(md).toContain("| EventBus, 4 subscribers, topic 'events.process.+' |");
  });

  it('refuses a filter that matches nothing, and writes no report', () => {
    const dir = reportDir();
    const r = spawnSync(process.execPath, [RUNNER, 'no-such-benchmark'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, BENCH_REPORT_DIR: dir },
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('no benchmark matches no-such-benchmark');
    expect(() => readFileSync(path.join(dir, 'latest.json'))).toThrow(/ENOENT/);
  });
});
