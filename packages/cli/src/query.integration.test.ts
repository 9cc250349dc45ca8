/**
 * `query` against a live `run`, both through the built command: the collector (process source with
 * its /proc snapshot, store sink, stdout off) runs in one process while `query` reads its store from
 * another, and what it answers is checked against /proc.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const run = promisify(execFile);
const env = { ...process.env, XDG_CONFIG_HOME: '/nonexistent' };

let child: ChildProcess | undefined;
afterEach(() => {
  if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
});

async function query(dataDir: string, sql: string): Promise<Record<string, unknown>[]> {
  const { stdout } = await run(process.execPath, [BIN, 'query', '--no-system-config', '-d', dataDir, '--json', sql], {
    env,
  });
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('daemoneye-collector query against a running collector', () => {
  it('finds the processes of the live snapshot, as /proc has them', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'de-cli-live-'));
    const c = spawn(
      process.execPath,
      [
        BIN,
        'run',
        '--no-system-config',
        '-d',
        dataDir,
        '-o',
        'none',
        '--set',
        'sources.process.realtime=off',
        '--set',
        'batch_timeout=20ms',
      ],
      { env, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = c;
    let stderr = '';
    c.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const collectorPid = c.pid as number;
    const me = process.pid;
    let found: Record<string, unknown>[] = [];
    const end = Date.now() + 20_000;
    while (Date.now() < end) {
      try {
        found = await query(
          dataDir,
          `SELECT pid, ppid, name, executable_path FROM process_events WHERE subtype = 'snapshot' AND pid IN (${me}, ${collectorPid}) ORDER BY pid`,
        );
        if (found.length === 2) break;
      } catch {
        // The store is not there yet.
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(c.exitCode).toBe(null);
    const stat = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppidOf = (pid: number) =>
      Number(
        stat(pid)
          .slice(stat(pid).lastIndexOf(')') + 2)
          .split(' ')[1],
      );
    const commOf = (pid: number) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    expect(found).toEqual(
      [me, collectorPid]
        .sort((a, b) => a - b)
        .map((pid) => ({ pid, ppid: ppidOf(pid), name: commOf(pid), executable_path: process.execPath })),
    );
    const counts = await query(
      dataDir,
      'SELECT count(*) AS n, count(DISTINCT seq) AS d, count(DISTINCT run_id) AS runs FROM events',
    );
    expect(counts[0]?.n).toBe(counts[0]?.d);
    expect(counts[0]?.runs).toBe(1);
    const start = stderr.split('\n').find((l) => l.includes('events are stored in'));
    expect(JSON.parse(start ?? '{}')).toMatchObject({ store: join(dataDir, 'events.db') });
    expect(start).toContain('query them with: daemoneye-collector query');
    c.kill('SIGTERM');
    expect(await new Promise<number | null>((r) => c.on('exit', (code) => r(code)))).toBe(0);
  }, 60_000);
});
