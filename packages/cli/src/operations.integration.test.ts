import { type ChildProcess, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, startRun } from './__test__/built-command.ts';
import { endpointOf, get, logLines, parseMetrics, type Sample, total, until, value } from './__test__/endpoint.ts';

/** Only the performance source, so nothing here touches the kernel's machine-wide state. */
const QUIET = [
  '--output',
  'none',
  '--set',
  'sources.process.enabled=false',
  '--set',
  'sources.network.enabled=false',
  // The filesystem source would report the host's own activity in /tmp while the counters are compared.
  '--set',
  'sources.filesystem.enabled=false',
  '--set',
  'batch_timeout=20ms',
];

let running: ChildProcess | undefined;
afterEach(() => {
  if (running !== undefined && running.exitCode === null) running.kill('SIGKILL');
  running = undefined;
});

const exited = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.on('exit', (code) => r(code)));

async function scrape(base: string): Promise<Sample[]> {
  const r = await get(`${base}/metrics`);
  expect(r.status).toBe(200);
  expect(r.type).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(r.body);
}

/** Runs `query` with the built command against the store in `dataDir`; the rows as objects. */
function query(dataDir: string, sql: string): Record<string, number>[] {
  const r = spawnSync(process.execPath, [BIN, 'query', '--no-system-config', '--json', '--data-dir', dataDir, sql], {
    encoding: 'utf8',
    env: { ...process.env, XDG_CONFIG_HOME: '/nonexistent' },
  });
  expect(r.stderr).toBe('');
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number>);
}

interface Stopped {
  events: { offered: number; accepted: number; dropped: Record<string, number> };
  derived: { accepted: number };
  sinks: { name: string; received: number; delivered: number; dropped: Record<string, number> }[];
}
const stoppedLine = (stderr: string): Stopped =>
  logLines(stderr).find((l) => l.msg === 'collector stopped') as unknown as Stopped;

const vmRss = (pid: number): number =>
  Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;

