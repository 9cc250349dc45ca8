/**
 * The committed TypeScript in `src/gen/` is what the generator makes from the `.proto` files today:
 * it runs `scripts/generate.mjs` into a temporary directory and compares every file byte for byte.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const PACKAGE = path.resolve(import.meta.dirname, '..');
const COMMITTED = path.join(PACKAGE, 'src', 'gen');
const out = mkdtempSync(path.join(tmpdir(), 'daemoneye-proto-gen-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('generated code', () => {
  it('matches a fresh generation from the .proto files', () => {
    const r = spawnSync(process.execPath, [path.join(PACKAGE, 'scripts', 'generate.mjs'), out], { encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    const fresh = readdirSync(out).sort();
    expect(fresh).toEqual(['common.ts', 'envelope.ts', 'events.ts', 'ipc.ts']);
    expect(readdirSync(COMMITTED).sort()).toEqual(fresh);
    for (const file of fresh) {
      const committed = readFileSync(path.join(COMMITTED, file), 'utf8');
      const regenerated = readFileSync(path.join(out, file), 'utf8');
      expect(
        committed,
        `${file} differs from what generate.mjs makes: run pnpm --filter @daemoneye/proto generate`,
      ).toBe(regenerated);
    }
  });
});
