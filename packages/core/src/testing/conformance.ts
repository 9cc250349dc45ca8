/**
 * The source conformance suite: checks any EventSource against the contract the runtime relies on —
 * a stable name and capabilities, `start` that runs until its signal aborts and then returns
 * promptly, idempotent `stop`, a health check that passes once started, valid events whose kinds
 * match the declared capabilities, a clean run under a real Collector, and a restart after a stop. It
 * is framework-neutral: it returns a report that a test asserts on (`expect(report.failures).toEqual([])`).
 */

import { describeError } from '../errors.ts';
import { CollectionEvent, type EventKind } from '../event.ts';
import type { EventSender, EventSource } from '../source.ts';
import { SourceCaps, type SourceCapsBits, SourceCapsFlags } from '../source-caps.ts';
import { TestCollector } from './test-collector.ts';
import { createTestConfig } from './test-config.ts';

/** Options of {@link checkSourceConformance}. */
export interface ConformanceOptions {
  /** Expect at least this many events within `eventTimeoutMs` of a start (default 0). */
  readonly minEvents?: number;
  /** How long to wait for events and readiness (default 5,000 ms). */
  readonly eventTimeoutMs?: number;
  /** How long `start` may take to return after its signal aborted (default 2,000 ms). */
  readonly stopTimeoutMs?: number;
}

/** One conformance check's outcome. */
export interface ConformanceCheck {
  readonly check: string;
  readonly ok: boolean;
  readonly message?: string;
}

/** The suite's outcome: every check, and the failed ones. */
export interface ConformanceReport {
  readonly checks: readonly ConformanceCheck[];
  readonly failures: readonly ConformanceCheck[];
}

const KIND_CAP: Readonly<Partial<Record<EventKind, number>>> = {
  process: SourceCaps.PROCESS,
  network: SourceCaps.NETWORK,
  filesystem: SourceCaps.FILESYSTEM,
  performance: SourceCaps.PERFORMANCE,
};

const DAY = 86_400_000;

function recordingSender(events: CollectionEvent[]): EventSender & { readyCalled: boolean } {
  const tx = {
    readyCalled: false,
    send: async (e: CollectionEvent) => {
      events.push(e);
      return true;
    },
    trySend: (e: CollectionEvent) => {
      events.push(e);
      return true;
    },
    pressure: () => 0,
    underPressure: false,
    closed: false,
    ready: () => {
      tx.readyCalled = true;
    },
    reportLoss: () => {},
  };
  return tx;
}

const timeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms).unref()),
  ]);

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return cond();
}

function eventProblems(events: readonly CollectionEvent[], caps: SourceCapsBits): string[] {
  const problems: string[] = [];
  const now = Date.now();
  for (const e of events.slice(0, 10_000)) {
    if (!CollectionEvent.isEvent(e)) {
      problems.push(`not a CollectionEvent: ${JSON.stringify(e).slice(0, 120)}`);
      continue;
    }
    const need = KIND_CAP[e.kind];
    if (need !== undefined && (caps & need) >>> 0 === 0)
      problems.push(`${e.kind} event from a source without the ${e.kind} capability`);
    if (Math.abs(e.timestamp - now) > DAY) problems.push(`timestamp ${e.timestamp} is not epoch milliseconds near now`);
    if (problems.length >= 5) break;
  }
  return problems;
}

/**
 * Runs the conformance checks against sources built by `create` (called once per check that needs a
 * fresh source). Never throws: every problem is a failed check in the report.
 */