describe('daemoneye-collector run --metrics-listen', () => {
  it("serves the collector's own counters, health and readiness over HTTP", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'de-ops-'));
    const c = startRun([...QUIET, '--metrics-listen', '127.0.0.1:0', '--set', 'sources.performance.interval=1h'], {
      dataDir,
    });
    running = c.child;
    const base = await endpointOf(c.stderr);
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await until(async () => (await get(`${base}/readyz`)).status === 200, 15_000)).toBe(true);
    expect(JSON.parse((await get(`${base}/readyz`)).body)).toEqual({ ready: true, reasons: [] });
    // The performance source sends its first samples at once, then nothing for an hour: the counters settle.
    let m: Sample[] = [];
    expect(
      await until(async () => {
        m = await scrape(base);
        const delivered = value(m, 'daemoneye_sink_events_delivered_total', { sink: 'store' });
        return delivered > 0 && delivered === value(m, 'daemoneye_events_accepted_total');
      }, 15_000),
    ).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    m = await scrape(base);
    const rssNow = vmRss(c.child.pid as number);
    const health = await get(`${base}/healthz`);
    expect(health.status).toBe(200);
    const h = JSON.parse(health.body) as { status: string; state: string; reasons: string[] };
    expect(h.state).toBe('running');
    expect(value(m, 'daemoneye_health_status', { status: h.status })).toBe(1);
    expect(total(m, 'daemoneye_health_status')).toBe(1);
    expect(value(m, 'daemoneye_ready')).toBe(1);
    expect(value(m, 'daemoneye_source_running', { source: 'performance' })).toBe(1);
    expect(value(m, 'daemoneye_sink_open', { sink: 'store' })).toBe(1);
    expect(value(m, 'daemoneye_shedding_level')).toBe(0);
    // Its own memory, as the kernel counts it at the same moment.
    expect(Math.abs(value(m, 'process_resident_memory_bytes') - rssNow) / rssNow).toBeLessThan(0.25);
    expect(value(m, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(m.some((s) => s.name === 'nodejs_eventloop_lag_p99_seconds')).toBe(true);
    expect((await get(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);

    c.child.kill('SIGTERM');
    expect(await exited(c.child)).toBe(0);
    // The collector's own final figures, and the store's rows, against what was scraped.
    const stopped = stoppedLine(c.stderr());
    expect(value(m, 'daemoneye_events_offered_total')).toBe(stopped.events.offered);
    expect(value(m, 'daemoneye_events_accepted_total')).toBe(stopped.events.accepted);
    expect(value(m, 'daemoneye_source_events_accepted_total', { source: 'performance' })).toBe(stopped.events.accepted);
    expect(total(m, 'daemoneye_events_dropped_total')).toBe(
      Object.values(stopped.events.dropped).reduce((a, b) => a + b, 0),
    );
    const store = stopped.sinks.find((s) => s.name === 'store');
    expect(value(m, 'daemoneye_sink_events_received_total', { sink: 'store' })).toBe(store?.received);
    expect(value(m, 'daemoneye_sink_events_delivered_total', { sink: 'store' })).toBe(store?.delivered);
    expect(query(dataDir, 'SELECT count(*) AS n FROM events')).toEqual([
      { n: value(m, 'daemoneye_sink_events_delivered_total', { sink: 'store' }) },
    ]);
  }, 40_000);

  it('answers /readyz 503 with the reason while a sink cannot open, and counts what that sink drops', async () => {
    // A store file whose directory cannot be made: its parent is a regular file.
    const notADir = join(mkdtempSync(join(tmpdir(), 'de-ops-')), 'file');
    writeFileSync(notADir, '');
    const c = startRun([
      ...QUIET,
      '--metrics-listen',
      '127.0.0.1:0',
      '--set',
      'sources.performance.interval=200ms',
      '--set',
      `sinks.store.file=${notADir}/events.db`,
    ]);
    running = c.child;
    const base = await endpointOf(c.stderr);
    let m: Sample[] = [];
    expect(
      await until(async () => {
        m = await scrape(base);
        return total(m, 'daemoneye_sink_events_dropped_total') > 0;
      }, 15_000),
    ).toBe(true);
    const ready = await get(`${base}/readyz`);
    expect(ready.status).toBe(503);
    const r = JSON.parse(ready.body) as { ready: boolean; reasons: string[] };
    expect(r.ready).toBe(false);
    expect(r.reasons).toHaveLength(1);
    expect(r.reasons[0]).toBe(
      `sink store is not open: ERR_STORE_OPEN: cannot create the directory of event store ${notADir}/events.db: EEXIST: file already exists, mkdir '${notADir}'`,
    );
    const live = JSON.parse((await get(`${base}/healthz`)).body) as { reasons: string[] };
    expect(live.reasons.some((x) => x.startsWith('sink store: '))).toBe(true);
    m = await scrape(base);
    expect(value(m, 'daemoneye_ready')).toBe(0);
    expect(value(m, 'daemoneye_sink_open', { sink: 'store' })).toBe(0);
    expect(value(m, 'daemoneye_sink_events_delivered_total', { sink: 'store' })).toBe(0);
    // Every event the store got was dropped as sink_error (or is still queued for it).
    const received = value(m, 'daemoneye_sink_events_received_total', { sink: 'store' });
    const dropped = value(m, 'daemoneye_sink_events_dropped_total', { sink: 'store', reason: 'sink_error' });
    expect(received - dropped).toBe(value(m, 'daemoneye_sink_queue_depth_events', { sink: 'store' }));
    c.child.kill('SIGTERM');
    await exited(c.child);
  }, 40_000);

  it('refuses an address it cannot use, with the reason, and exits 2', async () => {
    const c = startRun([...QUIET, '--metrics-listen', 'localhost']);
    running = c.child;
    expect(await exited(c.child)).toBe(2);
    expect(c.stderr()).toBe(
      'daemoneye-collector: configuration error: ERR_CONFIG_INVALID: metrics.listen must be HOST:PORT (such as 127.0.0.1:9464), got "localhost" (set by flag --set metrics.listen=localhost)\n',
    );
  });
});

/** Starts the command with the user configuration file `file` (so `reload` rereads it). */
function startWithFile(file: string, dataDir: string) {
  return startRun(['-c', file, '--set', 'batch_timeout=20ms'], { dataDir });
}

function reload(file: string, dataDir: string) {
  return spawnSync(process.execPath, [BIN, 'reload', '--no-system-config', '-c', file, '--data-dir', dataDir], {
    encoding: 'utf8',
    env: { ...process.env, XDG_CONFIG_HOME: '/nonexistent' },
    timeout: 40_000,
  });
}

