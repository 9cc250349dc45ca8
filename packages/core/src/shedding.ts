/**
 * The load-shedding signal: one small value the collector owns — a level from `none` through `shed`
 * to `severe`, with the reason it was raised — that plug-ins read and subscribe to, so that when the
 * collector runs over its CPU or memory budget each of them can give up its optional work (longer
 * intervals, no hashing, no low-priority triggers, no top-N) and take it back when the level falls.
 * Deciding the level is the watchdog's job (`watchdog.ts`); this module only carries it.
 */

/** Shedding levels, lowest first. */
export const SheddingLevel = { None: 0, Shed: 1, Severe: 2 } as const;
/** A {@link SheddingLevel} value. */
export type SheddingLevel = (typeof SheddingLevel)[keyof typeof SheddingLevel];

/** The names of the levels, for logs, health and metrics. */
export const SHEDDING_LEVEL_NAMES: Readonly<Record<SheddingLevel, string>> = { 0: 'none', 1: 'shed', 2: 'severe' };

/** What a listener is told when the level changes. */
export interface SheddingChange {
  readonly level: SheddingLevel;
  readonly previous: SheddingLevel;
  /** Why the level is what it is now (undefined at `none`). */
  readonly reason: string | undefined;
}

/**
 * The read side plug-ins get (`context.shedding`, `runtime.shedding`). `onChange` returns the function
 * that unsubscribes; a listener that throws is ignored (the others still run).
 */
export interface SheddingSignal {
  readonly level: SheddingLevel;
  readonly reason: string | undefined;
  onChange(listener: (change: SheddingChange) => void): () => void;
}

/** The write side: held by the collector and set by its watchdog. */
export class SheddingController implements SheddingSignal {
  #level: SheddingLevel = SheddingLevel.None;
  #reason: string | undefined;
  #changes = 0;
  #since = Date.now();
  readonly #listeners = new Set<(change: SheddingChange) => void>();

  get level(): SheddingLevel {
    return this.#level;
  }

  get reason(): string | undefined {
    return this.#reason;
  }

  /** How many times the level changed. */
  get changes(): number {
    return this.#changes;
  }

  /** When the level last changed (epoch ms). */
  get since(): number {
    return this.#since;
  }

  onChange(listener: (change: SheddingChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Sets the level; listeners are called (synchronously) only when the level changes. */
  set(level: SheddingLevel, reason?: string): void {
    const previous = this.#level;
    this.#reason = level === SheddingLevel.None ? undefined : reason;
    if (level === previous) return;
    this.#level = level;
    this.#changes++;
    this.#since = Date.now();
    const change: SheddingChange = { level, previous, reason: this.#reason };
    for (const l of [...this.#listeners]) {
      try {
        l(change);
      } catch {
        // A plug-in's listener failing must not stop the others from shedding.
      }
    }
  }
}
