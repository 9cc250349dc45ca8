/**
 * The seed's "Custom Event Source", in TypeScript: a source declares its capabilities, sends events
 * through the sender until its shutdown signal aborts, and answers health checks.
 */
import { CollectionEvent, type EventSender, type EventSource, SourceCaps, type SourceCapsBits } from '@daemoneye/core';

export class CustomEventSource implements EventSource {
  readonly #name: string;
  readonly #intervalMs: number;
  #running = false;

  constructor(name = 'custom-source', intervalMs = 10) {
    this.#name = name;
    this.#intervalMs = intervalMs;
  }

  name(): string {
    return this.#name;
  }

  capabilities(): SourceCapsBits {
    return SourceCaps.PERFORMANCE | SourceCaps.REALTIME;
  }

  async start(tx: EventSender, shutdownSignal: AbortSignal): Promise<void> {
    this.#running = true;
    let counter = 0;
    while (!shutdownSignal.aborted) {
      const event = CollectionEvent.performance({
        metricName: 'custom.counter',
        value: counter++,
        unit: 'count',
        component: 'custom',
      });
      if (!(await tx.send(event))) break;
      await new Promise((resolve) => setTimeout(resolve, this.#intervalMs));
    }
    this.#running = false;
  }

  async stop(): Promise<void> {
    this.#running = false;
  }

  async healthCheck(): Promise<void> {
    if (!this.#running) throw new Error('custom source is not running');
  }
}
