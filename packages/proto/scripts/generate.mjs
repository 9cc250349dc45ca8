/**
 * Generates the TypeScript in `src/gen/` from the `.proto` files in `proto/` with ts-proto, using the
 * protoc that the `protoc` package ships (no download at install or run time). The output is
 * committed; `src/generated.test.ts` runs this script into a temporary directory and fails when the
 * committed files differ. The ts-proto options live here, once.
 *
 *   node scripts/generate.mjs [OUT_DIR]     (default: src/gen)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const PACKAGE = path.resolve(import.meta.dirname, '..');
const PROTO_DIR = path.join(PACKAGE, 'proto');

/** ts-proto options: plain interfaces, numbers for 64-bit fields, `{ $case, value }` oneofs, no JSON. */
export const TS_PROTO_OPTIONS = [
  'esModuleInterop=true',
  'importSuffix=.js',
  'forceLong=number',
  'oneof=unions-value',
  'outputJsonMethods=false',
  'outputServices=false',
  'exportCommonSymbols=false',
  'useOptionals=none',
  'env=node',
  'enumsAsLiterals=true',
];

const out = path.resolve(process.argv[2] ?? path.join(PACKAGE, 'src', 'gen'));
const protoc = require.resolve('protoc/protoc.cjs');
const plugin = path.join(path.dirname(require.resolve('ts-proto/package.json')), 'protoc-gen-ts_proto');
const files = readdirSync(PROTO_DIR)
  .filter((f) => f.endsWith('.proto'))
  .sort();

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const r = spawnSync(
  process.execPath,
  [
    protoc,
    `--plugin=protoc-gen-ts_proto=${plugin}`,
    `--ts_proto_out=${out}`,
    `--ts_proto_opt=${TS_PROTO_OPTIONS.join(',')}`,
    `--proto_path=${PROTO_DIR}`,
    ...files,
  ],
  { stdio: 'inherit' },
);
if (r.error !== undefined) throw r.error;
process.exit(r.status ?? 1);
