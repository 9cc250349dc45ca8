/**
 * `daemoneye-collector run`: composes the collector from the loaded configuration and the plug-in
 * definitions, wires pino logging to stderr, says where the store is, serves the metrics endpoint
 * when `metrics.listen` is set, runs the watchdog when `[watchdog]` sets a budget, writes the pid
 * file, drops from root to `privileges.user` once start-up has settled, reloads on SIGHUP, and runs until SIGINT/SIGTERM, until its consumers go away, or until the
 * watchdog gives up. Resolves with the exit code: 0 after a clean shutdown, 1 when events could not be
 * delivered or the watchdog stopped it.
 */
import {
  composeCollector,
  describeError,
  type LoadedConfig,
  type Logger,
  type PluginDefinition,
  SheddingLevel,
  sectionOptions,
  type Watchdog,
} from '@daemoneye/core';
import { cliErrors } from './errors.ts';
import { createLogger } from './logging.ts';
import { type MetricsEndpoint, parseListenAddress, startMetricsEndpoint } from './metrics-endpoint.ts';
import { nodeFlagsOutcome } from './node-flags.ts';
import { createWatchdog, Reloader, runningCollector, writePidFile } from './operations.ts';
import { checkPrivilegeDrop, dropAfterStartup } from './privilege-drop.ts';
import { configuredStorePath } from './query-command.ts';
import { commandSchema } from './schema.ts';

/** What `run` needs from the command line. */
export interface RunCommandOptions {
  readonly loaded: LoadedConfig;
  /** Loads the configuration again (for a reload), from the same files, environment and flags. */
  readonly load: () => LoadedConfig;
  readonly plugins: readonly PluginDefinition[];
  readonly stdout: NodeJS.WritableStream;
}

function logLevel(loaded: LoadedConfig): string {
  const log = sectionOptions(loaded, 'log', commandSchema.log);
  const debug = loaded.get('debug_logging') === true;
  return debug && loaded.originOf('log.level').layer === 'default' ? 'debug' : log.level;
}

function listenOf(loaded: LoadedConfig): string | undefined {
  const listen = loaded.get('metrics.listen');
  return typeof listen === 'string' && listen !== '' ? listen : undefined;
}

function userOf(loaded: LoadedConfig): string | undefined {
  const user = loaded.get('privileges.user');
  return typeof user === 'string' && user !== '' ? user : undefined;
}

