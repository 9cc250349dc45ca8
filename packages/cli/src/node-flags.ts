/**
 * The Node options `run` starts with. Much of the collector's cost is V8's young-generation
 * collections. By default each one is split across helper threads whose hand-off costs CPU on a
 * small host: `--single-threaded-gc` does them on the thread that allocated. And
 * by default the young generation grows to 16 MB semi-spaces under load, in every isolate (the main
 * thread and each worker), which is RSS the service keeps: `--max-semi-space-size=1` holds them at
 * 1 MB. Measured with the backends and collector benches (numbers in the package README). Only the
 * command line can set these, so `run` starts itself over in place (same PID) with them, before
 * anything else runs. `DAEMONEYE_NODE_FLAGS` replaces the list (space-separated; empty: Node's
 * defaults, no restart).
 */
import { execWithNodeFlags, type NodeFlagsOutcome } from '@daemoneye/native';

/** The Node options of `run` unless `DAEMONEYE_NODE_FLAGS` says otherwise. */
export const RUN_NODE_FLAGS: readonly string[] = ['--single-threaded-gc', '--max-semi-space-size=1'];

/** The options asked for in this process and what came of it. */
export interface RunNodeFlags {
  readonly asked: readonly string[];
  readonly outcome: NodeFlagsOutcome;
}

let applied: RunNodeFlags | undefined;

/** The Node options `run` asks for, from `env`. */
function runNodeFlags(env: NodeJS.ProcessEnv = process.env): readonly string[] {
  const given = env.DAEMONEYE_NODE_FLAGS;
  return given === undefined ? RUN_NODE_FLAGS : given.split(/\s+/).filter((f) => f !== '');
}

/**
 * For the `run` command (`argv` without node and script): restarts the process with the missing
 * {@link runNodeFlags} (not returning), or records why it could not for {@link nodeFlagsOutcome}.
 */
export function applyRunNodeFlags(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  if (argv[0] !== 'run' || argv.includes('--help') || argv.includes('-h')) return;
  const asked = runNodeFlags(env);
  applied = asked.length === 0 ? undefined : { asked, outcome: execWithNodeFlags(asked) };
}

/** What {@link applyRunNodeFlags} asked for and found in this process, or `undefined` (nothing asked). */
export function nodeFlagsOutcome(): RunNodeFlags | undefined {
  return applied;
}
