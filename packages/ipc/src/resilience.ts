/**
 * The client's resilience policies, as DaemonEye's client has them: exponential reconnect delays
 * (`min(cap, base · 2^attempt) + U[0, jitter)`; 100 ms base, 30 s cap, 100 ms jitter) and a circuit
 * breaker (opens after 5 failures in a row, lets a trial through after 30 s, closes again after 3
 * successes in a row; a failure while half-open opens it again). Time and chance are ports.
 */

/** Reconnect delay options. */
export interface BackoffOptions {
  readonly baseMs?: number;
  readonly capMs?: number;
  readonly jitterMs?: number;
  readonly random?: () => number;
}

/** The delay before reconnect attempt `attempt` (0 for the first retry). */
export function reconnectDelay(attempt: number, o: BackoffOptions = {}): number {
  const base = o.baseMs ?? 100;
  const cap = o.capMs ?? 30_000;
  const jitter = o.jitterMs ?? 100;
  const exp = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  return Math.min(cap, exp + (o.random ?? Math.random)() * jitter);
}

/** Circuit breaker options. */
export interface CircuitBreakerOptions {
  readonly failureThreshold?: number;
  readonly openMs?: number;
  readonly successThreshold?: number;
  readonly now?: () => number;
}

/** Where the breaker is. */
export type CircuitState = 'closed' | 'open' | 'half-open';

export class CircuitBreaker {
  readonly failureThreshold: number;
  readonly openMs: number;
  readonly successThreshold: number;
  readonly #now: () => number;
  #state: CircuitState = 'closed';
  #failures = 0;
  #successes = 0;
  #openedAt = 0;

  constructor(o: CircuitBreakerOptions = {}) {
    this.failureThreshold = o.failureThreshold ?? 5;
    this.openMs = o.openMs ?? 30_000;
    this.successThreshold = o.successThreshold ?? 3;
    this.#now = o.now ?? Date.now;
  }

  /** The state now (an open breaker whose time is up reads half-open). */
  get state(): CircuitState {
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.openMs) {
      this.#state = 'half-open';
      this.#successes = 0;
    }
    return this.#state;
  }

  /** Milliseconds until an open breaker lets a trial through (0 when not open). */
  get retryInMs(): number {
    return this.state === 'open' ? Math.max(0, this.openMs - (this.#now() - this.#openedAt)) : 0;
  }

  /** True when a call may go ahead. */
  allows(): boolean {
    return this.state !== 'open';
  }

  success(): void {
    const s = this.state;
    this.#failures = 0;
    if (s === 'half-open' && ++this.#successes >= this.successThreshold) this.#state = 'closed';
  }

  failure(): void {
    const s = this.state;
    if (s === 'half-open' || ++this.#failures >= this.failureThreshold) {
      this.#state = 'open';
      this.#openedAt = this.#now();
      this.#failures = 0;
      this.#successes = 0;
    }
  }
}
