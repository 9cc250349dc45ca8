import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { failure } from './__test__/support.ts';
import { Collector } from './collector.ts';
import { CollectorConfig, type CollectorSettings, DEFAULT_COLLECTOR_SETTINGS } from './config.ts';
import { loadConfig } from './config-loader.ts';
import { collectorConfigSchema } from './config-schema.ts';

describe('CollectorConfig defaults', () => {
  it('has the defaults of DaemonEye code and a derived threshold of 80% of the buffer', () => {
    const s = new CollectorConfig().validate();
    expect(s).toEqual({
      componentName: 'collector-core',
      maxEventSources: 16,
      eventBufferSize: 10_000,
      maxBatchSize: 1000,
      batchTimeout: 100,
      backpressureThreshold: 8000,
      maxBackpressureWait: 500,
      startupTimeout: 10_000,
      shutdownTimeout: 30_000,
      healthCheckInterval: 60_000,
      enableTelemetry: true,
      telemetryInterval: 30_000,
      debugLogging: false,
      restartBackoffBase: 1000,
      restartBackoffMax: 60_000,
      dataDir: undefined,
      derivedLaneCapacity: 1000,
      maxDerivationDepth: 4,
    });
    expect(new CollectorConfig().settings.backpressureThreshold).toBeUndefined();
    expect(Object.isFrozen(DEFAULT_COLLECTOR_SETTINGS)).toBe(true);
  });

  it('derives the threshold from the configured buffer size', () => {
    expect(new CollectorConfig().withEventBufferSize(500).withMaxBatchSize(100).validate().backpressureThreshold).toBe(
      400,
    );
    expect(new CollectorConfig().withEventBufferSize(7).withMaxBatchSize(7).validate().backpressureThreshold).toBe(5);
    expect(new CollectorConfig().withEventBufferSize(1).withMaxBatchSize(1).validate().backpressureThreshold).toBe(1);
    expect(
      new CollectorConfig().withEventBufferSize(500).withMaxBatchSize(100).withBackpressureThreshold(499).validate()
        .backpressureThreshold,
    ).toBe(499);
  });

  it('is an immutable builder recording each with…() call as the origin', () => {
    const a = new CollectorConfig();
    const b = a
      .withComponentName('procmond')
      .withMaxBatchSize(50)
      .withBatchTimeout(20)
      .withRestartBackoff(10, 100)
      .withTelemetry(false);
    expect(a.settings.componentName).toBe('collector-core');
    expect(b.settings).toMatchObject({
      componentName: 'procmond',
      maxBatchSize: 50,
      batchTimeout: 20,
      restartBackoffBase: 10,
      restartBackoffMax: 100,
      enableTelemetry: false,
    });
    expect(b.originOf('maxBatchSize')).toEqual({ layer: 'api', source: 'withMaxBatchSize()' });
    expect(b.originOf('componentName')).toEqual({ layer: 'api', source: 'withComponentName()' });
    expect(b.originOf('eventBufferSize')).toEqual({ layer: 'default', source: 'built-in default' });
  });

  it('names the method actually called when a setter has a different name from its setting', () => {
    const c = new CollectorConfig().withRestartBackoff(10, 100).withTelemetry(false).withDebugLogging(true);
    expect(c.originOf('restartBackoffBase')).toEqual({ layer: 'api', source: 'withRestartBackoff()' });
    expect(c.originOf('restartBackoffMax')).toEqual({ layer: 'api', source: 'withRestartBackoff()' });
    expect(c.originOf('enableTelemetry')).toEqual({ layer: 'api', source: 'withTelemetry()' });
    expect(c.originOf('debugLogging')).toEqual({ layer: 'api', source: 'withDebugLogging()' });
  });
});

