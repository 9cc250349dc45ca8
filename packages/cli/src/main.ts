/**
 * The `daemoneye-collector` command: `run` builds a Collector from the layered configuration, wires
 * pino logging to stderr, the enabled sources and a stdout sink, and runs until SIGINT/SIGTERM;
 * `config` prints the effective configuration with the layer each value came from. Exit codes: 0
 * after a clean shutdown, 2 for bad usage or configuration (with a one-line reason), 1 otherwise.
 */
import { parseArgs } from 'node:util';
import {
  Collector,
  CollectorConfig,
  CollectorError,
  describeError,
  isCollectorError,
  type LoadedConfig,
  type Logger,
  loadConfig,
} from '@daemoneye/core';
import { createLogger, type LogFormat } from './logging.ts';
import { type OutputFormat, StreamSink } from './output-sink.ts';
import { cliConfigSchema } from './schema.ts';
import { createEnabledSources, type SourceDefinition } from './source-registry.ts';
import { DEFAULT_SOURCES } from './sources.ts';

/** Exit codes of the command. */
export const ExitCode = { Ok: 0, Failure: 1, Usage: 2 } as const;

/** Where the command writes; a port so tests can capture output. */
export interface CommandIo {
  readonly stdout: NodeJS.WritableStream & import('node:stream').Writable;
  readonly stderr: NodeJS.WritableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
}

const USAGE = `Usage: daemoneye-collector <command> [options]

Commands:
  run       run the collector until SIGINT/SIGTERM, printing events on stdout
  config    print the effective configuration and where each value came from

Options:
  -c, --config FILE        user configuration file (must exist; default $XDG_CONFIG_HOME/daemoneye/collector.toml if present)
      --system-config FILE system configuration file (default /etc/daemoneye/collector.toml if present)
      --no-system-config   skip the system file
  -s, --set KEY=VALUE      override a configuration value (repeatable), e.g. --set max_batch_size=500
  -o, --output FORMAT      jsonl | pretty | none (run)
      --log-level LEVEL    trace | debug | info | warn | error | fatal | silent
      --log-format FORMAT  json | pretty
      --json               print the configuration as JSON (config)
  -h, --help               show this help
Environment: DAEMONEYE_COLLECTOR_<KEY> sets a value; nested keys use __ (DAEMONEYE_COLLECTOR_SOURCES__PROCESS__ENABLED=false).
`;

interface Parsed {
  readonly command: string | undefined;
  readonly loadArgs: Omit<Parameters<typeof loadConfig>[0], 'schema'>;
  readonly json: boolean;
  readonly help: boolean;
}

