import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDuration, parseByteSize, parseDuration } from './duration.ts';

describe('parseDuration', () => {
  it.each([
    ['100ms', 100],
    ['5s', 5000],
    ['1.5m', 90_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['100', 100],
    ['0', 0],
    [' 250 ms ', 250],
    ['5S', 5000],
    ['0.5s', 500],
    ['1.0005s', 1001],
  ])('%j → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 'soon', '5x', '-5s', '1e3', '.5s', '5 s s', 's', '5sec', '1,5s', 'ms100', 'NaN'])(
    '%j is malformed',
    (text) => {
      expect(parseDuration(text)).toBeUndefined();
    },
  );
});

describe('parseByteSize', () => {
  it.each([
    ['32MiB', 32 * 1024 * 1024],
    ['512k', 512 * 1024],
    ['1GB', 1_000_000_000],
    ['1gib', 1024 ** 3],
    ['2kb', 2000],
    ['4096', 4096],
    ['10b', 10],
    ['1.5KiB', 1536],
    ['64M', 64 * 1024 ** 2],
  ])('%j → %d bytes', (text, n) => {
    expect(parseByteSize(text)).toBe(n);
  });

  it.each(['', 'big', '5TiB', '-1k', '1e6', 'MiB', '32 MiBs'])('%j is malformed', (text) => {
    expect(parseByteSize(text)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([
    [100, '100ms'],
    [1000, '1s'],
    [5000, '5s'],
    [1500, '1500ms'],
    [90_000, '90s'],
    [120_000, '2m'],
    [3_600_000, '1h'],
    [86_400_000, '24h'],
    [0, '0ms'],
  ])('%d → %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('round-trips through parseDuration for every whole number of milliseconds (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.nat(),
          fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
          fc.nat(10_000).map((n) => n * 60_000),
        ),
        (ms) => {
          expect(parseDuration(formatDuration(ms))).toBe(ms);
        },
      ),
    );
  });

  it('parses "<n><unit>" to n × unit for whole n (property)', () => {
    const units = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
    fc.assert(
      fc.property(fc.nat(1_000_000), fc.constantFrom(...(Object.keys(units) as (keyof typeof units)[])), (n, unit) => {
        expect(parseDuration(`${n}${unit}`)).toBe(n * units[unit]);
      }),
    );
  });
});
