/**
 * Small bounded statistics primitives used across the runtime: drop counters keyed by reason, a
 * fixed-size latency reservoir with percentiles, and a bucketed size histogram. All are bounded in
 * memory whatever the event rate. They count; they do not log or decide.
 */

/** Counts by reason (`channel_full`, `queue_full`, …). */
export class ReasonCounter {
  readonly #counts = new Map<string, number>();

  add(reason: string, n = 1): void {
    if (n <= 0) return;
    this.#counts.set(reason, (this.#counts.get(reason) ?? 0) + n);
  }

  get(reason: string): number {
    return this.#counts.get(reason) ?? 0;
  }

  total(): number {
    let t = 0;
    for (const v of this.#counts.values()) t += v;
    return t;
  }

  toObject(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }
}

/** Percentile summary of recent samples. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** The last `capacity` samples (milliseconds), with percentiles on demand. */
export class LatencyReservoir {
  readonly #samples: Float64Array;
  #next = 0;
  #filled = 0;
  #total = 0;

  constructor(capacity = 2048) {
    this.#samples = new Float64Array(capacity);
  }

  record(ms: number): void {
    this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#samples.length;
    if (this.#filled < this.#samples.length) this.#filled++;
    this.#total++;
  }

  summary(): LatencySummary {
    if (this.#filled === 0) return { count: 0, p50: 0, p90: 0, p99: 0, max: 0 };
    const sorted = this.#samples.slice(0, this.#filled).sort();
    const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    return { count: this.#total, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1] ?? 0 };
  }
}

/** Upper bounds of the batch-size histogram buckets; the last bucket is open. */
export const BATCH_SIZE_BUCKETS = [1, 10, 100, 1000, 10_000] as const;

/** Counts of values per bucket (`≤1`, `≤10`, …, `>10000`). */
export class SizeHistogram {
  readonly #counts = new Array<number>(BATCH_SIZE_BUCKETS.length + 1).fill(0);

  record(size: number): void {
    let i = 0;
    while (i < BATCH_SIZE_BUCKETS.length && size > (BATCH_SIZE_BUCKETS[i] ?? 0)) i++;
    this.#counts[i] = (this.#counts[i] ?? 0) + 1;
  }

  toObject(): Record<string, number> {
    const out: Record<string, number> = {};
    BATCH_SIZE_BUCKETS.forEach((b, i) => {
      out[`le_${b}`] = this.#counts[i] ?? 0;
    });
    out[`gt_${BATCH_SIZE_BUCKETS[BATCH_SIZE_BUCKETS.length - 1]}`] = this.#counts[BATCH_SIZE_BUCKETS.length] ?? 0;
    return out;
  }
}