describe('CollectorConfig.validate', () => {
  const positive: [keyof CollectorSettings, string, (c: CollectorConfig, n: number) => CollectorConfig, string][] = [
    ['maxEventSources', 'max_event_sources', (c, n) => c.withMaxEventSources(n), 'withMaxEventSources()'],
    ['eventBufferSize', 'event_buffer_size', (c, n) => c.withEventBufferSize(n), 'withEventBufferSize()'],
    ['maxBatchSize', 'max_batch_size', (c, n) => c.withMaxBatchSize(n), 'withMaxBatchSize()'],
    ['batchTimeout', 'batch_timeout', (c, n) => c.withBatchTimeout(n), 'withBatchTimeout()'],
    [
      'maxBackpressureWait',
      'max_backpressure_wait',
      (c, n) => c.withMaxBackpressureWait(n),
      'withMaxBackpressureWait()',
    ],
    ['startupTimeout', 'startup_timeout', (c, n) => c.withStartupTimeout(n), 'withStartupTimeout()'],
    ['shutdownTimeout', 'shutdown_timeout', (c, n) => c.withShutdownTimeout(n), 'withShutdownTimeout()'],
    [
      'healthCheckInterval',
      'health_check_interval',
      (c, n) => c.withHealthCheckInterval(n),
      'withHealthCheckInterval()',
    ],
    ['telemetryInterval', 'telemetry_interval', (c, n) => c.withTelemetryInterval(n), 'withTelemetryInterval()'],
    ['restartBackoffBase', 'restart_backoff_base', (c, n) => c.withRestartBackoff(n, 60_000), 'withRestartBackoff()'],
    ['restartBackoffMax', 'restart_backoff_max', (c, n) => c.withRestartBackoff(1, n), 'withRestartBackoff()'],
    [
      'backpressureThreshold',
      'backpressure_threshold',
      (c, n) => c.withBackpressureThreshold(n),
      'withBackpressureThreshold()',
    ],
  ];

  for (const [key, fileKey, set, method] of positive) {
    for (const bad of [0, -5, 1.5]) {
      it(`${key} = ${bad} → ERR_CONFIG_INVALID naming ${fileKey}`, () => {
        const cfg = set(new CollectorConfig(), bad);
        const e = failure(() => cfg.validate());
        expect(e.code).toBe('ERR_CONFIG_INVALID');
        const expectedField = fileKey;
        expect(e.details.field).toBe(expectedField);
        expect(e.details.value).toBe(bad);
        expect(e.details.layer).toBe('api');
        expect(e.details.source).toBe(method);
        // The schema's rule for the field: a whole number of at least 1.
        const problem = bad === 1.5 ? 'must be a whole number' : 'must be at least 1';
        expect(e.details.problem).toBe(problem);
        expect(e.message).toBe(`${expectedField} = ${bad} ${problem} (set by api ${method})`);
      });
    }
  }

  it('threshold at or above the buffer size', () => {
    for (const t of [1000, 1001]) {
      const e = failure(() => new CollectorConfig().withEventBufferSize(1000).withBackpressureThreshold(t).validate());
      expect(e.code).toBe('ERR_CONFIG_INVALID');
      expect(e.details).toEqual({
        field: 'backpressure_threshold',
        value: t,
        problem: 'must be below event_buffer_size (1000)',
        layer: 'api',
        source: 'withBackpressureThreshold()',
      });
    }
    expect(
      new CollectorConfig().withEventBufferSize(1000).withBackpressureThreshold(999).validate().backpressureThreshold,
    ).toBe(999);
  });

  it('batch larger than the buffer', () => {
    const e = failure(() => new CollectorConfig().withEventBufferSize(100).withMaxBatchSize(101).validate());
    expect(e.details).toEqual({
      field: 'max_batch_size',
      value: 101,
      problem: 'must not exceed event_buffer_size (100)',
      layer: 'api',
      source: 'withMaxBatchSize()',
    });
    expect(new CollectorConfig().withEventBufferSize(100).withMaxBatchSize(100).validate().maxBatchSize).toBe(100);
  });

  it('empty or blank component name', () => {
    for (const name of ['', '   ']) {
      const e = failure(() => new CollectorConfig().withComponentName(name).validate());
      expect(e.code).toBe('ERR_CONFIG_INVALID');
      expect(e.details).toMatchObject({
        field: 'component_name',
        value: name,
        problem: 'must be a non-empty string',
        layer: 'api',
      });
    }
  });

  it('restart backoff base above max', () => {
    const e = failure(() => new CollectorConfig().withRestartBackoff(500, 100).validate());
    expect(e.details).toEqual({
      field: 'restart_backoff_base',
      value: 500,
      problem: 'must not exceed restart_backoff_max (100)',
      layer: 'api',
      source: 'withRestartBackoff()',
    });
    expect(new CollectorConfig().withRestartBackoff(100, 100).validate().restartBackoffBase).toBe(100);
  });

  it('non-boolean switches', () => {
    const e = failure(() => new CollectorConfig({ debugLogging: 'yes' as unknown as boolean }).validate());
    expect(e.details).toMatchObject({ field: 'debug_logging', value: 'yes', problem: 'must be true or false' });
  });

  it('the Collector constructor validates', () => {
    const e = failure(() => new Collector(new CollectorConfig().withMaxBatchSize(0)));
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.details.field).toBe('max_batch_size');
  });
});

