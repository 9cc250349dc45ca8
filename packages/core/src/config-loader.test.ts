import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { failure } from './__test__/support.ts';
import { defaultConfigPaths, ENV_PREFIX, type LoadConfigOptions, loadConfig } from './config-loader.ts';
import { type ConfigSchema, collectorConfigSchema, field } from './config-schema.ts';

const schema = {
  ...collectorConfigSchema,
  sources: {
    process: {
      scan_interval: field('duration', 5000, 'How often /proc is scanned', { min: 1 }),
      mode: field('enum', 'poll', 'Backend', { values: ['poll', 'netlink'] }),
      enabled: field('boolean', true, 'Whether the source runs'),
      include: field('string[]', [], 'Process names to include'),
      max_hash_size: field('bytes', 64 * 1024 * 1024, 'Largest executable hashed', { min: 1 }),
    },
  },
} as const satisfies ConfigSchema;

let dir: string;
let systemFile: string;
let userFile: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'de-config-'));
  systemFile = join(dir, 'system.toml');
  userFile = join(dir, 'user.toml');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function load(over: Partial<LoadConfigOptions> = {}) {
  return loadConfig({ schema, systemFile, userFile, env: {}, ...over });
}

describe('loadConfig precedence', () => {
  it('defaults < system file < user file < env < flags, with the origin of each value', () => {
    writeFileSync(
      systemFile,
      [
        'max_batch_size = 100',
        'event_buffer_size = 2000',
        'batch_timeout = "50ms"',
        '[sources.process]',
        'scan_interval = "1s"',
        'mode = "netlink"',
        'enabled = false',
      ].join('\n'),
    );
    writeFileSync(
      userFile,
      [
        'event_buffer_size = 3000',
        'batch_timeout = "75ms"',
        '[sources.process]',
        'scan_interval = "2s"',
        'max_hash_size = "8MiB"',
      ].join('\n'),
    );
    const env = {
      PATH: '/usr/bin',
      DAEMONEYE_OTHER_THING: 'ignored',
      DAEMONEYE_COLLECTOR_BATCH_TIMEOUT: '80',
      DAEMONEYE_COLLECTOR_SOURCES__PROCESS__SCAN_INTERVAL: '3s',
      DAEMONEYE_COLLECTOR_SOURCES__PROCESS__ENABLED: 'yes',
      DAEMONEYE_COLLECTOR_SOURCES__PROCESS__INCLUDE: 'sshd, nc,,bash',
      DAEMONEYE_COLLECTOR_DEBUG_LOGGING: undefined,
    };
    const cfg = load({ env, flags: ['sources.process.scan_interval=4s', 'max-event-sources=4'] });

    // default
    expect(cfg.get('component_name')).toBe('collector-core');
    expect(cfg.originOf('component_name')).toEqual({ layer: 'default', source: 'built-in default' });
    expect(cfg.get('debug_logging')).toBe(false);
    expect(cfg.originOf('debug_logging')).toEqual({ layer: 'default', source: 'built-in default' });
    // system file only
    expect(cfg.get('max_batch_size')).toBe(100);
    expect(cfg.originOf('max_batch_size')).toEqual({ layer: 'system', source: systemFile });
    expect(cfg.get('sources.process.mode')).toBe('netlink');
    expect(cfg.originOf('sources.process.mode')).toEqual({ layer: 'system', source: systemFile });
    // user file over system file
    expect(cfg.get('event_buffer_size')).toBe(3000);
    expect(cfg.originOf('event_buffer_size')).toEqual({ layer: 'user', source: userFile });
    expect(cfg.get('sources.process.max_hash_size')).toBe(8 * 1024 * 1024);
    expect(cfg.originOf('sources.process.max_hash_size')).toEqual({ layer: 'user', source: userFile });
    // env over user file (and `__` nesting)
    expect(cfg.get('batch_timeout')).toBe(80);
    expect(cfg.originOf('batch_timeout')).toEqual({ layer: 'env', source: 'DAEMONEYE_COLLECTOR_BATCH_TIMEOUT' });
    expect(cfg.get('sources.process.enabled')).toBe(true);
    expect(cfg.originOf('sources.process.enabled')).toEqual({
      layer: 'env',
      source: 'DAEMONEYE_COLLECTOR_SOURCES__PROCESS__ENABLED',
    });
    expect(cfg.get('sources.process.include')).toEqual(['sshd', 'nc', 'bash']);
    // flag over env over user over system
    expect(cfg.get('sources.process.scan_interval')).toBe(4000);
    expect(cfg.originOf('sources.process.scan_interval')).toEqual({
      layer: 'flag',
      source: '--set sources.process.scan_interval=4s',
    });
    expect(cfg.get('max_event_sources')).toBe(4);
    expect(cfg.originOf('max_event_sources')).toEqual({ layer: 'flag', source: '--set max-event-sources=4' });

    expect(cfg.files).toEqual({ system: systemFile, user: userFile });
  });

  it('each layer alone overrides the one below it for the same key', () => {
    writeFileSync(systemFile, 'max_batch_size = 10');
    writeFileSync(userFile, 'max_batch_size = 20');
    const envName = `${ENV_PREFIX}MAX_BATCH_SIZE`;
    expect(load({ userFile: null }).get('max_batch_size')).toBe(10);
    expect(load().get('max_batch_size')).toBe(20);
    expect(load({ env: { [envName]: '30' } }).get('max_batch_size')).toBe(30);
    const all = load({ env: { [envName]: '30' }, flags: ['max_batch_size=40'] });
    expect(all.get('max_batch_size')).toBe(40);
    expect(all.originOf('max_batch_size')).toEqual({ layer: 'flag', source: '--set max_batch_size=40' });
    expect(load({ systemFile: null, userFile: null }).get('max_batch_size')).toBe(1000);
  });

  it('skips files that do not exist and reports which files were read', () => {
    writeFileSync(userFile, 'max_batch_size = 20');
    const cfg = load({ systemFile: join(dir, 'missing.toml') });
    expect(cfg.files).toEqual({ user: userFile });
    expect(cfg.get('max_batch_size')).toBe(20);
  });

  it('lists entries with display forms and builds a nested object', () => {
    writeFileSync(userFile, 'batch_timeout = "2s"\n[sources.process]\nmax_hash_size = 33554432');
    const cfg = load();
    const byPath = new Map(cfg.entries().map((e) => [e.path, e]));
    expect(byPath.get('batch_timeout')?.display).toBe('2s');
    expect(byPath.get('batch_timeout')?.origin).toEqual({ layer: 'user', source: userFile });
    expect(byPath.get('sources.process.max_hash_size')?.display).toBe('32MiB');
    expect(byPath.get('backpressure_threshold')?.display).toBe('(unset)');
    expect(byPath.get('component_name')?.display).toBe('"collector-core"');
    expect(
      cfg
        .entries()
        .map((e) => e.path)
        .slice(-5),
    ).toEqual([
      'sources.process.scan_interval',
      'sources.process.mode',
      'sources.process.enabled',
      'sources.process.include',
      'sources.process.max_hash_size',
    ]);
    const obj = cfg.toObject() as { batch_timeout: number; sources: { process: Record<string, unknown> } };
    expect(obj.batch_timeout).toBe(2000);
    expect(obj.sources.process).toEqual({
      scan_interval: 5000,
      mode: 'poll',
      enabled: true,
      include: [],
      max_hash_size: 33554432,
    });
    expect('backpressure_threshold' in obj).toBe(false);
  });

  it('uses a readFile port when given', () => {
    const files: Record<string, string> = { '/etc/x.toml': 'max_batch_size = 7' };
    const cfg = loadConfig({
      schema,
      systemFile: '/etc/x.toml',
      userFile: '/home/u/x.toml',
      env: {},
      readFile: (p) => files[p],
    });
    expect(cfg.get('max_batch_size')).toBe(7);
    expect(cfg.originOf('max_batch_size')).toEqual({ layer: 'system', source: '/etc/x.toml' });
  });
});

