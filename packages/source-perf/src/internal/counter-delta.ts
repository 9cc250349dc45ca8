/**
 * Deltas of monotonic kernel counters. A counter that went backwards was reset (a device removed and
 * re-added, a driver reloaded) or wrapped: the delta is unknown, and reporting it would be a bogus
 * spike, so it is `undefined` and the sample skips that rate; the next interval starts from the new
 * value. Pure.
 */

/** `cur - prev`, or `undefined` when either is missing or the counter went backwards. */
export function counterDelta(prev: number | undefined, cur: number | undefined): number | undefined {
  if (prev === undefined || cur === undefined || cur < prev) return undefined;
  return cur - prev;
}

/** Per-second rate of a counter over `seconds`, or `undefined` (see {@link counterDelta}). */
export function counterRate(prev: number | undefined, cur: number | undefined, seconds: number): number | undefined {
  const d = counterDelta(prev, cur);
  return d === undefined || seconds <= 0 ? undefined : d / seconds;
}
