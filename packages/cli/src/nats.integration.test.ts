/**
 * `run` with `[sinks.nats]` turned on, through the built command, against a real `nats-server -js`
 * on a free loopback port: every event the collector stored in its SQLite store reaches the JetStream
 * stream exactly once, on `daemoneye.events.<host>.<kind>`, as protobuf batches an independent client
 * decodes. Without `[sinks.nats] enabled = true` nothing is forwarded and no spool is made.
 */
import { type ChildProcess, execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { type NatsServer, readStream, startNatsServer } from '@daemoneye/forward-nats/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, startRun } from './__test__/built-command.ts';

const execFileP = promisify(execFile);

const started: ChildProcess[] = [];
const servers: NatsServer[] = [];
afterEach(async () => {
  for (const c of started.splice(0)) {
    if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
      const gone = new Promise((r) => c.once('exit', r));
      process.kill(c.pid, 'SIGTERM');
      await gone;
    }
  }
  for (const s of servers.splice(0)) await s.stop();
});

async function startNats(): Promise<string> {
  const server = await startNatsServer();
  servers.push(server);
  return server.url;
}

/** Every message of the stream, decoded: (seq, kind) of each event, and the subjects. */
async function streamEvents(url: string): Promise<{ events: { seq: number; kind: string }[]; subjects: Set<string> }> {
  const contents = await readStream([url], 'DAEMONEYE_EVENTS');
  return {
    events: contents.events.map((e) => ({ seq: e.record.seq, kind: e.event.kind })),
    subjects: new Set(contents.subjects),
  };
}

describe('daemoneye-collector run with [sinks.nats]', () => {
  it('forwards every stored event to JetStream once, as protobuf batches on host and kind subjects', async () => {
    const url = await startNats();
    const dataDir = mkdtempSync(join(tmpdir(), 'de-cli-fwd-'));
    const config = join(dataDir, 'collector.toml');
    writeFileSync(config, `[sinks.nats]\nenabled = true\nservers = ["${url}"]\n`);
    const run = startRun<unknown>(
      ['--config', config, '-o', 'none', '--set', 'sources.process.realtime=off', '--set', 'batch_timeout=20ms'],
      { dataDir },
    );
    started.push(run.child);
    const end = Date.now() + 30_000;
    let events: { seq: number; kind: string }[] = [];
    while (Date.now() < end) {
      await sleep(500);
      events = await streamEvents(url).then(
        (r) => r.events,
        () => [],
      );
      if (events.some((e) => e.kind === 'process') && events.some((e) => e.kind === 'network')) break;
    }
    expect(events.length, run.stderr()).toBeGreaterThan(0);
    const gone = new Promise<number | null>((r) => run.child.once('exit', (code) => r(code)));
    process.kill(run.child.pid as number, 'SIGTERM');
    expect(await gone).toBe(0);

    const after = await streamEvents(url);
    const { stdout } = await execFileP(
      process.execPath,
      [BIN, 'query', '--no-system-config', '-d', dataDir, '--json', 'SELECT seq, kind FROM events ORDER BY seq'],
      { env: { ...process.env, XDG_CONFIG_HOME: '/nonexistent' }, maxBuffer: 64 * 1024 * 1024 },
    );
    const stored = stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { seq: number; kind: string });
    expect(stored.length).toBeGreaterThan(0);
    const forwarded = [...after.events].sort((a, b) => a.seq - b.seq);
    // The stream and the store hold the same events: each once, with the same kind.
    expect(forwarded).toEqual(stored);
    const host = hostname().replace(/[^A-Za-z0-9_-]/g, '_');
    for (const s of after.subjects) expect(s).toMatch(new RegExp(`^daemoneye\\.events\\.${host}\\.[a-z_]+$`));
    expect(run.stderr()).toMatch(/JetStream stream ready/);
  }, 90_000);

  it('is off by default: no connection attempts and no spool', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'de-cli-nofwd-'));
    const run = startRun<unknown>(['-o', 'none', '--set', 'sources.process.realtime=off'], { dataDir });
    started.push(run.child);
    const end = Date.now() + 20_000;
    while (Date.now() < end && !existsSync(join(dataDir, 'events.db'))) await sleep(100);
    await sleep(1000);
    const gone = new Promise<number | null>((r) => run.child.once('exit', (code) => r(code)));
    process.kill(run.child.pid as number, 'SIGTERM');
    expect(await gone).toBe(0);
    expect(existsSync(join(dataDir, 'events.db'))).toBe(true);
    expect(existsSync(join(dataDir, 'nats-spool'))).toBe(false);
    expect(run.stderr()).not.toMatch(/NATS/);
  }, 60_000);
});
