import { readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

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
