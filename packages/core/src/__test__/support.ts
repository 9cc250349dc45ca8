/**
 * Helpers shared by core's own tests: sleeping, polling for a condition, waiting for an abort,
 * numbered events and summing drop counters. Not shipped (the build leaves `__test__` out).
 */
import { CollectionEvent, type PerformanceEvent } from '../event.ts';

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