const BASE_TOML = `
[sources.process]
enabled = false
[sources.network]
enabled = false
[sources.performance]
interval = "100ms"
[sinks.stdout]
enabled = false
[metrics]
listen = "127.0.0.1:0"
`;

describe('configuration reload (SIGHUP, daemoneye-collector reload)', () => {
  it('restarts only what changed, refuses a bad file with the reason, and loses no event', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'de-reload-'));
    const file = join(dir, 'collector.toml');
    writeFileSync(file, BASE_TOML);
    const c = startWithFile(file, dir);
    running = c.child;
    const base = await endpointOf(c.stderr);
    const pidFile = join(dir, 'collector.pid');
    expect(await until(() => existsSync(pidFile), 5000)).toBe(true);
    expect(readFileSync(pidFile, 'utf8')).toBe(`${c.child.pid}\n`);
    const offered = async (): Promise<number> =>
      value(await scrape(base), 'daemoneye_source_events_offered_total', { source: 'performance' });
    expect(await until(async () => (await offered()) > 20, 15_000)).toBe(true);

    writeFileSync(file, `${BASE_TOML}[sinks.store]\nprune_interval = "2m"\n`);
    const before = await offered();
    const ok = reload(file, dir);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(
      /^configuration reloaded: restarted sinks\.store; started none; stopped none; unchanged /,
    );
    expect(ok.stdout).toContain('sources.performance');
    // The performance source kept running: its counters carried on instead of starting again from 0.
    expect(await offered()).toBeGreaterThanOrEqual(before);
    expect(value(await scrape(base), 'daemoneye_source_restarts_total', { source: 'performance' })).toBe(0);

    writeFileSync(file, `${BASE_TOML}[sinks.store]\nprune_interval = "soon"\n`);
    const bad = reload(file, dir);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(
      /^reload refused: ERR_CONFIG_INVALID: sinks\.store\.prune_interval = "soon" .*; the running configuration stays\n$/,
    );
    writeFileSync(file, `${BASE_TOML}[sinks.store\n`);
    const broken = reload(file, dir);
    expect(broken.status).toBe(1);
    expect(broken.stderr).toMatch(/^reload refused: ERR_CONFIG_PARSE: /);
    const after = await offered();
    expect(await until(async () => (await offered()) > after + 10, 10_000)).toBe(true);
    expect((await get(`${base}/readyz`)).status).toBe(200);

    c.child.kill('SIGTERM');
    expect(await exited(c.child)).toBe(0);
    const stopped = stoppedLine(c.stderr());
    // Every accepted event is in the store exactly once, across the replaced store sink: sequence
    // numbers without a gap, as many as the collector accepted.
    const [row] = query(dir, 'SELECT count(*) AS n, min(seq) AS lo, max(seq) AS hi FROM events');
    expect(row?.n).toBe(stopped.events.accepted + stopped.derived.accepted);
    expect((row?.hi ?? 0) - (row?.lo ?? 0) + 1).toBe(row?.n);
    expect(stopped.events.dropped).toEqual({});
    const logs = logLines(c.stderr());
    expect(logs.filter((l) => l.msg === 'configuration reloaded')).toHaveLength(1);
    expect(logs.filter((l) => l.msg === 'configuration reload refused; the running configuration stays')).toHaveLength(
      2,
    );
    expect(() => readFileSync(join(dir, 'collector.pid'))).toThrow(/ENOENT/);
  }, 60_000);

  it('says so when no collector runs for the data directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'de-reload-'));
    const file = join(dir, 'collector.toml');
    writeFileSync(file, BASE_TOML);
    const r = reload(file, dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      `daemoneye-collector: ERR_CLI_NOT_RUNNING: no running collector has its pid file in ${dir}\n`,
    );
  });
});

