/**
 * `MockEventSource`: a scriptable EventSource for tests, as the seed's test utilities name it. It
 * emits a given list of events (through `send` or `trySend`), can fail its first starts or its health
 * checks, and records every lifecycle call so tests can assert on them. It is a test double, not a
 * sample of how to write a real source.
 */
import type { CollectionEvent } from '../event.ts';
import type { EventSender, EventSource } from '../source.ts';
import { SourceCaps, type SourceCapsBits } from '../source-caps.ts';

/** Options of {@link MockEventSource}. */
export interface MockEventSourceOptions {
  readonly name?: string;
  readonly capabilities?: SourceCapsBits;
  /** Events to emit after each start (or a function building them per start). */
  readonly events?: readonly CollectionEvent[] | ((startNumber: number) => readonly CollectionEvent[]);
  /** Use `trySend` instead of awaiting `send`. */
  readonly useTrySend?: boolean;
  /** Throw from `start` this many times before running normally. */
  readonly failStarts?: number;
  /** Return from `start` right after emitting instead of waiting for the shutdown signal. */
  readonly returnEarly?: boolean;
  /** Make `healthCheck` reject with this message. */
  readonly unhealthy?: string;
  /** Milliseconds to wait before emitting. */
  readonly startDelayMs?: number;
}

/** A scriptable source that records its lifecycle. */
export class MockEventSource implements EventSource {
  readonly #options: MockEventSourceOptions;
  unhealthy: string | undefined;
  startCalls = 0;
  stopCalls = 0;
  healthChecks = 0;
  sent = 0;
  accepted = 0;
  readonly calls: string[] = [];

  constructor(options: MockEventSourceOptions = {}) {
    this.#options = options;
    this.unhealthy = options.unhealthy;
  }

  name(): string {
    return this.#options.name ?? 'mock-source';
  }

  capabilities(): SourceCapsBits {
    return this.#options.capabilities ?? SourceCaps.PROCESS;
  }

  async start(tx: EventSender, shutdownSignal: AbortSignal): Promise<void> {
    this.startCalls++;
    this.calls.push('start');
    if (this.startCalls <= (this.#options.failStarts ?? 0)) throw new Error(`mock start failure ${this.startCalls}`);
    if (this.#options.startDelayMs !== undefined) await new Promise((r) => setTimeout(r, this.#options.startDelayMs));
    const list =
      typeof this.#options.events === 'function' ? this.#options.events(this.startCalls) : (this.#options.events ?? []);
    tx.ready();
    for (const e of list) {
      if (shutdownSignal.aborted) break;
      this.sent++;
      const ok = this.#options.useTrySend === true ? tx.trySend(e) : await tx.send(e);
      if (ok) this.accepted++;
    }
    if (this.#options.returnEarly === true) return;
    await new Promise<void>((resolve) => {
      if (shutdownSignal.aborted) resolve();
      else shutdownSignal.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  async stop(): Promise<void> {
    this.stopCalls++;
    this.calls.push('stop');
  }

  async healthCheck(): Promise<void> {
    this.healthChecks++;
    if (this.unhealthy !== undefined) throw new Error(this.unhealthy);
  }
}
