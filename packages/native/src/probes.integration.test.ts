import { describe, expect, it } from 'vitest';
import { probeAudit, probeFanotify, probeInotify, probeProcConnector, probeSockDiag } from './probes.ts';

const root = process.getuid?.() === 0;
if (!root || process.platform !== 'linux') {
  process.stderr.write(
    `skipping the full-kernel probe expectations: ${process.platform !== 'linux' ? `platform is ${process.platform}` : 'not running as root'}\n`,
  );
}

describe('probes (kernel)', () => {
  it('never reject and resolve a well-formed value', async () => {
    const all = await Promise.all([
      probeProcConnector(),
      probeAudit(),
      probeSockDiag(),
      probeFanotify(),
      probeInotify(),
    ]);
    for (const p of all) {
      if (p.available) expect(p).toEqual({ available: true });
      else {
        expect(['not_linux', 'no_permission', 'unsupported', 'error']).toContain(p.code);
        expect(p.reason.length).toBeGreaterThan(0);
      }
    }
  });

  it.skipIf(!root || process.platform !== 'linux')(
    'as root on a full kernel, every interface is available',
    async () => {
      expect(
        await Promise.all([probeProcConnector(), probeAudit(), probeSockDiag(), probeFanotify(), probeInotify()]),
      ).toEqual([
        { available: true },
        { available: true },
        { available: true },
        { available: true },
        { available: true },
      ]);
    },
  );
});
