/**
 * `RecordingSender`: an `EventSender` for unit tests of sources, without a collector. It keeps every
 * event and reported loss, accepts at once (or refuses `trySend` while `accept` is false), records
 * `ready()`, and lets a test wait for a condition. It applies no backpressure; use `TestCollector`
 * for tests that need the real channel.
 */
import type { CollectionEvent, EventKind } from '../event.ts';
import type { EventSender } from '../source.ts';

/** A sender that keeps every event. */
export class RecordingSender implements EventSender {
  readonly events: CollectionEvent[] = [];
  readonly losses: { count: number; reason: string }[] = [];
  readyCalled = false;
  closed = false;
  underPressure = false;
  /** While false, `trySend` refuses (as a full channel would). */
  accept = true;

  async send(e: CollectionEvent): Promise<boolean> {
    this.events.push(e);
    return true;
  }
  trySend(e: CollectionEvent): boolean {
    if (!this.accept) return false;
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

  /** The events of one kind, and of one subtype when given. */
  ofKind<K extends EventKind>(kind: K, subtype?: string): Extract<CollectionEvent, { kind: K }>[] {
    return this.events.filter(
      (e): e is Extract<CollectionEvent, { kind: K }> =>
        e.kind === kind && (subtype === undefined || (e as { subtype?: string }).subtype === subtype),
    );
  }

  /** Resolves once `pred` holds (polled every 5 ms); rejects after `ms` with `describe()`'s text. */
  async waitFor(pred: (s: this) => boolean, ms = 5000, describe?: () => string): Promise<void> {
    const end = Date.now() + ms;
    while (!pred(this)) {
      if (Date.now() > end) {
        throw new Error(`condition not met after ${ms} ms; ${describe?.() ?? `${this.events.length} events`}`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}