describe('CollectorConfig.fromLoaded', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'de-cfg-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes values and keeps their origins; the threshold is derived from the loaded buffer', () => {
    const user = join(dir, 'collector.toml');
    writeFileSync(
      user,
      'component_name = "procmond"\nevent_buffer_size = 500\nmax_batch_size = 50\nbatch_timeout = "250ms"',
    );
    const loaded = loadConfig({
      schema: collectorConfigSchema,
      systemFile: null,
      userFile: user,
      env: { DAEMONEYE_COLLECTOR_SHUTDOWN_TIMEOUT: '5s' },
      flags: ['debug_logging=true'],
    });
    const cfg = CollectorConfig.fromLoaded(loaded);
    const s = cfg.validate();
    expect(s).toMatchObject({
      componentName: 'procmond',
      eventBufferSize: 500,
      maxBatchSize: 50,
      batchTimeout: 250,
      backpressureThreshold: 400,
      shutdownTimeout: 5000,
      debugLogging: true,
      startupTimeout: 10_000,
    });
    expect(cfg.originOf('eventBufferSize')).toEqual({ layer: 'user', source: user });
    expect(cfg.originOf('shutdownTimeout')).toEqual({ layer: 'env', source: 'DAEMONEYE_COLLECTOR_SHUTDOWN_TIMEOUT' });
    expect(cfg.originOf('debugLogging')).toEqual({ layer: 'flag', source: '--set debug_logging=true' });
    expect(cfg.originOf('startupTimeout')).toEqual({ layer: 'default', source: 'built-in default' });
  });

  it('carries the file origin into the validation error', () => {
    const user = join(dir, 'collector.toml');
    writeFileSync(user, 'max_batch_size = 20000');
    const cfg = CollectorConfig.fromLoaded(
      loadConfig({ schema: collectorConfigSchema, systemFile: null, userFile: user, env: {} }),
    );
    const e = failure(() => cfg.validate());
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.message).toBe(`max_batch_size = 20000 must not exceed event_buffer_size (10000) (set by user ${user})`);
    expect(e.details).toEqual({
      field: 'max_batch_size',
      value: 20000,
      problem: 'must not exceed event_buffer_size (10000)',
      layer: 'user',
      source: user,
    });
  });

  it('names the environment variable that set a bad threshold', () => {
    const cfg = CollectorConfig.fromLoaded(
      loadConfig({
        schema: collectorConfigSchema,
        systemFile: null,
        userFile: null,
        env: { DAEMONEYE_COLLECTOR_BACKPRESSURE_THRESHOLD: '10000' },
      }),
    );
    const e = failure(() => new Collector(cfg));
    expect(e.message).toBe(
      'backpressure_threshold = 10000 must be below event_buffer_size (10000) (set by env DAEMONEYE_COLLECTOR_BACKPRESSURE_THRESHOLD)',
    );
  });
});
