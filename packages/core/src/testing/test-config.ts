/**
 * `createTestConfig()`: a CollectorConfig sized for fast tests (small buffers, short timeouts,
 * telemetry off, quick restarts). Values can be overridden; the result is validated like any config.
 */
import { CollectorConfig, type CollectorSettings } from '../config.ts';

/** The settings `createTestConfig` starts from. */
export const TEST_SETTINGS: Partial<CollectorSettings> = {
  componentName: 'test-collector',
  eventBufferSize: 1000,
  maxBatchSize: 100,
  batchTimeout: 10,
  maxBackpressureWait: 200,
  startupTimeout: 1000,
  shutdownTimeout: 2000,
  healthCheckInterval: 100,
  enableTelemetry: false,
  restartBackoffBase: 10,
  restartBackoffMax: 100,
};

/** A config for tests, with `overrides` applied. */
export function createTestConfig(overrides: Partial<CollectorSettings> = {}): CollectorConfig {
  return new CollectorConfig({ ...TEST_SETTINGS, ...overrides });
}
