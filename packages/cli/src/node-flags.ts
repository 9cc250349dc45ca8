/**
 * The Node options `run` starts with. The collector is a long-running service whose cost is mostly
 * V8's young-generation collections: with the collector threads V8 starts by default, each scavenge
 * is split across four helper threads whose hand-off costs more CPU than the work saves on a small
 * host (measured at 200 execs/s: about 9 % of the collector's CPU). `--single-threaded-gc` does the
 * same collections on the thread that allocated. Only the command line can set it, so `run` starts
 * itself over in place (same PID) with it, before anything else runs. `DAEMONEYE_NODE_FLAGS` replaces
 * the list (space-separated; empty: Node's defaults, no restart).
 */
import { execWithNodeFlags, type NodeFlagsOutcome } from '@daemoneye/native';

/** The Node options of `run` unless `DAEMONEYE_NODE_FLAGS` says otherwise. */
export const RUN_NODE_FLAGS: readonly string[] = ['--single-threaded-gc'];

let outcome: NodeFlagsOutcome | undefined;

/** The Node options `run` asks for, from `env`. */
export function runNodeFlags(env: NodeJS.ProcessEnv = process.env): readonly string[] {
  const given = env.DAEMONEYE_NODE_FLAGS;
  return given === undefined ? RUN_NODE_FLAGS : given.split(/\s+/).filter((f) => f !== '');
}

/**
 * For the `run` command (`argv` without node and script): restarts the process with the missing
 * {@link runNodeFlags} (not returning), or records why it could not for {@link nodeFlagsOutcome}.
 */
export function applyRunNodeFlags(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  if (argv[0] !== 'run' || argv.includes('--help') || argv.includes('-h')) return;
  const flags = runNodeFlags(env);
  outcome = flags.length === 0 ? undefined : execWithNodeFlags(flags);
}

/** What {@link applyRunNodeFlags} found in this process: applied, why not, or `undefined` (not asked). */
export function nodeFlagsOutcome(): NodeFlagsOutcome | undefined {
  return outcome;
}
