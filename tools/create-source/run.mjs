#!/usr/bin/env node
/**
 * `pnpm create-source NAME`: scaffolds `packages/source-NAME`, a source package shaped like the
 * others — package.json, tsconfig.json and tsconfig.test.json, a README with the usual sections, a
 * plug-in definition with its `[sources.NAME]` section, an EventSource that already works (it reports
 * the host's uptime on an interval, a real event to replace with your own), and a test that runs core's
 * conformance suite against it — and adds it to the root tsconfig.json references and the README's
 * package table. The package builds and its tests pass at once. It does not install or build; it prints
 * the commands that do, and the one line that adds the source to `daemoneye-collector run`.
 *
 *   node tools/create-source/run.mjs NAME [--root DIR] [--description TEXT]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/** The names derived from `name`: the package folder, the npm name, the section key, type names. */
export function namesOf(name) {
  if (!NAME.test(name)) {
    throw new Error(
      `NAME must be lowercase letters and digits, words joined by "-" (such as "dns" or "usb-devices"), got "${name}"`,
    );
  }
  const words = name.split('-');
  const pascal = words.map((w) => w[0].toUpperCase() + w.slice(1)).join('');
  return {
    name,
    dir: `source-${name}`,
    pkg: `@daemoneye/source-${name}`,
    key: name.replace(/-/g, '_'),
    pascal,
    camel: pascal[0].toLowerCase() + pascal.slice(1),
  };
}

const json = (v) => `${JSON.stringify(v, null, 2)}\n`;
/** A TypeScript string literal as the formatter writes it: single quotes unless the text holds one. */
const quote = (text) =>
  text.includes("'") && !text.includes('"')
    ? JSON.stringify(text)
    : `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;

/** The files of the new package, path → content. */
export function packageFiles(n, description) {
  const cls = `${n.pascal}EventSource`;
  const files = {};
  files['package.json'] = json({
    name: n.pkg,
    version: '0.1.0',
    description,
    type: 'module',
    license: 'Apache-2.0',
    sideEffects: false,
    engines: { node: '>=20.19' },
    exports: {
      '.': { types: './dist/index.d.ts', default: './dist/index.js' },
      './internal/*': null,
      './package.json': './package.json',
    },
    files: ['dist', 'README.md'],
    scripts: { build: 'tsc -b' },
    peerDependencies: { '@daemoneye/core': 'workspace:^' },
    devDependencies: { '@daemoneye/core': 'workspace:^' },
  });
  // Written as the formatter (Biome) lays them out: short arrays of strings on one line.
  files['tsconfig.json'] = `{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": {
    "rootDir": "src",
    "outDir": "dist"
  },
  "include": ["src"],
  "exclude": ["src/**/*.test.ts"],
  "references": [
    {
      "path": "../core"
    }
  ]
}
`;
  files['tsconfig.test.json'] = `{
  "extends": "./tsconfig.json",
  "compilerOptions": {
    "noEmit": true,
    "composite": false,
    "declaration": false,
    "declarationMap": false,
    "rootDir": "."
  },
  "include": ["src/**/*.test.ts"],
  "exclude": [],
  "references": [
    {
      "path": "../core"
    }
  ]
}
`;
  files['src/index.ts'] = `/**
 * ${n.pkg} — ${description}
 */

export { ${n.camel}SourceDefinition, ${n.camel}SourceSchema } from './definition.ts';
export type { ${n.pascal}SourceOptions } from './${n.name}-event-source.ts';
export { ${cls} } from './${n.name}-event-source.ts';
`;
  files['src/definition.ts'] = `/**
 * The ${n.name} source's plug-in definition: the \`[sources.${n.key}]\` section (every key with its
 * default, type, bounds and description, declared once) and a factory turning its typed values into a
 * \`${cls}\`. It adds no behaviour of its own.
 */
import { defineSource, field } from '@daemoneye/core';
import { ${cls} } from './${n.name}-event-source.ts';

/** The keys of \`[sources.${n.key}]\` besides \`enabled\`. */
export const ${n.camel}SourceSchema = {
  interval: field('duration', 10_000, 'Time between two samples', { min: 10 }),
} as const;

/** \`[sources.${n.key}]\`: the ${n.name} source. */
export const ${n.camel}SourceDefinition = defineSource({
  key: '${n.key}',
  description: ${quote(description)},
  schema: ${n.camel}SourceSchema,
  create: (o, context) => new ${cls}({ intervalMs: o.interval, logger: context.logger }),
});
`;
  files[`src/${n.name}-event-source.ts`] = `/**
 * \`${cls}\`: samples on an interval and sends one performance event per sample — as generated, the
 * host's uptime, so the package runs end to end from its first build; replace \`#sample\` with what
 * the source is for. It waits under backpressure (\`await tx.send\`), as a polling source should; a
 * source fed by the kernel would use \`tx.trySend\` and report what it lost with \`tx.reportLoss\`.
 */
