import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { CollectionEvent, defineSource, type EventSender, type EventSource, field, SourceCaps } from '@daemoneye/core';
import { describe, expect, it } from 'vitest';
import { type CommandIo, main } from './main.ts';

function capture(env: Record<string, string> = {}): CommandIo & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'de-cli-data-'));
  return {
    stdout,
    stderr,
    env: { XDG_CONFIG_HOME: '/nonexistent', DAEMONEYE_COLLECTOR_DATA_DIR: dataDir, ...env },
    out: () => out,
    err: () => err,
  };
}

const noSystem = ['--no-system-config'];

describe('daemoneye-collector config', () => {
  it('prints every value with the layer it came from, flags over env over file over defaults', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'de-cli-'));
    const file = join(dir, 'collector.toml');
    writeFileSync(
      file,
      'max_batch_size = 250\nbatch_timeout = "50ms"\nevent_buffer_size = 5000\n[sinks.stdout]\nformat = "pretty"\n',
    );
    const io = capture({ DAEMONEYE_COLLECTOR_BATCH_TIMEOUT: '75ms' });
    const code = await main(
      ['config', ...noSystem, '--config', file, '--set', 'max_event_sources=4', '--json'],
      io,
      [],
    );
    expect(code).toBe(0);
    const parsed = JSON.parse(io.out()) as {
      entries: { key: string; value: unknown; layer: string; source: string }[];
    };
    const byKey = Object.fromEntries(parsed.entries.map((e) => [e.key, e]));
    expect(byKey.max_batch_size).toEqual({ key: 'max_batch_size', value: 250, layer: 'user', source: file });
    expect(byKey.batch_timeout).toEqual({
      key: 'batch_timeout',
      value: 75,
      layer: 'env',
      source: 'DAEMONEYE_COLLECTOR_BATCH_TIMEOUT',
    });
    expect(byKey.max_event_sources).toEqual({
      key: 'max_event_sources',
      value: 4,
      layer: 'flag',
      source: '--set max_event_sources=4',
    });
    expect(byKey['sinks.stdout.format']).toMatchObject({ value: 'pretty', layer: 'user' });
    expect(byKey.shutdown_timeout).toEqual({
      key: 'shutdown_timeout',
      value: 30000,
      layer: 'default',
      source: 'built-in default',
    });
  });

  it('shows the derived backpressure threshold in the table', async () => {
    const io = capture();
    expect(await main(['config', ...noSystem, '--set', 'event_buffer_size=2000'], io, [])).toBe(0);
    expect(io.out()).toMatch(/^backpressure_threshold\s+1600 \(80% of event_buffer_size\)\s+default$/m);
    expect(io.out()).toMatch(/^event_buffer_size\s+2000\s+flag \(--set event_buffer_size=2000\)$/m);
  });

  it.each([
    [
      ['config', '--set', 'max_batch_size=0'],
      /configuration error: ERR_CONFIG_INVALID: max_batch_size = "0" must be at least 1 \(set by flag --set max_batch_size=0\)/,
    ],
    [
      ['config', '--set', 'no_such_key=1'],
      /ERR_CONFIG_UNKNOWN_KEY: unknown configuration key "no_such_key" in flag --set no_such_key=1/,
    ],
    [
      ['config', '--set', 'event_buffer_size=100', '--set', 'backpressure_threshold=200'],
      /backpressure_threshold = 200 must be below event_buffer_size \(100\) \(set by flag --set backpressure_threshold=200\)/,
    ],
    [['run', '--output', 'xml'], /sinks.stdout.format = "xml" must be one of "auto", "jsonl", "pretty"/],
    [
      ['run', '--set', 'sinks.stdout.queue_capacity=10'],
      /sinks.stdout.queue_capacity = 10 must be at least max_batch_size \(1000\) \(set by flag --set sinks.stdout.queue_capacity=10\)/,
    ],

    [
      ['config', '--config', '/nonexistent/collector.toml'],
      /ERR_CONFIG_PARSE: configuration file \/nonexistent\/collector.toml does not exist/,
    ],
  ])('exits 2 with a one-line reason for %j', async (argv, message) => {
    const io = capture();
    expect(await main([...argv, ...noSystem], io, [])).toBe(2);
    expect(io.err()).toMatch(message);
    expect(io.err().trim().split('\n')).toHaveLength(1);
  });

  it('suggests the key meant by a mistyped one', async () => {
    const { DEFAULT_PLUGINS } = await import('./schema.ts');
    const io = capture();
    expect(await main(['run', ...noSystem, '--set', 'sources.process.hashng=false'], io, DEFAULT_PLUGINS)).toBe(2);
    expect(io.err()).toBe(
      'daemoneye-collector: configuration error: ERR_CONFIG_UNKNOWN_KEY: unknown configuration key "sources.process.hashng" in flag --set sources.process.hashng=false; did you mean "sources.process.hashing"?\n',
    );
  });

  it('refuses a --system-config file that does not exist, as --config does', async () => {
    const io = capture();
    expect(await main(['config', '--system-config', '/nonexistent/system.toml'], io, [])).toBe(2);
    expect(io.err()).toBe(
      'daemoneye-collector: configuration error: ERR_CONFIG_PARSE: configuration file /nonexistent/system.toml does not exist\n',
    );
  });

  it('exits 2 with its own usage line and code for an unknown command or option', async () => {
    const io = capture();
    expect(await main(['explode'], io, [])).toBe(2);
    expect(io.err().split('\n')[0]).toBe('daemoneye-collector: ERR_CLI_USAGE: unknown command "explode"');
    const io1 = capture();
    expect(await main(['rnu'], io1, [])).toBe(2);
    expect(io1.err().split('\n')[0]).toBe(
      'daemoneye-collector: ERR_CLI_USAGE: unknown command "rnu"; did you mean "run"?',
    );
    const io2 = capture();
    expect(await main(['run', '--frobnicate'], io2, [])).toBe(2);
    expect(io2.err().split('\n')[0]).toBe('daemoneye-collector: ERR_CLI_USAGE: unknown option "--frobnicate"');
    const io3 = capture();
    expect(await main(['run', '--confg', 'x.toml'], io3, [])).toBe(2);
    expect(io3.err().split('\n')[0]).toBe(
      'daemoneye-collector: ERR_CLI_USAGE: unknown option "--confg"; did you mean "--config"?',
    );
    const io4 = capture();
    expect(await main(['run', '--config'], io4, [])).toBe(2);
    expect(io4.err().split('\n')[0]).toBe('daemoneye-collector: ERR_CLI_USAGE: option "--config" needs a value');
  });
});

