/**
 * A recording `EventSender` for the performance source tests: keeps every event,
 * answers `send` at once, and waits for a condition. Test support only.
 */
import type { CollectionEvent, EventSender, PerformanceEvent } from '@daemoneye/core';

/** A sender that keeps every event. */
export class RecordingSender implements EventSender {
  readonly events: CollectionEvent[] = [];
  readonly losses: Array<{ count: number; reason: string }> = [];
  readyCalled = false;
  closed = false;
  underPressure = false;

  async send(e: CollectionEvent): Promise<boolean> {
    this.events.push(e);
    return true;
  }
  trySend(e: CollectionEvent): boolean {
    this.events.push(e);
    return true;
  }
  pressure(): number {
    return 0;
  }
  ready(): void {
    this.readyCalled = true;
  }
  reportLoss(count: number, reason: string): void {
    this.losses.push({ count, reason });
  }
  perf(subtype: PerformanceEvent['subtype'] = 'sample'): PerformanceEvent[] {
    return this.events.filter((e): e is PerformanceEvent => e.kind === 'performance' && e.subtype === subtype);
  }
  async waitFor(pred: (s: this) => boolean, ms = 5000): Promise<void> {
    const end = Date.now() + ms;
    while (!pred(this)) {
      if (Date.now() > end) throw new Error(`condition not met after ${ms} ms; ${this.events.length} events`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
