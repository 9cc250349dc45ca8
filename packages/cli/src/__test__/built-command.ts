/**
 * Helpers shared by the command's integration tests: start the built `daemoneye-collector run` with
 * no system or user configuration and a data directory of its own, and collect its stdout as parsed
 * JSON lines and its stderr as text. Not shipped (the build leaves `__test__` out).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built command. */
export const BIN = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));

/** A running command, its stdout lines so far, and its stderr so far. */
export interface RunningCommand<L> {
  readonly child: ChildProcess;
  readonly lines: L[];
  stderr(): string;
}

/** Starts `run` with `args`; `dataDir` defaults to a new temporary directory; `env` is added to the environment. */
export function startRun<L>(
  args: readonly string[],
  options: { dataDir?: string; env?: NodeJS.ProcessEnv } = {},
): RunningCommand<L> {
  const child = spawn(process.execPath, [BIN, 'run', '--no-system-config', ...args], {
    env: {
      ...process.env,
      ...options.env,
      XDG_CONFIG_HOME: '/nonexistent',
      DAEMONEYE_COLLECTOR_DATA_DIR: options.dataDir ?? mkdtempSync(join(tmpdir(), 'de-cli-data-')),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: L[] = [];
  let buf = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      lines.push(JSON.parse(buf.slice(0, nl)) as L);
      buf = buf.slice(nl + 1);
    }
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return { child, lines, stderr: () => err };
}