/** Runs the collector; see the module comment. */
export async function runCollector(options: RunCommandOptions): Promise<number> {
  const { loaded, plugins, stdout } = options;
  const log = sectionOptions(loaded, 'log', commandSchema.log);
  const logger: Logger & { level?: string } = createLogger(logLevel(loaded), log.format);
  const nodeFlags = nodeFlagsOutcome();
  if (nodeFlags?.outcome.applied === false)
    logger.warn(
      { reason: nodeFlags.outcome.reason, nodeFlags: nodeFlags.asked },
      'running without the Node options the collector asks for (DAEMONEYE_NODE_FLAGS); it costs more CPU',
    );
  else if (nodeFlags !== undefined) logger.debug({ nodeFlags: nodeFlags.asked }, 'running with Node options');
  const listen = listenOf(loaded);
  const user = userOf(loaded);
  // Refused before anything starts: not root, or a user that does not exist.
  if (user !== undefined) checkPrivilegeDrop(user);
  const address = listen === undefined ? undefined : parseListenAddress(listen, loaded.originOf('metrics.listen'));
  const collector = composeCollector(loaded, plugins, { logger });
  // Two collectors on one data directory would share its sequence numbers, store and socket.
  const claimed = collector.settings.dataDir;
  const other = claimed === undefined ? undefined : runningCollector(claimed);
  if (other !== undefined)
    throw cliErrors.error(
      'ERR_CLI_ALREADY_RUNNING',
      `another collector (pid ${other}) runs with the data directory ${claimed}; stop it first, or give this one its own --data-dir`,
    );
  if (plugins.some((p) => p.kind === 'sink' && p.key === 'store') && loaded.get('sinks.store.enabled') !== false) {
    const store = configuredStorePath(loaded);
    logger.info(
      { store },
      `events are stored in ${store}; query them with: daemoneye-collector query "SELECT time, pid, name, parent_name FROM processes_last_hour"`,
    );
  }
  let exhausted = false;
  let watchdog: Watchdog | undefined;
  const makeWatchdog = (from: LoadedConfig): Watchdog | undefined =>
    createWatchdog(from, collector.shedding, {
      logger,
      onExhausted: () => {
        exhausted = true;
        void collector.shutdown();
      },
    });
  watchdog = makeWatchdog(loaded);
  let endpoint: MetricsEndpoint | undefined;
  const serve = async (at: string): Promise<MetricsEndpoint> => {
    const e = await startMetricsEndpoint(parseListenAddress(at), {
      collector: () => collector,
      watchdog: () => watchdog?.stats(),
    });
    const url = `http://${e.address.family === 'IPv6' ? `[${e.address.address}]` : e.address.address}:${e.address.port}`;
    logger.info(
      { metrics: `${url}/metrics`, address: e.address },
      `metrics at ${url}/metrics, health at ${url}/healthz and ${url}/readyz`,
    );
    return e;
  };
  if (address !== undefined) endpoint = await serve(listen as string);
  // When the reader of stdout goes away (`run | head`), the command stops: the other sinks (the
  // store) keep what was delivered up to then.
  const onStdoutError = (e: NodeJS.ErrnoException): void => {
    if (e.code === 'EPIPE') {
      logger.info({}, 'stdout closed by its reader; stopping');
      void collector.shutdown();
    }
  };
  stdout.on('error', onStdoutError);
  const running = collector.run({ handleSignals: true });
  // run() created the data directory (or failed) before its first await.
  const dataDir = collector.settings.dataDir;
  let removePid: (() => void) | undefined;
  let onHup: (() => void) | undefined;
  if (dataDir !== undefined && collector.stats().state === 'running') {
    try {
      removePid = writePidFile(dataDir);
    } catch (e) {
      logger.warn({ err: describeError(e) }, 'could not write the pid file; `reload` will not find this collector');
    }
    const reloader = new Reloader({
      collector,
      plugins,
      load: options.load,
      initial: loaded,
      dataDir,
      logger,
      checkCommand: (next) => {
        const at = listenOf(next);
        if (at !== undefined) parseListenAddress(at, next.originOf('metrics.listen'));
      },
      applyCommand: async (next, changed) => {
        if (changed.includes('log')) logger.level = logLevel(next);
        if (changed.includes('watchdog')) {
          watchdog?.stop();
          watchdog = makeWatchdog(next);
          // Without a budget there is nothing to shed for.
          if (watchdog === undefined) collector.shedding.set(SheddingLevel.None);
          watchdog?.start();
        }
        if (changed.includes('metrics')) {
          const at = listenOf(next);
          try {
            const fresh = at === undefined ? undefined : await serve(at);
            await endpoint?.close();
            endpoint = fresh;
          } catch (e) {
            logger.error({ err: describeError(e), listen: at }, 'metrics endpoint not moved; the old one stays');
          }
        }
      },
    });
    onHup = () => {
      logger.info('SIGHUP received; reloading the configuration');
      void reloader.request();
    };
    process.on('SIGHUP', onHup);
  }
  watchdog?.start();
  let dropFailed = false;
  const stopDrop = new AbortController();
  const dropped =
    user === undefined || collector.stats().state !== 'running'
      ? Promise.resolve()
      : dropAfterStartup(collector, user, {
          dataDir,
          logger,
          boundMs: collector.settings.startupTimeout + 5000,
          signal: stopDrop.signal,
        }).then(
          () => undefined,
          (e: unknown) => {
            // Never keep running as root when asked not to.
            dropFailed = true;
            logger.error({ err: describeError(e) }, 'privileges could not be dropped; shutting down');
            void collector.shutdown();
          },
        );
  try {
    const report = await running;
    stopDrop.abort();
    await dropped;
    return report.drained && !exhausted && !dropFailed ? 0 : 1;
  } finally {
    stdout.off('error', onStdoutError);
    if (onHup !== undefined) process.off('SIGHUP', onHup);
    watchdog?.stop();
    await endpoint?.close();
    removePid?.();
  }
}
