/**
 * Duration and size parsing for configuration: `"100ms"`, `"5s"`, `"2m"`, `"1h"` or a bare number of
 * milliseconds; `"32MiB"`, `"512k"` or a bare number of bytes. Parsing only; callers decide ranges.
 */

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

function parseWithUnits(text: string, units: Readonly<Record<string, number>>): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (m === null) return undefined;
  const unit = (m[2] ?? '').toLowerCase();
  const factor = unit === '' ? 1 : units[unit];
  if (factor === undefined) return undefined;
  return Math.round(Number(m[1]) * factor);
}

/** Milliseconds from `"250ms"`, `"5s"`, `"1.5m"`, `"2h"`, `"1d"` or `"100"`; `undefined` if malformed. */
export function parseDuration(text: string): number | undefined {
  return parseWithUnits(text, DURATION_UNITS);
}

/** Bytes from `"32MiB"`, `"512k"`, `"1GB"` or `"4096"`; `undefined` if malformed. */
export function parseByteSize(text: string): number | undefined {
  return parseWithUnits(text, SIZE_UNITS);
}

/** A compact human form of a millisecond duration: `100ms`, `5s`, `2m`, `1h`. */
export function formatDuration(ms: number): string {
  for (const [unit, f] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= f && ms % f === 0) return `${ms / f}${unit}`;
  }
  return `${ms}ms`;
}