import { uptime } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CollectionEvent,
  CollectorError,
  type EventSender,
  type EventSource,
  type HealthReport,
  type Logger,
  SourceCaps,
  type SourceCapsBits,
  silentLogger,
} from '@daemoneye/core';

/** Options of {@link ${cls}}. */
export interface ${n.pascal}SourceOptions {
  /** Milliseconds between two samples (default 10,000). */
  readonly intervalMs?: number;
  readonly logger?: Logger;
}

/** The ${n.name} event source. */
export class ${cls} implements EventSource {
  readonly #intervalMs: number;
  readonly #log: Logger;
  #abort: AbortController | undefined;
  #lastError: string | undefined;

  /** Throws \`ERR_CONFIG_INVALID\` for an interval that is not a positive integer. */
  constructor(options: ${n.pascal}SourceOptions = {}) {
    const intervalMs = options.intervalMs ?? 10_000;
    if (!Number.isInteger(intervalMs) || intervalMs < 1) {
      throw new CollectorError('ERR_CONFIG_INVALID', \`intervalMs must be a positive integer, got \${intervalMs}\`, {
        details: { field: 'intervalMs', value: intervalMs, layer: '${n.pascal}SourceOptions' },
      });
    }
    this.#intervalMs = intervalMs;
    this.#log = (options.logger ?? silentLogger).child({ source: '${n.name}' });
  }

  name(): string {
    return '${n.name}';
  }

  capabilities(): SourceCapsBits {
    return SourceCaps.PERFORMANCE;
  }

  /** Samples every interval until the signal aborts or \`stop()\` is called; then resolves. */
  async start(tx: EventSender, shutdownSignal: AbortSignal): Promise<void> {
    const abort = new AbortController();
    this.#abort = abort;
    const signal = AbortSignal.any([shutdownSignal, abort.signal]);
    this.#log.info({ intervalMs: this.#intervalMs }, '${n.name} source started');
    tx.ready();
    while (!signal.aborted) {
      try {
        if (!(await tx.send(this.#sample())) && tx.closed) break;
        this.#lastError = undefined;
      } catch (e) {
        this.#lastError = e instanceof Error ? e.message : String(e);
        this.#log.error({ err: this.#lastError }, '${n.name} sample failed');
      }
      await sleep(this.#intervalMs, undefined, { signal }).catch(() => {});
    }
    if (this.#abort === abort) this.#abort = undefined;
  }

  /** Makes \`start\` return. Idempotent. */
  async stop(): Promise<void> {
    this.#abort?.abort();
  }

  /** Rejects while the last sample failed. */
  async healthCheck(): Promise<HealthReport | undefined> {
    if (this.#lastError !== undefined) throw new CollectorError('ERR_SOURCE_FAILED', this.#lastError);
    return undefined;
  }

  #sample(): CollectionEvent {
    return CollectionEvent.performance({
      metricName: '${n.name}.uptime',
      value: uptime(),
      unit: 'seconds',
      component: '${n.name}',
      subtype: 'sample',
    });
  }
}
`;
  files[`src/${n.name}-event-source.test.ts`] =
    `import { composeCollector, loadConfig, pluginSchema } from '@daemoneye/core';
import { checkSourceConformance, RecordingSender } from '@daemoneye/core/testing';
import { describe, expect, it } from 'vitest';
import { ${n.camel}SourceDefinition } from './definition.ts';
import { ${cls} } from './${n.name}-event-source.ts';

describe('${cls}', () => {
  it('passes the source conformance suite', async () => {
    const report = await checkSourceConformance(() => new ${cls}({ intervalMs: 50 }), { minEvents: 1 });
    expect(report.failures).toEqual([]);
  }, 60_000);

  it('sends one sample per interval until stopped', async () => {
    const source = new ${cls}({ intervalMs: 20 });
    const tx = new RecordingSender();
    const ctl = new AbortController();
    const run = source.start(tx, ctl.signal);
    await expect.poll(() => tx.events.length, { timeout: 5000 }).toBeGreaterThanOrEqual(3);
    ctl.abort();
    await run;
    expect(tx.events[0]).toMatchObject({ kind: 'performance', metricName: '${n.name}.uptime', unit: 'seconds' });
  });

  it('is configured from [sources.${n.key}]', () => {
    const definitions = [${n.camel}SourceDefinition];
    const loaded = loadConfig({
      schema: pluginSchema(definitions),
      env: {},
      systemFile: null,
      userFile: null,
      flags: ['sources.${n.key}.interval=250ms'],
    });
    expect(composeCollector(loaded, definitions).sourceNames()).toEqual(['${n.name}']);
    expect(() => new ${cls}({ intervalMs: 0 })).toThrow(/intervalMs must be a positive integer, got 0/);
  });
});
`;
  files['README.md'] = `# ${n.pkg}

## What it is

${description}

## Install

    npm install ${n.pkg} @daemoneye/core

## Usage

\`\`\`ts
import { Collector } from '@daemoneye/core';
import { ${cls} } from '${n.pkg}';

const collector = new Collector();
collector.register(new ${cls}({ intervalMs: 5000 }));
await collector.run({ handleSignals: true });
\`\`\`

In \`daemoneye-collector run\`, add \`${n.camel}SourceDefinition\` to \`DEFAULT_PLUGINS\` in
\`packages/cli/src/schema.ts\`; its section is \`[sources.${n.key}]\`.

## Options

| key | option | default | meaning |
| --- | --- | --- | --- |
| \`sources.${n.key}.enabled\` | | \`true\` | Run this source. |
| \`sources.${n.key}.interval\` | \`intervalMs\` | \`"10s"\` | Time between two samples. |

## Events emitted

\`performance\` events, one per sample: \`metricName = "${n.name}.uptime"\`, \`unit = "seconds"\`,
\`component = "${n.name}"\`, \`subtype = "sample"\`.

## Capabilities

\`PERFORMANCE\`.

## Platform support

Every platform Node.js 20.19+ runs on.

## Errors

\`ERR_CONFIG_INVALID\` (from \`@daemoneye/core\`) for an interval that is not a positive integer; a
failed sample is logged and makes the health check fail (\`ERR_SOURCE_FAILED\`) until a sample succeeds.
`;
  return files;
}

/** Adds the package to the root tsconfig.json references and the README's package table. */
function register(root, n, description) {
  const tsconfigPath = join(root, 'tsconfig.json');
  const tsconfig = JSON.parse(readFileSync(tsconfigPath, 'utf8'));
  const ref = `packages/${n.dir}`;
  if (!tsconfig.references.some((r) => r.path === ref)) {
    // Before the command, which is the only package allowed to depend on a source.
    const cli = tsconfig.references.findIndex((r) => r.path === 'packages/cli');
    tsconfig.references.splice(cli < 0 ? tsconfig.references.length : cli, 0, { path: ref });
    writeFileSync(tsconfigPath, json(tsconfig));
  }
  const readmePath = join(root, 'README.md');
  if (existsSync(readmePath)) {
    const readme = readFileSync(readmePath, 'utf8');
    const row = `| [\`${n.pkg}\`](packages/${n.dir}) | ${description} |`;
    const cliRow = readme.indexOf('| [`@daemoneye/cli`]');
    if (!readme.includes(`(packages/${n.dir})`) && cliRow >= 0) {
      writeFileSync(readmePath, `${readme.slice(0, cliRow)}${row}\n${readme.slice(cliRow)}`);
    }
  }
}

/** Scaffolds the package under `root`; returns the folder it made. Throws when it exists. */
export function createSource(root, name, description) {
  const n = namesOf(name);
  const dir = join(root, 'packages', n.dir);
  if (existsSync(dir)) throw new Error(`packages/${n.dir} already exists`);
  for (const [path, content] of Object.entries(packageFiles(n, description))) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  register(root, n, description);
  return { dir, names: n };
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const here = dirname(fileURLToPath(import.meta.url));
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: { root: { type: 'string' }, description: { type: 'string' } },
    });
    if (parsed.positionals.length !== 1) throw new Error('give exactly one NAME');
  } catch (e) {
    process.stderr.write(`create-source: ${e.message}\nUsage: pnpm create-source NAME [--description TEXT]\n`);
    process.exit(2);
  }
  const root = resolve(parsed.values.root ?? join(here, '..', '..'));
  const name = parsed.positionals[0];
  try {
    const { names: n } = createSource(root, name, parsed.values.description ?? `Event source: ${name}`);
    process.stdout.write(`created packages/${n.dir} (${n.pkg}, section [sources.${n.key}])

next:
  npx --yes pnpm@12.4.2 install            # links the new workspace package
  npx --yes pnpm@12.4.2 build
  npx vitest run --project ${n.dir}

to run it in daemoneye-collector, add ${n.camel}SourceDefinition to DEFAULT_PLUGINS in
packages/cli/src/schema.ts (with "${n.pkg}": "workspace:^" in packages/cli/package.json and
{ "path": "../${n.dir}" } in packages/cli/tsconfig.json), and rows for its keys in docs/configuration.md.
`);
  } catch (e) {
    process.stderr.write(`create-source: ${e.message}\n`);
    process.exit(1);
  }
}
