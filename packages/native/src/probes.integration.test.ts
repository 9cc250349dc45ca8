import { describe, expect, it } from 'vitest';
import { probeAudit, probeFanotify, probeInotify, probeProcConnector, probeSockDiag } from './probes.ts';

const root = process.getuid?.() === 0;
if (!root) process.stderr.write('skipping root probe expectations: not running as root\n');

describe('probes (kernel)', () => {
  it('never throw and return a well-formed value', () => {
    for (const p of [probeProcConnector(), probeAudit(), probeSockDiag(), probeFanotify(), probeInotify()]) {
      if (p.available) expect(p).toEqual({ available: true });
      else {
        expect(['not_linux', 'no_permission', 'unsupported', 'error']).toContain(p.code);
        expect(p.reason.length).toBeGreaterThan(0);
      }
    }
  });

  it.skipIf(!root || process.platform !== 'linux')('as root on a full kernel, every interface is available', () => {
    expect([probeProcConnector(), probeAudit(), probeSockDiag(), probeFanotify(), probeInotify()]).toEqual([
      { available: true },
      { available: true },
      { available: true },
      { available: true },
      { available: true },
    ]);
  });
});
