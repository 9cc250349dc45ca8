/**
 * @daemoneye/core/testing — test doubles and the source conformance suite: `MockEventSource`,
 * `TestCollector`, `createTestConfig()` (the seed's names), `RecordingSender` and `checkSourceConformance`.
 */

export type { ConformanceCheck, ConformanceOptions, ConformanceReport } from './conformance.ts';
export { checkSourceConformance } from './conformance.ts';
export type { MockEventSourceOptions } from './mock-event-source.ts';
export { MockEventSource } from './mock-event-source.ts';
export { RecordingSender } from './recording-sender.ts';
export { TestCollector } from './test-collector.ts';
export { createTestConfig, TEST_SETTINGS } from './test-config.ts';