class CountingSource implements EventSource {
  readonly #count: number;
  constructor(count: number) {
    this.#count = count;
  }
  name() {
    return 'counting';
  }
  capabilities() {
    return SourceCaps.PERFORMANCE;
  }
  async start(tx: EventSender, signal: AbortSignal) {
    for (let i = 0; i < this.#count; i++)
      await tx.send(
        CollectionEvent.performance({
          metricName: 'n',
          value: i,
          unit: 'count',
          component: 'test',
          timestamp: 1_700_000_000_000 + i,
        }),
      );
    await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
  }
  async stop() {}
  async healthCheck() {}
}

const counting = defineSource({
  key: 'counting',
  description: 'counts',
  schema: { count: field('integer', 3, 'how many', { min: 0 }) },
  create: (o) => new CountingSource(o.count),
});

describe('daemoneye-collector run', () => {
  it("prints the enabled sources' events as JSON lines and exits 0 on SIGTERM", async () => {
    const io = capture({ DAEMONEYE_COLLECTOR_SOURCES__COUNTING__COUNT: '5' });
    const running = main(['run', ...noSystem, '--set', 'batch_timeout=10ms', '--log-level', 'silent'], io, [counting]);
    await new Promise((r) => setTimeout(r, 300));
    process.emit('SIGTERM', 'SIGTERM');
    expect(await running).toBe(0);
    const lines = io
      .out()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; value: number });
    expect(lines.map((l) => [l.kind, l.value])).toEqual([0, 1, 2, 3, 4].map((i) => ['performance', i]));
  });

  it('runs no disabled source and prints pretty lines', async () => {
    const io = capture();
    const running = main(
      ['run', ...noSystem, '-o', 'pretty', '--set', 'sources.counting.enabled=false', '--log-level', 'silent'],
      io,
      [counting],
    );
    await new Promise((r) => setTimeout(r, 200));
    process.emit('SIGINT', 'SIGINT');
    expect(await running).toBe(0);
    expect(io.out()).toBe('');
    const io2 = capture();
    const running2 = main(
      ['run', ...noSystem, '-o', 'pretty', '--set', 'batch_timeout=10ms', '--log-level', 'silent'],
      io2,
      [counting],
    );
    await new Promise((r) => setTimeout(r, 300));
    process.emit('SIGINT', 'SIGINT');
    expect(await running2).toBe(0);
    expect(io2.out().trim().split('\n')).toEqual([
      '2023-11-14T22:13:20.000Z performance test.n=0count',
      '2023-11-14T22:13:20.001Z performance test.n=1count',
      '2023-11-14T22:13:20.002Z performance test.n=2count',
    ]);
  });
});

describe('docs/configuration.md', () => {
  it('its complete example collector.toml loads with every key from the user file', async () => {
    const { readFileSync } = await import('node:fs');
    const { DEFAULT_PLUGINS } = await import('./schema.ts');
    const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    const toml = /## Example `collector.toml`[\s\S]*?```toml\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
    const dir = mkdtempSync(join(tmpdir(), 'de-doc-'));
    const file = join(dir, 'collector.toml');
    writeFileSync(file, toml);
    const io = capture();
    expect(await main(['config', ...noSystem, '--config', file, '--json'], io, DEFAULT_PLUGINS)).toBe(0);
    const parsed = JSON.parse(io.out()) as { entries: { key: string; layer: string }[] };
    const fromFile = parsed.entries.filter((e) => e.layer === 'user').map((e) => e.key);
    // Keys whose default is unset (or depends on who runs the command) are commented out in the example.
    const commented = [
      'backpressure_threshold',
      'data_dir',
      'processors.triggers.rules_file',
      'processors.analysis_chains.workflows_file',
      'metrics.listen',
      'privileges.user',
    ];
    const all = parsed.entries.map((e) => e.key).filter((k) => !commented.includes(k));
    expect(fromFile.sort()).toEqual(all.sort());
  });
});
