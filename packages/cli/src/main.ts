/**
 * The `daemoneye-collector` command: `run` composes a Collector from the layered configuration and
 * the plug-in definitions (the enabled sources, processors and sinks: the event store and stdout by
 * default), wires pino logging to stderr, says where the store is, and runs until SIGINT/SIGTERM or
 * until its consumers go away (reloading its configuration on SIGHUP); `reload` asks a running
 * collector to reload; `status` and `tail` ask it over IPC; `audit restore` undoes the audit changes a
 * collector that died left; `query` runs one read-only SQL query against the store; `config` prints the effective configuration with the layer each value came from. Exit codes: 0
 * after a clean shutdown, 2 for bad usage or configuration (with a one-line reason), 1 otherwise.
 */
import { parseArgs } from 'node:util';
import {
  CollectorConfig,
  describeError,
  isCollectorError,
  type LoadedConfig,
  loadConfig,
  type PluginDefinition,
} from '@daemoneye/core';
import { closest, distance } from 'fastest-levenshtein';
import { runAuditCommand } from './audit-command.ts';
import { cliErrors } from './errors.ts';
import { type IpcCommandOptions, runStatusCommand, runTailCommand } from './ipc-commands.ts';
import { stdoutSinkDefinition } from './output-sink.ts';
import { runQueryCommand } from './query-command.ts';
import { runReloadCommand } from './reload-command.ts';
import { runCollector } from './run-command.ts';
import { renderSampleConfig } from './sample-config.ts';
import { cliConfigSchema, DEFAULT_PLUGINS } from './schema.ts';

/** Exit codes of the command. */
export const ExitCode = { Ok: 0, Failure: 1, Usage: 2 } as const;

/** Where the command writes; a port so tests can capture output. */
export interface CommandIo {
  readonly stdout: NodeJS.WritableStream & import('node:stream').Writable;
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
  /** How often `query` shows its progress on a terminal, ms (default 1,000). */
  readonly progressIntervalMs?: number;
}

const USAGE = `Usage: daemoneye-collector <command> [options]

Commands:
  run       run the collector until SIGINT/SIGTERM, storing events and printing them on stdout
  query SQL run one read-only SQL query against the event store, e.g.
            query "SELECT pid, name, parent_name FROM processes_last_hour"
  config    print the effective configuration and where each value came from
            (--sample: a collector.toml with every option and its default, commented out)
  status    health, capabilities, sources (backend, state), counters and drops of a running collector
  tail      print a running collector's events as they happen (survives collector restarts)
  reload    make the running collector (found by the pid file in its data directory) reload its
            configuration files; prints what changed, or why the new configuration was refused
  audit restore
            undo what a collector that died left in the kernel's audit configuration (its exec
            rules, the enabled flag, backlog settings and daemon pid), as recorded in its state file

Options:
  -c, --config FILE        user configuration file (must exist; default $XDG_CONFIG_HOME/daemoneye/collector.toml if present)
      --system-config FILE system configuration file (default /etc/daemoneye/collector.toml if present)
      --no-system-config   skip the system file
  -s, --set KEY=VALUE      override a configuration value (repeatable), e.g. --set max_batch_size=500
  -o, --output FORMAT      auto | jsonl | pretty | none (run; auto is pretty on a terminal; none turns the stdout sink off)
  -d, --data-dir DIR       the collector's data directory (where the event store is); --set data_dir=DIR
      --timeout DURATION   time limit of a query (default 30s); --set query.timeout=DURATION
      --metrics-listen HOST:PORT
                           serve /metrics (Prometheus), /healthz and /readyz (run); --set metrics.listen=HOST:PORT
      --user NAME          run: once the sources and sinks are open, drop from root to this user (name or uid),
                           keeping only the capabilities the running sources need; --set privileges.user=NAME
      --log-level LEVEL    trace | debug | info | warn | error | fatal | silent
      --log-format FORMAT  json | pretty
      --json               print the configuration as JSON (config), rows as JSON lines (query),
                           the status as JSON (status), or events as JSON lines (tail)
      --sample             print a collector.toml with every option commented out (config)
      --socket PATH        the collector's IPC socket (status, tail; default: sinks.ipc.socket_path)
      --kind KIND          tail: only this event kind (repeatable): process, network, filesystem, ...
      --pid PID            tail: only events about this pid (repeatable)
      --name NAME          tail: only events about processes with this name (repeatable)
      --topic PATTERN      tail: only events on topics matching this pattern (repeatable), e.g. events.process.exec
      --count N            tail: stop after N events
      --csv                print rows as CSV (query)
      --state-file FILE    the audit state file (audit restore; default /run/daemoneye/audit-state.json)
  -h, --help               show this help
Environment: DAEMONEYE_COLLECTOR_<KEY> sets a value; nested keys use __ (DAEMONEYE_COLLECTOR_SOURCES__PROCESS__ENABLED=false).
`;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  'system-config': { type: 'string' },
  'no-system-config': { type: 'boolean' },
  set: { type: 'string', short: 's', multiple: true },
  output: { type: 'string', short: 'o' },
  'data-dir': { type: 'string', short: 'd' },
  timeout: { type: 'string' },
  'metrics-listen': { type: 'string' },
  user: { type: 'string' },
  csv: { type: 'boolean' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  json: { type: 'boolean' },
  socket: { type: 'string' },
  kind: { type: 'string', multiple: true },
  pid: { type: 'string', multiple: true },
  name: { type: 'string', multiple: true },
  topic: { type: 'string', multiple: true },
  count: { type: 'string' },
  sample: { type: 'boolean' },
  'state-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const COMMANDS = ['run', 'query', 'config', 'status', 'tail', 'reload', 'audit', 'help'] as const;

/** "; did you mean …?" for a word close to one of `known`, else nothing. */
function didYouMean(word: string, known: readonly string[]): string {
  const best = closest(word, [...known]);
  return distance(word, best) <= Math.max(2, Math.floor(best.length / 3)) ? `; did you mean "${best}"?` : '';
}

/** Node's parser errors, said in the command's words with ERR_CLI_USAGE. */
function usageError(e: unknown): Error {
  const code = (e as { code?: unknown }).code;
  const message = (e as Error).message;
  const option = /'(-[^']*)'/.exec(message)?.[1];
  const names = Object.entries(OPTIONS).flatMap(([long, o]) => [`--${long}`, ...('short' in o ? [`-${o.short}`] : [])]);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option !== undefined) {
    return cliErrors.error('ERR_CLI_USAGE', `unknown option "${option}"${didYouMean(option, names)}`);
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option !== undefined) {
    const long = /--[a-z-]+/.exec(option)?.[0] ?? option;
    return cliErrors.error('ERR_CLI_USAGE', `option "${long}" needs a value`);
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    return cliErrors.error('ERR_CLI_USAGE', message.replace(/\.$/, ''));
  }
  return isCollectorError(e) ? e : cliErrors.error('ERR_CLI_USAGE', message);
}

