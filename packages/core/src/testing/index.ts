/**
 * @daemoneye/core/testing — test doubles and the source conformance suite: `MockEventSource`,
 * `TestCollector`, `createTestConfig()` (the seed's names) and `checkSourceConformance`.
 */

export type { ConformanceCheck, ConformanceOptions, ConformanceReport } from './conformance.ts';
export { checkSourceConformance } from './conformance.ts';
export type { MockEventSourceOptions } from './mock-event-source.ts';
export { MockEventSource } from './mock-event-source.ts';
export { TestCollector } from './test-collector.ts';
export { createTestConfig, TEST_SETTINGS } from './test-config.ts';