describe('defaultConfigPaths', () => {
  it('uses XDG_CONFIG_HOME, else HOME/.config', () => {
    expect(defaultConfigPaths({ XDG_CONFIG_HOME: '/xdg', HOME: '/home/u' })).toEqual({
      system: '/etc/daemoneye/collector.toml',
      user: '/xdg/daemoneye/collector.toml',
    });
    expect(defaultConfigPaths({ XDG_CONFIG_HOME: '', HOME: '/home/u' }).user).toBe(
      '/home/u/.config/daemoneye/collector.toml',
    );
    expect(defaultConfigPaths({ HOME: '/root' }).user).toBe('/root/.config/daemoneye/collector.toml');
  });
});

describe('loadConfig errors', () => {
  it('unknown key in a file names the file and the key', () => {
    writeFileSync(userFile, 'max_batch_size = 5\nbatch_size = 10');
    const e = failure(() => load());
    expect(e.code).toBe('ERR_CONFIG_UNKNOWN_KEY');
    expect(e.message).toBe(`unknown configuration key "batch_size" in user ${userFile}`);
    expect(e.details).toEqual({ field: 'batch_size', layer: 'user', source: userFile });
  });

  it('unknown nested key in the system file', () => {
    writeFileSync(systemFile, '[sources.process]\nscan_every = "1s"');
    const e = failure(() => load());
    expect(e.code).toBe('ERR_CONFIG_UNKNOWN_KEY');
    expect(e.message).toBe(
      `unknown configuration key "sources.process.scan_every" in system ${systemFile}; did you mean "sources.process.scan_interval"?`,
    );
  });

  it.each(['constructor = 1', 'toString = 1', '[hasOwnProperty]\nx = 1', '[sources.__proto__]\nx = 1'])(
    'a key that only exists on Object.prototype is unknown: %j',
    (text) => {
      writeFileSync(userFile, text);
      expect(failure(() => load()).code).toBe('ERR_CONFIG_UNKNOWN_KEY');
    },
  );

  it('unknown environment variable', () => {
    const e = failure(() => load({ env: { DAEMONEYE_COLLECTOR_BATCH_SIZE: '10' } }));
    expect(e.code).toBe('ERR_CONFIG_UNKNOWN_KEY');
    expect(e.message).toBe('unknown configuration key "batch_size" in env DAEMONEYE_COLLECTOR_BATCH_SIZE');
    expect(e.details).toEqual({ field: 'batch_size', layer: 'env', source: 'DAEMONEYE_COLLECTOR_BATCH_SIZE' });
  });

  it('unknown flag key', () => {
    const e = failure(() => load({ flags: ['sources.proc.mode=poll'] }));
    expect(e.code).toBe('ERR_CONFIG_UNKNOWN_KEY');
    expect(e.details).toEqual({
      field: 'sources.proc.mode',
      layer: 'flag',
      source: '--set sources.proc.mode=poll',
      suggestion: 'sources.process.mode',
    });
  });

  it('suggests nothing for a key far from every known one', () => {
    const e = failure(() => load({ flags: ['completely_unrelated_thing=1'] }));
    expect(e.message).toBe(
      'unknown configuration key "completely_unrelated_thing" in flag --set completely_unrelated_thing=1',
    );
  });

  it('wrong type in TOML names the file, key and value', () => {
    writeFileSync(userFile, 'max_batch_size = "lots"');
    const e = failure(() => load());
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.message).toBe(`max_batch_size = "lots" must be an integer (set by user ${userFile})`);
    expect(e.details).toEqual({
      field: 'max_batch_size',
      value: 'lots',
      problem: 'must be an integer',
      layer: 'user',
      source: userFile,
    });
  });

  it('wrong types for other field kinds in TOML', () => {
    const cases: [string, string, string][] = [
      ['max_batch_size = 1.5', 'max_batch_size', 'must be a whole number'],
      ['enable_telemetry = "yes"', 'enable_telemetry', 'must be true or false'],
      ['component_name = 5', 'component_name', 'must be a string'],
      ['batch_timeout = true', 'batch_timeout', 'must be a duration such as "100ms", "5s" or a number of milliseconds'],
      ['[sources.process]\ninclude = [1, 2]', 'sources.process.include', 'must be a list of strings'],
      [
        '[sources.process]\nmax_hash_size = "huge"',
        'sources.process.max_hash_size',
        'must be a size such as "32MiB" or a number of bytes',
      ],
      ['sources = 5', 'sources', 'must be a table (section)'],
      ['[max_batch_size]\nx = 1', 'max_batch_size', 'must be an integer'],
    ];
    for (const [text, key, problem] of cases) {
      writeFileSync(systemFile, text);
      const e = failure(() => load());
      expect(e.code).toBe('ERR_CONFIG_INVALID');
      expect(e.details.field).toBe(key);
      expect(e.details.problem).toBe(problem);
      expect(e.details.layer).toBe('system');
      expect(e.details.source).toBe(systemFile);
      expect(e.message).toContain(`(set by system ${systemFile})`);
    }
  });

  it('malformed TOML names the file, the line and the column', () => {
    writeFileSync(userFile, 'max_batch_size = \n[oops');
    const e = failure(() => load());
    expect(e.code).toBe('ERR_CONFIG_PARSE');
    expect(e.message).toBe(`${userFile} is not valid TOML: line 1, column 18: invalid value`);
    expect(e.details).toEqual({ file: userFile, line: 1, column: 18 });
    expect(e.cause).toBeInstanceOf(Error);
  });

  it('--set without "=" or without a key', () => {
    for (const flag of ['max_batch_size', '=5']) {
      const e = failure(() => load({ flags: [flag] }));
      expect(e.code).toBe('ERR_CONFIG_INVALID');
      expect(e.message).toBe(`flag "--set ${flag}" must have the form key=value`);
      expect(e.details).toEqual({ layer: 'flag', source: `--set ${flag}` });
    }
  });

  it('out of range (min) from a flag', () => {
    const e = failure(() => load({ flags: ['max_batch_size=0'] }));
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.message).toBe('max_batch_size = "0" must be at least 1 (set by flag --set max_batch_size=0)');
    expect(e.details).toMatchObject({ field: 'max_batch_size', value: '0', layer: 'flag' });
  });

  it('out of range (max) for a field with a maximum', () => {
    const s = { pct: field('integer', 50, 'percent', { min: 0, max: 100 }) } as const;
    const e = failure(() =>
      loadConfig({ schema: s, systemFile: null, userFile: null, env: { DAEMONEYE_COLLECTOR_PCT: '101' } }),
    );
    expect(e.details).toMatchObject({
      field: 'pct',
      value: '101',
      problem: 'must be at most 100',
      layer: 'env',
      source: 'DAEMONEYE_COLLECTOR_PCT',
    });
  });

  it('bad enum value', () => {
    const e = failure(() => load({ env: { DAEMONEYE_COLLECTOR_SOURCES__PROCESS__MODE: 'ebpf' } }));
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.message).toBe(
      'sources.process.mode = "ebpf" must be one of "poll", "netlink" (set by env DAEMONEYE_COLLECTOR_SOURCES__PROCESS__MODE)',
    );
  });

  it('bad duration string in env', () => {
    const e = failure(() => load({ env: { DAEMONEYE_COLLECTOR_BATCH_TIMEOUT: 'soon' } }));
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.details).toEqual({
      field: 'batch_timeout',
      value: 'soon',
      problem: 'must be a duration such as "100ms", "5s" or a number of milliseconds',
      layer: 'env',
      source: 'DAEMONEYE_COLLECTOR_BATCH_TIMEOUT',
    });
  });

  it('bad boolean and bad integer in env', () => {
    expect(failure(() => load({ env: { DAEMONEYE_COLLECTOR_DEBUG_LOGGING: 'maybe' } })).details.problem).toBe(
      'must be true or false',
    );
    expect(failure(() => load({ env: { DAEMONEYE_COLLECTOR_MAX_BATCH_SIZE: '10k' } })).details.problem).toBe(
      'must be an integer',
    );
  });

  it('a missing user file is an error only when required', () => {
    const missing = join(dir, 'nope.toml');
    expect(load({ userFile: missing }).files).toEqual({});
    const e = failure(() => load({ userFile: missing, userFileRequired: true }));
    expect(e.code).toBe('ERR_CONFIG_PARSE');
    expect(e.message).toBe(`configuration file ${missing} does not exist`);
    expect(e.details).toEqual({ file: missing });
  });

  it('an unreadable file (a directory) is a parse error naming it', () => {
    const e = failure(() => load({ userFile: dir }));
    expect(e.code).toBe('ERR_CONFIG_PARSE');
    expect(e.message.startsWith(`cannot read configuration file ${dir}: `)).toBe(true);
  });
});
