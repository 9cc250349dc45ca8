// A source a third party writes outside the repository, in TypeScript: a definition with its own
// typed options (`[sources.ticker]`), loaded configuration that overrides one of them, and a
// collector composed from both. Compiled with `tsc` (strict, NodeNext) and run with plain node.
import {
  CollectionEvent,
  composeCollector,
  defineSource,
  type EventSender,
  type EventSource,
  field,
  loadConfig,
  pluginSchema,
  SourceCaps,
  type SourceCapsBits,
} from '@daemoneye/core';

class TickerSource implements EventSource {
  readonly #intervalMs: number;
  readonly #count: number;

  constructor(intervalMs: number, count: number) {
    this.#intervalMs = intervalMs;
    this.#count = count;
  }

  name(): string {
    return 'ticker';
  }

  capabilities(): SourceCapsBits {
    return SourceCaps.PERFORMANCE;
  }

  async start(tx: EventSender, shutdownSignal: AbortSignal): Promise<void> {
    for (let tick = 0; tick < this.#count && !shutdownSignal.aborted; tick++) {
      await tx.send(
        CollectionEvent.performance({ metricName: 'ticker.tick', value: tick, unit: 'count', component: 'ticker' }),
      );
      await new Promise((resolve) => setTimeout(resolve, this.#intervalMs));
    }
    if (!shutdownSignal.aborted) {
      await new Promise((resolve) => shutdownSignal.addEventListener('abort', resolve, { once: true }));
    }
  }

  async stop(): Promise<void> {}

  async healthCheck(): Promise<void> {}
}

const ticker = defineSource({
  key: 'ticker',
  description: 'Emits a counter',
  schema: {
    interval: field('duration', 50, 'Time between ticks', { min: 1 }),
    count: field('integer', 3, 'How many ticks', { min: 0 }),
  },
  create: (options) => {
    const enabled: boolean = options.enabled;
    const interval: number = options.interval;
    // @ts-expect-error the options hold only the schema's fields and `enabled`: there is no `nope`.
    const nope: unknown = options.nope;
    if (!enabled || nope !== undefined) throw new Error('unexpected ticker options');
    return new TickerSource(interval, options.count);
  },
});

const fail = (message: string): never => {
  console.log(`FAIL: third-party source: ${message}`);
  process.exit(1);
};

const loaded = loadConfig({
  schema: pluginSchema([ticker]),
  systemFile: null,
  userFile: null,
  env: {},
  flags: ['sources.ticker.count=5', 'batch_timeout=10ms'],
});
const collector = composeCollector(loaded, [ticker]);
const values: number[] = [];
const allTicks = new AbortController();
collector.addSink({
  name: () => 'mem',
  write: async (batch) => {
    for (const event of batch) if (event.kind === 'performance') values.push(event.value);
    if (values.length >= 5) allTicks.abort();
  },
});
const report = await collector.run({ signal: AbortSignal.any([allTicks.signal, AbortSignal.timeout(5000)]) });

if (!report.drained) fail('the collector did not drain');
if (values.join(',') !== '0,1,2,3,4') fail(`the sink received ticks [${values.join(', ')}], want [0, 1, 2, 3, 4]`);
console.log(`ok: third-party source: ${values.length} ticks (count=5 from the flags), typed options, drained`);
