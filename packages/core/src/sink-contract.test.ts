import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ev, readyUntilAborted, sum, testConfig, waitFor } from './__test__/support.ts';
import { Collector } from './collector.ts';
import { CollectorError } from './errors.ts';
import type { EventBatch } from './record.ts';
import type { EventSender, EventSink, HealthReport, PluginRuntime } from './source.ts';

function sending(n: number) {
  return {
    name: () => 'src',
    capabilities: () => 8,
    async start(tx: EventSender, signal: AbortSignal) {
      for (let i = 0; i < n; i++) await tx.send(ev(i));
      await readyUntilAborted(tx, signal);
    },
    async stop() {},
    async healthCheck() {},
  };
}

describe('the sink contract', () => {
  it('opens before the first batch with the host identity, writes with a signal, closes once', async () => {
    const calls: string[] = [];
    let runtime: PluginRuntime | undefined;
    let writeSignal: AbortSignal | undefined;
    const c = new Collector(testConfig(), { host: { hostname: 'h1', machineId: '0'.repeat(32) } });
    c.register(sending(5));
    c.addSink({
      name: () => 'lifecycle',
      async open(_signal, rt) {
        runtime = rt;
        calls.push('open');
      },
      async write(batch, signal) {
        writeSignal = signal;
        calls.push(`write ${batch.length}`);
      },
      async close() {
        calls.push('close');
      },
    });
    const run = c.run();
    await waitFor(() => calls.includes('write 5'), 'the batch');
    await c.shutdown();
    await run;
    expect(calls).toEqual(['open', 'write 5', 'close']);
    expect(runtime).toMatchObject({ componentName: 'test', host: { hostname: 'h1', machineId: '0'.repeat(32) } });
    expect(writeSignal?.aborted).toBe(false);
    // The runtime's read-only view is this collector's.
    const view = runtime?.collector;
    expect(view?.sources().map((s) => s.name())).toEqual(c.sourceNames());
    expect(view?.capabilities()).toBe(c.capabilities());
    expect(view?.health().sinks.map((s) => s.name)).toEqual(['lifecycle']);
    expect(view?.stats().sequence.runId).toBe(c.stats().sequence.runId);
  });

  it('aborts a stuck write at the shutdown deadline and counts its events as shutdown_timeout', async () => {
    const c = new Collector(testConfig().withShutdownTimeout(200));
    c.register(sending(3));
    let aborted = false;
    c.addSink({
      name: () => 'stuck',
      write: (_batch, signal) =>
        new Promise<void>((_, reject) => {
          signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('aborted'));
          });
        }),
    });
    const run = c.run();
    await waitFor(() => c.stats().sinks[0]?.inFlight === 3, 'the write');
    const report = await c.shutdown();
    await run;
    expect(aborted).toBe(true);
    expect(report).toMatchObject({ drained: false, undelivered: 3 });
    expect(report.sinks).toEqual([{ name: 'stuck', received: 3, delivered: 0, dropped: { shutdown_timeout: 3 } }]);
  });

  it('counts a closed consumer exactly as sink_closed and stops normally when every sink has closed', async () => {
    const c = new Collector(testConfig().withMaxBatchSize(10).withEventBufferSize(100));
    let writes = 0;
    c.register(sending(40));
    c.addSink({
      name: () => 'head',
      async write() {
        writes++;
        if (writes > 1) throw new CollectorError('ERR_SINK_CLOSED', 'stdout closed by its reader (EPIPE)');
      },
    });
    const report = await c.run();
    expect(writes).toBe(2);
    const sink = report.sinks[0];
    expect(sink?.delivered).toBe(10);
    expect((sink?.delivered ?? 0) + sum(sink?.dropped ?? {})).toBe(sink?.received);
    expect(Object.keys(sink?.dropped ?? {})).toEqual(['sink_closed']);
    expect(report.drained).toBe(true);
    expect(c.health().sinks[0]).toMatchObject({
      status: 'Unhealthy',
      reason: 'closed: ERR_SINK_CLOSED: stdout closed by its reader (EPIPE)',
    });
    const s = c.stats();
    expect(s.events.accepted).toBe(sink?.received);
  });

  it('opens at start; a failing open drops the batch waiting for it as sink_error and is tried again before the next', async () => {
    let opens = 0;
    const written: number[] = [];
    const c = new Collector(testConfig().withMaxBatchSize(5));
    c.register(sending(10));
    c.addSink({
      name: () => 'flaky-open',
      async open() {
        opens++;
        // The first attempt is at start (no batch waits for it), the second before the first batch.
        if (opens <= 2) throw new Error('connection refused');
      },
      async write(batch) {
        written.push(batch.length);
      },
    });
    const run = c.run();
    await waitFor(() => written.length === 1, 'the second batch');
    await c.shutdown();
    await run;
    expect(opens).toBe(3);
    expect(c.stats().sinks[0]).toMatchObject({ received: 10, delivered: 5, dropped: { sink_error: 5 }, opened: true });
  });

  it("shows a sink's own health, polled on the health interval", async () => {
    let own: HealthReport | undefined = { status: 'degraded', reason: 'broker unreachable; spooling' };
    const c = new Collector(testConfig().withHealthCheckInterval(20));
    c.register(sending(0));
    const sink: EventSink = { name: () => 'forwarder', write: async () => {}, health: () => own };
    c.addSink(sink, { overflow: 'drop-oldest' });
    const run = c.run();
    await waitFor(() => c.health().status === 'Degraded', 'Degraded');
    expect(c.health().reasons).toEqual(['sink forwarder: broker unreachable; spooling']);
    own = undefined;
    await waitFor(() => c.health().status === 'Healthy', 'Healthy again');
    own = { status: 'unhealthy', reason: 'spool full' };
    await waitFor(() => c.health().sinks[0]?.status === 'Unhealthy', 'Unhealthy sink');
    // A lossy (drop-oldest) sink failing makes the collector Degraded, not Unhealthy.
    expect(c.health().status).toBe('Degraded');
    await c.shutdown();
    await run;
  });

  it('accepts the old contract: write(batch) reading plain events', async () => {
    const values: number[] = [];
    const c = new Collector(testConfig());
    c.register(sending(3));
    c.addSink({
      name: () => 'old',
      async write(batch: readonly import('./event.ts').CollectionEvent[]) {
        for (const e of batch) if (e.kind === 'performance') values.push(e.value);
      },
    });
    const run = c.run();
    await waitFor(() => values.length === 3, 'delivery');
    await c.shutdown();
    await run;
    expect(values).toEqual([0, 1, 2]);
  });
});

