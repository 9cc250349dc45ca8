/**
 * What `pnpm start` runs: builds the workspace with turbo, then runs `daemoneye-collector run` with
 * the arguments given, so that stdout carries nothing but the collector's events (`pnpm start | jq`
 * works): turbo's output goes to stderr. It is not part of any package and does nothing but build
 * and launch.
 *
 *   node tools/start.mjs [daemoneye-collector run options ...]
 *
 * Stopping: the collector runs in a process group of its own, so it receives exactly one stop
 * signal, from this launcher. A terminal's Ctrl-C reaches this launcher, pnpm and npm at once; pnpm
 * passes it on and, once npm has passed it on too, adds a SIGTERM. A collector in the terminal's
 * group would get all of them, and one arriving after it removed its handlers kills it (exit 130 or
 * 143 instead of 0). So this launcher passes the first SIGINT, SIGTERM or SIGHUP it receives on to
 * the collector, ignores the rest, and exits with the collector's code: 0 after a clean stop. If
 * this launcher is killed with SIGKILL, the collector keeps running.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');

/** @type {import('node:child_process').ChildProcess | undefined} */
let current;
/** @type {NodeJS.Signals | undefined} */
let stopSignal;
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
  process.on(signal, () => {
    if (stopSignal !== undefined) return;
    stopSignal = signal;
    current?.kill(signal);
  });
}

/**
 * Runs `node <args>` and resolves with its exit code (128 + the signal number when a signal ended
 * it, 1 when it could not start).
 * @param {readonly string[]} args
 * @param {import('node:child_process').SpawnOptions} options
 * @returns {Promise<number>}
 */
function runNode(args, options) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, ...options });
    current = child;
    child.on('error', (e) => {
      process.stderr.write(`start: cannot run ${args[0]}: ${e.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      current = undefined;
      resolve(code ?? 128 + (signal === null ? 0 : constants.signals[signal]));
    });
  });
}

const turbo = path.join(ROOT, 'node_modules', 'turbo', 'bin', 'turbo');
const built = await runNode([turbo, 'run', 'build', '--output-logs=errors-only'], { stdio: ['ignore', 2, 'inherit'] });
if (built !== 0 || stopSignal !== undefined) process.exit(built === 0 ? 128 + constants.signals.SIGINT : built);
const bin = path.join(ROOT, 'packages', 'cli', 'dist', 'bin.js');
process.exitCode = await runNode([bin, 'run', ...process.argv.slice(2)], { stdio: 'inherit', detached: true });
