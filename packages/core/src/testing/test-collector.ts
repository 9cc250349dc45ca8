/**
 * `TestCollector`: a Collector wired to an in-memory sink, for tests of sources and of the runtime.
 * It starts on `start()`, lets a test wait for a number of events or for a predicate, and shuts down
 * on `stop()`. It is a convenience over the public Collector API, not a second runtime.
 */
import { Collector, type ShutdownReport } from '../collector.ts';
import type { CollectorConfig } from '../config.ts';
import type { CollectionEvent } from '../event.ts';
import type { Logger } from '../logger.ts';
import type { EventSource } from '../source.ts';
import { createTestConfig } from './test-config.ts';

/** A collector with a memory sink. */
export class TestCollector {
  readonly collector: Collector;
  readonly events: CollectionEvent[] = [];
  readonly batches: number[] = [];
  #running: Promise<ShutdownReport> | undefined;
  #waiters: { check: () => boolean; resolve: () => void }[] = [];

  constructor(config: CollectorConfig = createTestConfig(), options: { logger?: Logger } = {}) {
    this.collector = new Collector(config, options);
    this.collector.addSink({
      name: () => 'test-memory-sink',
      write: async (batch) => {
        this.batches.push(batch.length);
        for (const e of batch) this.events.push(e);
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.check()) return true;
          w.resolve();
          return false;
        });
      },
    });
  }

  /** Registers a source. */
  register(source: EventSource): this {
    this.collector.register(source);
    return this;
  }

  /** Starts the collector (does not wait for it to finish). */
  start(): this {
    this.#running ??= this.collector.run();
    return this;
  }

  /** Resolves once `predicate` holds for the collected events; rejects after `timeoutMs`. */
  waitFor(predicate: (events: readonly CollectionEvent[]) => boolean, timeoutMs = 5000): Promise<void> {
    if (predicate(this.events)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`condition not met within ${timeoutMs} ms (${this.events.length} events collected)`));
      }, timeoutMs);
      const waiter = {
        check: () => predicate(this.events),
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.#waiters.push(waiter);
    });
  }

  /** Resolves once at least `n` events arrived. */
  waitForEvents(n: number, timeoutMs = 5000): Promise<void> {
    return this.waitFor((events) => events.length >= n, timeoutMs);
  }

  /** Shuts the collector down gracefully and returns the report. */
  async stop(): Promise<ShutdownReport> {
    const report = await this.collector.shutdown();
    await this.#running;
    return report;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