export async function checkSourceConformance(
  create: () => EventSource,
  options: ConformanceOptions = {},
): Promise<ConformanceReport> {
  const minEvents = options.minEvents ?? 0;
  const waitMs = options.eventTimeoutMs ?? 5000;
  const stopMs = options.stopTimeoutMs ?? 2000;
  const checks: ConformanceCheck[] = [];
  const run = async (check: string, body: () => Promise<string | undefined>): Promise<void> => {
    try {
      const problem = await body();
      checks.push(problem === undefined ? { check, ok: true } : { check, ok: false, message: problem });
    } catch (e) {
      checks.push({ check, ok: false, message: describeError(e) });
    }
  };

  await run('name() is a stable non-empty string', async () => {
    const s = create();
    const n = s.name();
    if (typeof n !== 'string' || n.trim() === '') return `name() returned ${JSON.stringify(n)}`;
    return s.name() === n ? undefined : 'name() changed between calls';
  });

  await run('capabilities() are known unsigned bits', async () => {
    const caps = create().capabilities();
    if (!Number.isInteger(caps) || caps < 0 || caps > 0xffffffff) return `capabilities() returned ${caps}`;
    if ((caps & ~SourceCapsFlags.all) >>> 0 !== 0) return `unknown capability bits in ${caps}`;
    return (caps & (SourceCaps.PROCESS | SourceCaps.NETWORK | SourceCaps.FILESYSTEM | SourceCaps.PERFORMANCE)) === 0
      ? 'declares no monitoring domain (process, network, filesystem or performance)'
      : undefined;
  });

  await run('start() runs until aborted, then returns; stop() is idempotent; restart works', async () => {
    const s = create();
    for (let round = 1; round <= 2; round++) {
      const events: CollectionEvent[] = [];
      const ctl = new AbortController();
      let settled = false;
      const started = s.start(recordingSender(events), ctl.signal).finally(() => {
        settled = true;
      });
      started.catch(() => {});
      if (!(await until(() => events.length >= minEvents, waitMs))) {
        ctl.abort();
        await s.stop();
        return `round ${round}: ${events.length} events within ${waitMs} ms, expected at least ${minEvents}`;
      }
      await new Promise((r) => setTimeout(r, 50));
      if (settled) {
        await started;
        return `round ${round}: start() returned before its signal aborted`;
      }
      ctl.abort();
      await timeout(started, stopMs, `round ${round}: start() after abort`);
      await timeout(s.stop(), stopMs, 'stop()');
      await timeout(s.stop(), stopMs, 'second stop()');
      const problems = eventProblems(events, s.capabilities());
      if (problems.length > 0) return `round ${round}: ${problems.join('; ')}`;
    }
    return undefined;
  });

  await run('healthCheck() passes once started', async () => {
    const s = create();
    const ctl = new AbortController();
    const started = s.start(recordingSender([]), ctl.signal);
    started.catch(() => {});
    let last = '';
    let healthy = false;
    const end = Date.now() + waitMs;
    while (!healthy && Date.now() < end) {
      try {
        await timeout(s.healthCheck(), waitMs, 'healthCheck()');
        healthy = true;
      } catch (e) {
        last = describeError(e);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    ctl.abort();
    const stopped = await timeout(started, stopMs, 'start() after abort').then(
      () => undefined,
      (e: unknown) => describeError(e),
    );
    await s.stop();
    if (!healthy) return `healthCheck() kept failing: ${last}`;
    return stopped;
  });

  await run('runs under a Collector and shuts down cleanly', async () => {
    const tc = new TestCollector(createTestConfig({ startupTimeout: waitMs, shutdownTimeout: stopMs * 2 }));
    tc.register(create()).start();
    let problem: string | undefined;
    try {
      if (minEvents > 0) await tc.waitForEvents(minEvents, waitMs);
      else await new Promise((r) => setTimeout(r, 200));
      const src = tc.collector.health().sources[0];
      if (src !== undefined && src.state !== 'running')
        problem = `source state is ${src.state} (${src.reason ?? 'no reason'})`;
    } catch (e) {
      problem = describeError(e);
    }
    const report = await tc.stop();
    if (problem !== undefined) return problem;
    if (!report.drained) return `shutdown did not drain (${report.undelivered} undelivered)`;
    const restarts = tc.collector.health().sources[0]?.restarts ?? 0;
    if (restarts > 0) return `the source was restarted ${restarts} times`;
    const problems = eventProblems(tc.events, tc.collector.capabilities());
    return problems.length > 0 ? problems.join('; ') : undefined;
  });

  return { checks, failures: checks.filter((c) => !c.ok) };
}