function parse(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Parsed {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string', short: 'c' },
      'system-config': { type: 'string' },
      'no-system-config': { type: 'boolean' },
      set: { type: 'string', short: 's', multiple: true },
      output: { type: 'string', short: 'o' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (positionals.length > 1) throw new CollectorError('ERR_CLI_USAGE', `unexpected argument "${positionals[1]}"`);
  const flags = [...(values.set ?? [])];
  if (values.output !== undefined) flags.push(`output.format=${values.output}`);
  if (values['log-level'] !== undefined) flags.push(`log.level=${values['log-level']}`);
  if (values['log-format'] !== undefined) flags.push(`log.format=${values['log-format']}`);
  const systemFile = values['no-system-config'] === true ? null : values['system-config'];
  return {
    command: positionals[0],
    json: values.json === true,
    help: values.help === true,
    loadArgs: {
      env,
      flags,
      ...(systemFile !== undefined ? { systemFile } : {}),
      ...(values.config !== undefined ? { userFile: values.config, userFileRequired: true } : {}),
    },
  };
}

function printConfig(loaded: LoadedConfig, json: boolean, out: NodeJS.WritableStream): void {
  const threshold = CollectorConfig.fromLoaded(loaded).validate().backpressureThreshold;
  const derived = (path: string, display: string): string =>
    path === 'backpressure_threshold' && loaded.get(path) === undefined
      ? `${threshold} (80% of event_buffer_size)`
      : display;
  if (json) {
    const entries = loaded
      .entries()
      .map((e) => ({ key: e.path, value: e.value ?? null, layer: e.origin.layer, source: e.origin.source }));
    out.write(`${JSON.stringify({ files: loaded.files, values: loaded.toObject(), entries }, null, 2)}\n`);
    return;
  }
  const rows = loaded
    .entries()
    .map((e) => [
      e.path,
      derived(e.path, e.display),
      `${e.origin.layer}${e.origin.layer === 'default' ? '' : ` (${e.origin.source})`}`,
    ]);
  const w0 = Math.max(...rows.map((r) => r[0]?.length ?? 0));
  const w1 = Math.max(...rows.map((r) => r[1]?.length ?? 0));
  for (const [k, v, l] of rows) out.write(`${(k ?? '').padEnd(w0)}  ${(v ?? '').padEnd(w1)}  ${l}\n`);
}

async function runCollector(
  loaded: LoadedConfig,
  sources: readonly SourceDefinition[],
  io: CommandIo,
): Promise<number> {
  const debug = loaded.get('debug_logging') === true;
  const level = debug && loaded.originOf('log.level').layer === 'default' ? 'debug' : String(loaded.get('log.level'));
  const logger: Logger = createLogger(level, loaded.get('log.format') as LogFormat);
  const collector = new Collector(CollectorConfig.fromLoaded(loaded), { logger });
  for (const source of createEnabledSources(sources, loaded, logger)) collector.register(source);
  const format = loaded.get('output.format') as OutputFormat;
  if (format !== 'none') {
    io.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') {
        logger.info('stdout closed; shutting down');
        void collector.shutdown();
      }
    });
    const queueCapacity = Number(loaded.get('output.queue_capacity'));
    if (queueCapacity < collector.settings.maxBatchSize) {
      const origin = loaded.originOf('output.queue_capacity');
      throw new CollectorError(
        'ERR_CONFIG_INVALID',
        `output.queue_capacity = ${queueCapacity} must be at least max_batch_size (${collector.settings.maxBatchSize}) (set by ${origin.layer} ${origin.source})`,
        {
          details: { field: 'output.queue_capacity', value: queueCapacity, layer: origin.layer, source: origin.source },
        },
      );
    }
    collector.addSink(new StreamSink(io.stdout, format), {
      queueCapacity,
      overflow: loaded.get('output.overflow') as 'block' | 'drop-oldest' | 'drop-newest',
    });
  }
  const report = await collector.run({ handleSignals: true });
  return report.drained ? ExitCode.Ok : ExitCode.Failure;
}

/**
 * Runs the command with `argv` (without node and script) and resolves with the exit code. Never
 * throws: errors are printed on stderr as one line.
 */
export async function main(
  argv: readonly string[],
  io: CommandIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
  sources: readonly SourceDefinition[] = DEFAULT_SOURCES,
): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parse(argv, io.env);
  } catch (e) {
    io.stderr.write(`daemoneye-collector: ${isCollectorError(e) ? describeError(e) : (e as Error).message}\n${USAGE}`);
    return ExitCode.Usage;
  }
  if (parsed.help || parsed.command === undefined || parsed.command === 'help') {
    (parsed.command === undefined && !parsed.help ? io.stderr : io.stdout).write(USAGE);
    return parsed.command === undefined && !parsed.help ? ExitCode.Usage : ExitCode.Ok;
  }
  if (!['run', 'config'].includes(parsed.command)) {
    io.stderr.write(`daemoneye-collector: unknown command "${parsed.command}"\n${USAGE}`);
    return ExitCode.Usage;
  }
  try {
    const loaded = loadConfig({ schema: cliConfigSchema(sources), ...parsed.loadArgs });
    if (parsed.command === 'config') {
      printConfig(loaded, parsed.json, io.stdout);
      return ExitCode.Ok;
    }
    return await runCollector(loaded, sources, io);
  } catch (e) {
    const configError =
      isCollectorError(e, 'ERR_CONFIG_INVALID') ||
      isCollectorError(e, 'ERR_CONFIG_PARSE') ||
      isCollectorError(e, 'ERR_CONFIG_UNKNOWN_KEY');
    io.stderr.write(`daemoneye-collector: ${configError ? 'configuration error: ' : ''}${describeError(e)}\n`);
    return configError ? ExitCode.Usage : ExitCode.Failure;
  }
}
