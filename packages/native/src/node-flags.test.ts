import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { execWithNodeFlags, missingNodeFlags } from './node-flags.ts';

const ENTRY = new URL('../dist/node-flags.js', import.meta.url).href;

/** Runs a module that restarts itself with `flags` and prints what the restarted image sees. */
function restartProbe(flags: readonly string[], nodeArgs: readonly string[] = []) {
  const code = `
    import { readFileSync } from 'node:fs';
    import { execWithNodeFlags } from ${JSON.stringify(ENTRY)};
    const outcome = execWithNodeFlags(${JSON.stringify(flags)});
    process.stdout.write(JSON.stringify({
      outcome, pid: process.pid, execArgv: process.execArgv, args: process.argv.slice(1),
      env: process.env.PROBE_ENV, cmdline: readFileSync('/proc/self/cmdline', 'utf8').split('\\0').filter(Boolean),
    }) + '\\n');
    process.stderr.write('on stderr\\n');
  `;
  const r = spawnSync(process.execPath, [...nodeArgs, '--input-type=module', '-e', code, 'x', 'y z'], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, PROBE_ENV: 'kept' },
  });
  return { status: r.status, out: JSON.parse(r.stdout) as Record<string, unknown>, err: r.stderr, pid: r.pid };
}

describe('missingNodeFlags', () => {
  it('names the flags not given yet, by name, whatever their value or spelling', () => {
    expect(
      missingNodeFlags(
        ['--single-threaded-gc', '--max-semi-space-size=4', '--stack-trace-limit=20'],
        ['--max_semi_space_size=8', '--inspect'],
      ),
    ).toEqual(['--single-threaded-gc', '--stack-trace-limit=20']);
    expect(missingNodeFlags([], ['--inspect'])).toEqual([]);
  });
});

describe('execWithNodeFlags', () => {
  it('refuses what is not an option, without starting over', () => {
    expect(execWithNodeFlags(['single-threaded-gc'])).toEqual({
      applied: false,
      reason: '"single-threaded-gc" is not a Node or V8 option',
    });
    expect(execWithNodeFlags(['--a; rm -rf /'])).toMatchObject({ applied: false });
  });

  it.runIf(process.platform === 'linux')(
    'starts the same process over with the flag: same PID, arguments, environment, stdout and stderr',
    () => {
      const r = restartProbe(['--single-threaded-gc'], ['--stack-trace-limit=15']);
      expect(r.status).toBe(0);
      expect(r.out).toMatchObject({
        outcome: { applied: true, flags: ['--single-threaded-gc'] },
        pid: r.pid,
        execArgv: ['--single-threaded-gc', '--stack-trace-limit=15', '--input-type=module', '-e', expect.any(String)],
        args: ['x', 'y z'],
        env: 'kept',
      });
      expect((r.out.cmdline as string[]).slice(0, 3)).toEqual([
        process.execPath,
        '--single-threaded-gc',
        '--stack-trace-limit=15',
      ]);
      expect(r.err).toBe('on stderr\n');
    },
  );

  it.runIf(process.platform === 'linux')('does not start over when the flag is given already', () => {
    const r = restartProbe(['--single-threaded-gc'], ['--single-threaded-gc']);
    expect(r.out).toMatchObject({
      outcome: { applied: true },
      pid: r.pid,
      execArgv: ['--single-threaded-gc', '--input-type=module', '-e', expect.any(String)],
    });
    expect((r.out.cmdline as string[]).filter((a) => a === '--single-threaded-gc')).toHaveLength(1);
  });
});
