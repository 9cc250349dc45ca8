import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// Every temporary directory of a run (the tests', and those of the collectors and servers they start)
// goes under one directory that is removed when the run ends. Mode 1777 as /tmp: tests that drop to
// another user hand it directories made in there.
// The configuration is also loaded where the tests run: only its first load (the run's own process)
// makes and removes the directory.
// biome-ignore lint/suspicious/noUndeclaredEnvVars: set and read here only, by vitest, not by a turbo task
if (process.env.DAEMONEYE_TEST_TMPDIR === undefined) {
  const runTmp = mkdtempSync(join(tmpdir(), 'de-test-'));
  chmodSync(runTmp, 0o1777);
  process.env.DAEMONEYE_TEST_TMPDIR = runTmp;
  process.env.TMPDIR = runTmp;
  process.on('exit', () => rmSync(runTmp, { recursive: true, force: true }));
}

// One project per workspace package, each inheriting the shared settings below.
const packages = readdirSync('packages', { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);

export default defineConfig({
  test: {
    passWithNoTests: true,
    // Kernel-level tests share global state (the audit subsystem, netlink multicast): run files one at a time.
    fileParallelism: false,
    testTimeout: 20_000,
    hookTimeout: 30_000,
    projects: [
      ...packages.map((name) => ({
        extends: true as const,
        test: { name, root: `packages/${name}`, include: ['src/**/*.test.ts'] },
      })),
      { extends: true as const, test: { name: 'examples', root: 'docs/examples', include: ['*.test.ts'] } },
      { extends: true as const, test: { name: 'bench', root: 'tools/bench', include: ['*.test.mjs'] } },
      { extends: true as const, test: { name: 'create-source', root: 'tools/create-source', include: ['*.test.mjs'] } },
    ],
  },
});
