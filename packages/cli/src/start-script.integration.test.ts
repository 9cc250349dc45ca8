/**
 * The README's quick start, `npx pnpm start`, run for real from the repository root: stdout carries
 * only events (build output goes to stderr), and Ctrl-C — SIGINT to the whole process group, as a
 * terminal sends it — stops the collector cleanly with exit 0 and no pnpm failure message. The
 * process source is disabled, so no kernel interface is touched. It does not test the collector's
 * events themselves (see cli.integration.test.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const posix = process.platform !== 'win32';
if (!posix) console.log('start-script tests skipped: they need POSIX process groups and signals');

interface Started {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
  /** An empty XDG_CONFIG_HOME, so no user configuration file applies; turbo writes its own files there. */
  readonly configHome: string;
}

function startScript(): Started {
  const configHome = mkdtempSync(join(tmpdir(), 'start-script-'));
  const child = spawn('npx', ['--yes', 'pnpm@12.4.2', 'start'], {
    cwd: ROOT,
    // A process group of its own, so the test can signal it the way a terminal would.
    detached: true,
    env: {
      ...process.env,
      DAEMONEYE_COLLECTOR_SOURCES__PROCESS__ENABLED: 'false',
      // Its own data directory: the host's store and sequence mark are not the test's to touch.
      DAEMONEYE_COLLECTOR_DATA_DIR: join(configHome, 'data'),
      XDG_CONFIG_HOME: configHome,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited, configHome };
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end && !cond()) await new Promise((r) => setTimeout(r, 25));
  return cond();
}

/** The collector's pid, from its `collector starting` log line on stderr. */
function collectorPid(stderr: string): number | undefined {
  const line = stderr.split('\n').find((l) => l.includes('"msg":"collector starting"'));
  return line === undefined ? undefined : (JSON.parse(line) as { pid: number }).pid;
}

let running: Started | undefined;
afterEach(() => {
  if (running === undefined) return;
  const pid = collectorPid(running.stderr());
  for (const target of [running.child.pid === undefined ? undefined : -running.child.pid, pid]) {
    if (target === undefined) continue;
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  rmSync(running.configHome, { recursive: true, force: true });
  running = undefined;
});

describe.skipIf(!posix)('pnpm start (the README quick start)', () => {
  it('prints only JSON lines on stdout and exits 0 without ELIFECYCLE after SIGINT to its process group', async () => {
    const started = startScript();
    running = started;
    expect(await until(() => started.stderr().includes('"msg":"collector starting"'), 60_000)).toBe(true);
    const pgid = started.child.pid as number;
    process.kill(-pgid, 'SIGINT');
    const code = await started.exited;
    // What pnpm and turbo print before the collector starts must not be on stdout.
    const nonJson = started
      .stdout()
      .split('\n')
      .filter((line) => line !== '')
      .filter((line) => {
        try {
          return typeof JSON.parse(line) !== 'object';
        } catch {
          return true;
        }
      });
    expect(nonJson).toEqual([]);
    expect(started.stderr()).toContain('"msg":"collector stopped"');
    expect(started.stderr()).toContain('"drained":true');
    expect(started.stderr()).not.toContain('ELIFECYCLE');
    expect(code).toBe(0);
  }, 90_000);
});
