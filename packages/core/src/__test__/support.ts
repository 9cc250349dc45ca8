/**
 * Helpers shared by core's own tests: sleeping, polling for a condition, waiting for an abort,
 * numbered events and summing drop counters. Not shipped (the build leaves `__test__` out).
 */
import { CollectorConfig } from '../config.ts';
import { type CollectorError, isCollectorError } from '../errors.ts';
import { CollectionEvent, type PerformanceEvent } from '../event.ts';
import { silentLogger } from '../logger.ts';
import type { PipelineOptions } from '../pipeline.ts';
import type { SinkQueueOptions } from '../sink-queue.ts';
import type { EventSender, OverflowPolicy } from '../source.ts';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 2 ms; rejects naming `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** Resolves when `signal` aborts. */
export const untilAborted = (signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });

/** Performance event number `i`, with a fixed timestamp derived from it. */
export function ev(i: number): PerformanceEvent {
  return CollectionEvent.performance({
    metricName: 'seq',
    value: i,
    unit: 'n',
    component: 'test',
    timestamp: 1_700_000_000_000 + i,
  });
}

/** The sum of a counter record. */
export const sum = (r: Readonly<Record<string, number>>): number => Object.values(r).reduce((a, b) => a + b, 0);

/** The CollectorError `fn` throws; fails the test when it throws something else or nothing. */
export function failure(fn: () => unknown): CollectorError {
  try {
    fn();
  } catch (e) {
    if (isCollectorError(e)) return e;
    throw e;
  }
  throw new Error('expected a CollectorError');
}

/** A fast configuration for runtime tests: short batch, restart, startup and shutdown times, no telemetry. */
export function testConfig(): CollectorConfig {
  return new CollectorConfig()
    .withComponentName('test')
    .withBatchTimeout(20)
    .withRestartBackoff(20, 200)
    .withStartupTimeout(200)
    .withShutdownTimeout(2000)
    .withHealthCheckInterval(1000)
    .withTelemetry(false);
}

/** A source body that says it is ready and runs until aborted. */
export function readyUntilAborted(tx: EventSender, signal: AbortSignal): Promise<void> {
  tx.ready();
  return untilAborted(signal);
}

/** SinkQueue options for a queue used alone: a deadline that never aborts, a test host. */
export function queueOptions(capacity: number, overflow: OverflowPolicy): SinkQueueOptions {
  return {
    capacity,
    overflow,
    logger: silentLogger,
    deadline: new AbortController().signal,
    runtime: { componentName: 'test', host: { hostname: 'test-host' }, dataDir: undefined, logger: silentLogger },
  };
}

/** Pipeline options with the derived lane at its defaults. */
export function pipelineOptions(o: Omit<PipelineOptions, 'derivedCapacity' | 'maxDerivationDepth'>): PipelineOptions {
  return { ...o, derivedCapacity: 1000, maxDerivationDepth: 4 };
}
