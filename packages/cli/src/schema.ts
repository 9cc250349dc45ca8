/**
 * The command's plug-ins and whole configuration schema: the collector's own fields at the top level,
 * `[log]`, `[query]`, `[metrics]`, `[privileges]` and `[watchdog]` for the command, and one section per plug-in — `[sources.process]`,
 * `[sources.network]`, `[sources.performance]`, `[sources.filesystem]`, `[processors.bus]`, `[processors.triggers]`,
 * `[processors.binary_hasher]`, `[processors.analysis_chains]`, `[sinks.store]`, `[sinks.ipc]`, `[sinks.nats]` (off unless
 * enabled) and `[sinks.stdout]` in the default list. Adding a source package to the command means adding its definition to
 * `DEFAULT_PLUGINS`.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type ConfigSchema, collectorConfigSchema, field, type PluginDefinition, pluginSchema } from '@daemoneye/core';
import { eventBusDefinition } from '@daemoneye/event-bus';
import { natsSinkDefinition } from '@daemoneye/forward-nats';
import { ipcServerDefinition } from '@daemoneye/ipc';
import { fsSourceDefinition } from '@daemoneye/source-fs';
import { networkSourceDefinition } from '@daemoneye/source-network';
import { perfSourceDefinition } from '@daemoneye/source-perf';
import { processSourceDefinition } from '@daemoneye/source-process';
import { storeSinkDefinition } from '@daemoneye/store-sqlite';
import { analysisChainsDefinition, binaryHasherDefinition, triggerManagerDefinition } from '@daemoneye/triggers';

/** `[log]`, `[query]`, `[metrics]`, `[privileges]` and `[watchdog]`, the command's own sections. */
export const commandSchema = {
  log: {
    level: field('enum', 'info', 'Log level (stderr)', {
      values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
    }),
    format: field('enum', 'json', 'Log format', { values: ['json', 'pretty'] }),
  },
  query: {
    timeout: field('duration', 30_000, 'Longest a `query` may run before it is stopped', { min: 1 }),
  },
  metrics: {
    listen: field('string', undefined, 'HOST:PORT of the /metrics, /healthz and /readyz endpoint (unset: none)'),
  },
  privileges: {
    user: field(
      'string',
      undefined,
      'Drop from root to this user (name or uid) once the sources and sinks are open, keeping only the capabilities the running sources need (unset: stay as started)',
    ),
  },
  watchdog: {
    cpu_percent: field('number', 0, 'CPU budget, percent of one core (0: none)', { min: 0 }),
    rss: field('bytes', 0, 'Resident memory budget (0: none)', { min: 0 }),
    interval: field('duration', 5000, 'Time between two samples of CPU and memory', { min: 10 }),
    shed_after: field('integer', 3, 'Samples over budget in a row before shedding one more step', { min: 1 }),
    restore_after: field('integer', 6, 'Samples under 80% of budget in a row before restoring one step', {
      min: 1,
    }),
    exit_after: field('integer', 0, 'Samples still over budget at full shedding before exiting (0: never)', {
      min: 0,
    }),
  },
} as const satisfies ConfigSchema;

/** The plug-ins `daemoneye-collector run` composes besides its stdout sink, in order. */
export const DEFAULT_PLUGINS: readonly PluginDefinition[] = [
  processSourceDefinition,
  networkSourceDefinition,
  perfSourceDefinition,
  fsSourceDefinition,
  eventBusDefinition,
  triggerManagerDefinition,
  binaryHasherDefinition,
  analysisChainsDefinition,
  storeSinkDefinition,
  ipcServerDefinition,
  natsSinkDefinition,
];

/**
 * Where the command keeps its state unless told otherwise: `/var/lib/daemoneye` as root,
 * `$XDG_DATA_HOME/daemoneye` (or `~/.local/share/daemoneye`) for anyone else.
 */
export function defaultDataDir(
  env: Readonly<Record<string, string | undefined>> = process.env,
  uid: number | undefined = process.getuid?.(),
): string {
  if (uid === 0) return '/var/lib/daemoneye';
  const xdg = env.XDG_DATA_HOME;
  const base = xdg !== undefined && xdg !== '' ? xdg : join(env.HOME ?? homedir(), '.local', 'share');
  return join(base, 'daemoneye');
}

/**
 * The full schema of the command for a list of plug-ins (the stdout sink's included); `data_dir`'s
 * default is that of the user `uid` (the current one unless given).
 */
export function cliConfigSchema(
  plugins: readonly PluginDefinition[],
  env: Readonly<Record<string, string | undefined>> = process.env,
  uid: number | undefined = process.getuid?.(),
): ConfigSchema {
  const dataDir = field('string', defaultDataDir(env, uid), collectorConfigSchema.data_dir.description);
  return { ...pluginSchema(plugins, commandSchema), data_dir: dataDir };
}
