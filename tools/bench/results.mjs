/**
 * Where every benchmark writes its figures: `bench-results/<name>.json` at the repository's root (one
 * file per benchmark, replaced by each run), which `pnpm bench` (run.mjs) gathers into its report.
 * Prints the path relative to the root, so output names no machine's directories.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Writes `data` as `bench-results/<name>.json`; returns the path relative to the repository. */
export function writeBenchResult(name, data) {
  const dir = path.join(ROOT, 'bench-results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  const rel = path.relative(ROOT, file);
  console.log(`wrote ${rel}`);
  return rel;
}
