/**
 * Starting the current Node process over, in place, with V8 flags that only the command line can set.
 * `--single-threaded-gc` is one: V8 aborts when its collector threads change after start (so
 * `v8.setFlagsFromString` cannot do it) and `NODE_OPTIONS` does not accept it. The process image is
 * replaced with execve(2): the same PID (what a service manager watches), the same stdin, stdout,
 * stderr and environment, Node's own options and the script's arguments kept, the missing flags put first. Call
 * it before anything else runs, since nothing of the first image survives.
 */
import { errnoName, libc } from './internal/libc.ts';

/** What {@link execWithNodeFlags} did when it returned (on success it does not return). */
export type NodeFlagsOutcome =
  | { readonly applied: true; readonly flags: readonly string[] }
  | { readonly applied: false; readonly reason: string };

/** A flag's name: `--max-semi-space-size=4` → `--max-semi-space-size`, with `_` spelled `-`. */
function flagName(flag: string): string {
  const eq = flag.indexOf('=');
  return (eq < 0 ? flag : flag.slice(0, eq)).replaceAll('_', '-');
}

/** The flags of `wanted` that `execArgv` does not name (a flag given with another value counts as given). */
export function missingNodeFlags(wanted: readonly string[], execArgv: readonly string[] = process.execArgv): string[] {
  const given = new Set(execArgv.map(flagName));
  return wanted.filter((f) => !given.has(flagName(f)));
}

/**
 * Replaces the process with the same Node and script, run with `flags` added to Node's options.
 * Returns `{ applied: true }` at once when every flag is given already (this is the restarted image,
 * or the caller passed them), and `{ applied: false, reason }` when it cannot restart (a flag is not
 * an option, no FFI, execve failed): the caller goes on without them.
 */
export function execWithNodeFlags(flags: readonly string[]): NodeFlagsOutcome {
  const bad = flags.find((f) => !/^--[a-z0-9][a-z0-9_-]*(=\S+)?$/i.test(f));
  if (bad !== undefined) return { applied: false, reason: `"${bad}" is not a Node or V8 option` };
  const missing = missingNodeFlags(flags);
  if (missing.length === 0) return { applied: true, flags };
  const script = process.argv[1];
  if (script === undefined) return { applied: false, reason: 'no script to start over (eval or REPL)' };
  let c: ReturnType<typeof libc>;
  try {
    c = libc();
  } catch (e) {
    return { applied: false, reason: (e as Error).message };
  }
  const argv = [process.execPath, ...missing, ...process.execArgv, script, ...process.argv.slice(2)];
  const env: string[] = [];
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env.push(`${k}=${v}`);
  // Node opens stdin, stdout and stderr close-on-exec: without this the new image would start with
  // them on /dev/null. A descriptor that is not open is left alone (the new Node opens /dev/null).
  for (const fd of [0, 1, 2]) c.keepOnExec(fd);
  const rc = c.execve(process.execPath, argv, env);
  return { applied: false, reason: `execve(${process.execPath}) failed: ${errnoName(-rc)}` };
}
