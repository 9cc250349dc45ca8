/**
 * The built `daemoneye-collector run` with the filesystem source configured through a config file:
 * a file created under the watched temp dir by another process comes out as a `filesystem` create
 * event, and the store's own writes in the data directory (inside the watched tree) never do. The
 * other sources are turned off so the output is the filesystem source's alone.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startRun } from './__test__/built-command.ts';

interface Line {
  kind: string;
  path?: string;
  operation?: string;
  pid?: number;
  uid?: number;
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end && !cond()) await new Promise((r) => setTimeout(r, 25));
  return cond();
}

let running: ChildProcess | undefined;
let root = '';
afterEach(() => {
  if (running !== undefined && running.exitCode === null) running.kill('SIGKILL');
  running = undefined;
  rmSync(root, { recursive: true, force: true });
});

describe('run with the filesystem source', () => {
  it('reports a file created under a watched dir, and nothing of its own store', async () => {
    root = mkdtempSync(join(tmpdir(), 'de-cli-fs-'));
    const watched = join(root, 'watched');
    const dataDir = join(root, 'data');
    mkdirSync(watched);
    mkdirSync(dataDir);
    const config = join(root, 'collector.toml');
    writeFileSync(
      config,
      [
        'batch_timeout = "20ms"',
        '[sources.process]',
        'enabled = false',
        '[sources.network]',
        'enabled = false',
        '[sources.performance]',
        'enabled = false',
        '[sources.filesystem]',
        `paths = [${JSON.stringify(root)}]`,
        '',
      ].join('\n'),
    );
    const c = startRun<Line>(['--output', 'jsonl', '--config', config], { dataDir });
    running = c.child;
    expect(await until(() => c.stderr().includes('"filesystem source watching"'), 15_000), c.stderr()).toBe(true);
    const target = join(watched, 'new-file.txt');
    execFileSync('sh', ['-c', `echo hello > ${target}`]);
    expect(
      await until(() => c.lines.some((l) => l.kind === 'filesystem' && l.path === target), 10_000),
      c.stderr(),
    ).toBe(true);
    // Let the store write the batch (and a checkpoint) while the source watches its directory.
    await new Promise((r) => setTimeout(r, 1500));
    c.child.kill('SIGTERM');
    expect(await new Promise<number | null>((r) => c.child.on('exit', (code) => r(code)))).toBe(0);
    const fsLines = c.lines.filter((l) => l.kind === 'filesystem');
    // The writer (a shell that exits at once) may be gone before its name and uid are read: its pid is always there.
    expect(fsLines.find((l) => l.path === target)).toMatchObject({ operation: 'create', pid: expect.any(Number) });
    expect(fsLines.filter((l) => l.path?.startsWith(dataDir))).toEqual([]);
    expect(fsLines.filter((l) => l.path?.startsWith(watched)).map((l) => [l.operation, l.path])).toEqual([
      ['create', target],
      ['modify', target],
    ]);
  }, 40_000);
});
