/**
 * The seed's "Basic Collector Setup", in TypeScript: configure a collector with the fluent builder,
 * register a source and run until shutdown.
 */
import { Collector, CollectorConfig, type EventSource } from '@daemoneye/core';

export async function basicCollector(source: EventSource, runForMs: number): Promise<Collector> {
  const config = new CollectorConfig()
    .withComponentName('my-collector')
    .withMaxEventSources(10)
    .withEventBufferSize(1000)
    .withMaxBatchSize(100)
    .withBatchTimeout(100)
    .withHealthCheckInterval(30_000);

  const collector = new Collector(config);
  collector.register(source);

  const running = collector.run();
  setTimeout(() => void collector.shutdown(), runForMs);
  await running;
  return collector;
}