describe('one collector per data directory', () => {
  it('a second run on a data directory a running collector uses starts nothing and exits 1; the first keeps running', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'de-single-'));
    const c = startRun([...QUIET, '--metrics-listen', '127.0.0.1:0'], { dataDir });
    running = c.child;
    const base = await endpointOf(c.stderr);
    expect(await until(() => existsSync(join(dataDir, 'collector.pid')), 15_000)).toBe(true);
    const second = spawnSync(process.execPath, [BIN, 'run', '--no-system-config', ...QUIET, '--data-dir', dataDir], {
      encoding: 'utf8',
      env: { ...process.env, XDG_CONFIG_HOME: '/nonexistent' },
      timeout: 20_000,
    });
    expect(second.status).toBe(1);
    expect(second.stderr).toBe(
      `daemoneye-collector: ERR_CLI_ALREADY_RUNNING: another collector (pid ${c.child.pid}) runs with the data directory ${dataDir}; stop it first, or give this one its own --data-dir\n`,
    );
    expect(readFileSync(join(dataDir, 'collector.pid'), 'utf8')).toBe(`${c.child.pid}\n`);
    expect((await get(`${base}/readyz`)).status).toBe(200);
    c.child.kill('SIGINT');
    expect(await exited(c.child)).toBe(0);
    // Once it has stopped, the directory is free again.
    const third = startRun([...QUIET], { dataDir });
    running = third.child;
    expect(
      await until(
        () =>
          existsSync(join(dataDir, 'collector.pid')) &&
          readFileSync(join(dataDir, 'collector.pid'), 'utf8').trim() === String(third.child.pid),
        15_000,
      ),
    ).toBe(true);
    third.child.kill('SIGINT');
    expect(await exited(third.child)).toBe(0);
  }, 60_000);
});

describe('the watchdog', () => {
  it('sheds over its budget, says so in health and metrics, and restores when the budget allows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'de-watchdog-'));
    const file = join(dir, 'collector.toml');
    const toml = (rss: string) =>
      `${BASE_TOML}[watchdog]\nrss = "${rss}"\ninterval = "50ms"\nshed_after = 2\nrestore_after = 2\n`;
    writeFileSync(file, toml('1MiB'));
    const c = startWithFile(file, dir);
    running = c.child;
    const base = await endpointOf(c.stderr);
    expect(await until(async () => value(await scrape(base), 'daemoneye_shedding_level') === 2, 15_000)).toBe(true);
    const m = await scrape(base);
    expect(value(m, 'daemoneye_watchdog_rss_budget_bytes')).toBe(2 ** 20);
    expect(value(m, 'daemoneye_watchdog_over_budget_checks_total')).toBeGreaterThanOrEqual(4);
    expect(value(m, 'daemoneye_health_status', { status: 'Degraded' })).toBe(1);
    const h = JSON.parse((await get(`${base}/healthz`)).body) as { status: string; reasons: string[] };
    expect(h.status).toBe('Degraded');
    expect(h.reasons).toContainEqual(
      expect.stringMatching(/^shedding load \(severe\): RSS [\d.]+ MiB over budget 1\.0 MiB$/),
    );
    // A budget it fits in: the level comes down one step at a time.
    writeFileSync(file, toml('64GiB'));
    const r = reload(file, dir);
    expect(r.stdout).toMatch(/applied \[watchdog\]/);
    expect(await until(async () => value(await scrape(base), 'daemoneye_shedding_level') === 0, 10_000)).toBe(true);
    expect(JSON.parse((await get(`${base}/healthz`)).body).reasons).toEqual([]);
    expect(value(await scrape(base), 'daemoneye_shedding_changes_total')).toBe(4);
    const msgs = logLines(c.stderr()).map((l) => l.msg);
    expect(msgs.filter((x) => x === 'watchdog: back under budget; restoring')).toHaveLength(2);
    c.child.kill('SIGTERM');
    expect(await exited(c.child)).toBe(0);
  }, 40_000);

  it('exits 1 as a last resort when shedding does not bring it under budget', async () => {
    const c = startRun([
      ...QUIET,
      '--set',
      'watchdog.rss=1MiB',
      '--set',
      'watchdog.interval=20ms',
      '--set',
      'watchdog.shed_after=1',
      '--set',
      'watchdog.exit_after=3',
    ]);
    running = c.child;
    expect(await exited(c.child)).toBe(1);
    const logs = logLines(c.stderr());
    const fatal = logs.find((l) => l.level === 60);
    expect(fatal?.msg).toMatch(
      /^watchdog: still over budget after shedding: RSS [\d.]+ MiB over budget 1\.0 MiB; stopping$/,
    );
    // It still shut down gracefully: everything accepted was delivered.
    expect(logs.find((l) => l.msg === 'collector stopped')).toMatchObject({ drained: true, undelivered: 0 });
  }, 40_000);
});
