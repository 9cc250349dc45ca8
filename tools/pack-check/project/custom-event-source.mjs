// The seed's "Custom Event Source", as a user writes it in plain JavaScript: it declares its
// capabilities, sends counter events until its shutdown signal aborts, and answers health checks.
import { CollectionEvent, SourceCaps } from '@daemoneye/core';

export class CustomEventSource {
  #name;
  #intervalMs;
  #running = false;

  constructor(name = 'custom-source', intervalMs = 10) {
    this.#name = name;
    this.#intervalMs = intervalMs;
  }

  name() {
    return this.#name;
  }

  capabilities() {
    return SourceCaps.PERFORMANCE | SourceCaps.REALTIME;
  }

  async start(tx, shutdownSignal) {
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

  async stop() {
    this.#running = false;
  }

  async healthCheck() {
    if (!this.#running) throw new Error('custom source is not running');
  }
}