interface Parsed {
  readonly command: string | undefined;
  readonly loadArgs: Omit<Parameters<typeof loadConfig>[0], 'schema'>;
  readonly json: boolean;
  readonly csv: boolean;
  readonly help: boolean;
  /** `config --sample`. */
  readonly sample: boolean;
  /** The SQL of `query`. */
  readonly sql: string | undefined;
  /** Options of `status` and `tail`. */
  readonly ipc: IpcCommandOptions;
  /** The action of `audit`. */
  readonly action: string | undefined;
  readonly stateFile: string | undefined;
}

function parse(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Parsed {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: OPTIONS }));
  } catch (e) {
    throw usageError(e);
  }
  const words = positionals[0] === 'query' || positionals[0] === 'audit' ? 2 : 1;
  if (positionals.length > words) throw cliErrors.error('ERR_CLI_USAGE', `unexpected argument "${positionals[words]}"`);
  if (positionals[0] === 'query' && (positionals[1] === undefined || positionals[1].trim() === '')) {
    throw cliErrors.error('ERR_CLI_USAGE', 'query needs the SQL to run, e.g. query "SELECT count(*) FROM events"');
  }
  if (values.json === true && values.csv === true)
    throw cliErrors.error('ERR_CLI_USAGE', 'choose one of --json and --csv');
  const flags = [...(values.set ?? [])];
  if (values.output === 'none') flags.push('sinks.stdout.enabled=false');
  else if (values.output !== undefined) flags.push(`sinks.stdout.format=${values.output}`);
  if (values['data-dir'] !== undefined) flags.push(`data_dir=${values['data-dir']}`);
  if (values.timeout !== undefined) flags.push(`query.timeout=${values.timeout}`);
  if (values['metrics-listen'] !== undefined) flags.push(`metrics.listen=${values['metrics-listen']}`);
  if (values.user !== undefined) flags.push(`privileges.user=${values.user}`);
  if (values['log-level'] !== undefined) flags.push(`log.level=${values['log-level']}`);
  if (values['log-format'] !== undefined) flags.push(`log.format=${values['log-format']}`);
  const systemFile = values['no-system-config'] === true ? null : values['system-config'];
  return {
    command: positionals[0],
    json: values.json === true,
    csv: values.csv === true,
    sql: positionals[0] === 'query' ? positionals[1] : undefined,
    action: positionals[0] === 'audit' ? positionals[1] : undefined,
    stateFile: values['state-file'],
    help: values.help === true,
    ipc: {
      json: values.json === true,
      ...(values.socket !== undefined ? { socket: values.socket } : {}),
      kinds: values.kind ?? [],
      pids: values.pid ?? [],
      names: values.name ?? [],
      topics: values.topic ?? [],
      ...(values.count !== undefined ? { count: values.count } : {}),
    },
    sample: values.sample === true,
    loadArgs: {
      env,
      flags,
      ...(systemFile !== undefined ? { systemFile } : {}),
      ...(typeof systemFile === 'string' ? { systemFileRequired: true } : {}),
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

/** `tail` until SIGINT or SIGTERM (or its `--count`). */
async function tail(loaded: LoadedConfig, o: IpcCommandOptions, io: CommandIo): Promise<number> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await runTailCommand(loaded, o, io, stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * Runs the command with `argv` (without node and script) and resolves with the exit code. Never
 * throws: errors are printed on stderr as one line.
 */
export async function main(
  argv: readonly string[],
  io: CommandIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
  plugins: readonly PluginDefinition[] = DEFAULT_PLUGINS,
): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parse(argv, io.env);
  } catch (e) {
    io.stderr.write(`daemoneye-collector: ${describeError(e)}\n${USAGE}`);
    return ExitCode.Usage;
  }
  if (parsed.command === 'audit' && !parsed.help) {
    try {
      return await runAuditCommand(parsed.action, parsed.stateFile, io);
    } catch (e) {
      io.stderr.write(`daemoneye-collector: ${describeError(e)}\n`);
      return ExitCode.Usage;
    }
  }
  if (parsed.help || parsed.command === undefined || parsed.command === 'help') {
    (parsed.command === undefined && !parsed.help ? io.stderr : io.stdout).write(USAGE);
    return parsed.command === undefined && !parsed.help ? ExitCode.Usage : ExitCode.Ok;
  }
  if (!['run', 'query', 'config', 'status', 'tail', 'reload'].includes(parsed.command)) {
    const hint = didYouMean(parsed.command, COMMANDS);
    io.stderr.write(`daemoneye-collector: ERR_CLI_USAGE: unknown command "${parsed.command}"${hint}\n${USAGE}`);
    return ExitCode.Usage;
  }
  try {
    const all = [...plugins, stdoutSinkDefinition(io.stdout)];
    if (parsed.command === 'config' && parsed.sample) {
      // For the system file of a service run as root, whoever prints it.
      io.stdout.write(renderSampleConfig(cliConfigSchema(all, io.env, 0)));
      return ExitCode.Ok;
    }
    const schema = cliConfigSchema(all, io.env);
    const load = (): LoadedConfig => loadConfig({ schema, ...parsed.loadArgs });
    if (parsed.command === 'reload') {
      // The running collector judges the new files and reports why it refuses them; this command only
      // needs the data directory, so a file it cannot load does not stop it from asking.
      let forReload: LoadedConfig;
      try {
        forReload = load();
      } catch {
        forReload = loadConfig({
          schema,
          ...parsed.loadArgs,
          systemFile: null,
          userFile: null,
          systemFileRequired: false,
          userFileRequired: false,
        });
      }
      return await runReloadCommand(forReload, io);
    }
    const loaded = load();
    if (parsed.command === 'config') {
      printConfig(loaded, parsed.json, io.stdout);
      return ExitCode.Ok;
    }
    if (parsed.command === 'status') return await runStatusCommand(loaded, parsed.ipc, io.stdout);
    if (parsed.command === 'tail') return await tail(loaded, parsed.ipc, io);
    if (parsed.command === 'query') {
      const format = parsed.json ? 'json' : parsed.csv ? 'csv' : 'table';
      await runQueryCommand(loaded, parsed.sql ?? '', format, io);
      return ExitCode.Ok;
    }
    return await runCollector({ loaded, load, plugins: all, stdout: io.stdout });
  } catch (e) {
    const configError =
      isCollectorError(e, 'ERR_CONFIG_INVALID') ||
      isCollectorError(e, 'ERR_CONFIG_PARSE') ||
      isCollectorError(e, 'ERR_CONFIG_UNKNOWN_KEY');
    io.stderr.write(`daemoneye-collector: ${configError ? 'configuration error: ' : ''}${describeError(e)}\n`);
    return configError ||
      isCollectorError(e, 'ERR_QUERY_REFUSED') ||
      isCollectorError(e, 'ERR_CLI_USAGE') ||
      isCollectorError(e, 'ERR_CLI_PRIVILEGES')
      ? ExitCode.Usage
      : ExitCode.Failure;
  }
}
