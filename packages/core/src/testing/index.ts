/**
 * @daemoneye/core/testing — test doubles and the source conformance suite: `MockEventSource`,
 * `TestCollector`, `createTestConfig()` (the seed's names) and `checkSourceConformance`.
 */
export { MockEventSource } from './mock-event-source.ts';
export type { MockEventSourceOptions } from './mock-event-source.ts';
export { TestCollector } from './test-collector.ts';
export { TEST_SETTINGS, createTestConfig } from './test-config.ts';
export { checkSourceConformance } from './conformance.ts';
export type { ConformanceCheck, ConformanceOptions, ConformanceReport } from './conformance.ts';