describe('Collector.run({ signal })', () => {
  it('shuts down gracefully when the signal aborts, already or later', async () => {
    const c1 = new Collector(testConfig());
    c1.register(sending(0));
    const r1 = await c1.run({ signal: AbortSignal.abort() });
    expect(r1.drained).toBe(true);
    const c2 = new Collector(testConfig());
    const batches: EventBatch[] = [];
    c2.register(sending(4));
    c2.addSink({ name: () => 'm', write: async (b) => void batches.push(b) });
    const ctl = new AbortController();
    const running = c2.run({ signal: ctl.signal });
    await waitFor(() => batches.flat().length === 4, 'delivery');
    ctl.abort();
    expect((await running).drained).toBe(true);
    expect(c2.stats().state).toBe('stopped');
  });

  it('leaves nothing that keeps the process alive once it is done', () => {
    const index = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    const script = `
      import { Collector, CollectorConfig } from ${JSON.stringify(index)};
      const c = new Collector(new CollectorConfig().withTelemetry(false).withHealthCheckInterval(50));
      c.register({ name: () => 's', capabilities: () => 8, async start(tx, signal) { tx.ready();
        await new Promise((r) => signal.addEventListener('abort', r)); }, async stop() {}, async healthCheck() {} });
      const report = await c.run({ signal: AbortSignal.timeout(150) });
      console.log(JSON.stringify({ drained: report.drained }));
    `;
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--input-type=module', '--eval', script], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('{"drained":true}');
    expect(r.status).toBe(0);
    // It ran until its signal (150 ms) and ended by itself soon after, with no timer left behind.
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
