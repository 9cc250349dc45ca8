import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, startRun } from './__test__/built-command.ts';

const isRoot = process.getuid?.() === 0;
if (!isRoot)
  console.log('skipping the analysis chain end-to-end test: it needs root to read /proc/<pid>/exe of every process');

interface Line {
  kind: string;
  triggerId?: string;
  targetCollector?: string;
  targetPid?: number;
  correlationId?: string;
  workflowId?: string;
  metadata?: Record<string, string>;
  success?: boolean;
  error?: string;
  data?: {
    status?: string;
    stages?: Record<string, string>;
    results?: Record<string, { sha256?: string; path?: string }>;
    target_pid?: number;
    sha256?: string;
  };
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end && !cond()) await new Promise((r) => setTimeout(r, 25));
  return cond();
}

const children: ChildProcess[] = [];
const dirs: string[] = [];
const dataDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'de-chain-data-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('daemoneye-collector run: default analysis workflow end to end', () => {
  it.skipIf(!isRoot)(
    'a running copy of /bin/sleep replaced on disk runs deleted-executable-triage to completion with sha256sum’s hash of the image',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'de-chain-'));
      dirs.push(dir);
      const copy = join(dir, 'sleep');
      copyFileSync('/bin/sleep', copy);
      execFileSync('chmod', ['755', copy]);
      const expected = execFileSync('sha256sum', [copy], { encoding: 'utf8' }).split(' ')[0];
      const sleeper = spawn(copy, ['60'], { stdio: 'ignore' });
      children.push(sleeper);
      const pid = sleeper.pid as number;
      const exe = () => {
        try {
          return readlinkSync(`/proc/${pid}/exe`);
        } catch {
          return '';
        }
      };
      expect(await until(() => exe() === copy, 5000)).toBe(true);
      // Replaced on disk, as an attacker covering tracks (or an upgrade) would: the path now holds
      // another file, and the workflow must hash the image that runs, not the replacement.
      rmSync(copy);
      copyFileSync('/bin/true', copy);
      expect(exe()).toBe(`${copy} (deleted)`);
      const replacement = execFileSync('sha256sum', [copy], { encoding: 'utf8' }).split(' ')[0];
      expect(replacement).not.toBe(expected);

      const run = startRun<Line>(['--output', 'jsonl', '--log-level', 'warn', '--set', 'batch_timeout=20ms'], {
        dataDir: dataDir(),
      });
      children.push(run.child);
      const { lines } = run;

      const final = () =>
        lines.find(
          (l) =>
            l.kind === 'analysis_result' && l.workflowId === 'deleted-executable-triage' && l.data?.target_pid === pid,
        );
      expect(await until(() => final() !== undefined, 20_000), run.stderr()).toBe(true);
      expect(final()).toMatchObject({
        analysisType: 'Custom',
        success: true,
        data: {
          status: 'completed',
          stages: { hash: 'succeeded' },
          results: { hash: { sha256: expected, path: `/proc/${pid}/exe` } },
          target_pid: pid,
        },
      });
      // The default rule asked the coordinator, whose run answers that very request…
      const trigger = lines.find((l) => l.kind === 'trigger_request' && l.correlationId === final()?.correlationId);
      expect(trigger).toMatchObject({
        triggerId: 'deleted-executable',
        targetCollector: 'analysis-chains',
        targetPid: pid,
      });
      // …by asking the binary hasher once, whose own result carries the same hash.
      const stage = lines.filter((l) => l.kind === 'trigger_request' && l.metadata?.root_id === final()?.correlationId);
      expect(stage).toHaveLength(1);
      expect(stage[0]).toMatchObject({
        triggerId: 'deleted-executable-triage/hash',
        targetCollector: 'binary-hasher',
        targetPid: pid,
        metadata: { workflow_id: 'deleted-executable-triage', workflow_stage: 'hash', attempt: '1' },
      });
      const hashed = lines.find((l) => l.kind === 'analysis_result' && l.correlationId === stage[0]?.correlationId);
      expect(hashed).toMatchObject({ success: true, data: { sha256: expected } });

      run.child.kill('SIGTERM');
      expect(await new Promise((r) => run.child.on('exit', r))).toBe(0);
      expect(run.stderr()).not.toMatch(/"level":(50|60)/);
    },
    45_000,
  );

  it('stops at start-up with ERR_WORKFLOW_INVALID naming the workflows file, the workflow and the problem', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'de-chain-file-'));
    dirs.push(dir);
    const file = join(dir, 'workflows.toml');
    writeFileSync(
      file,
      '[[workflows]]\nid = "loop"\ndependencies = { a = ["b"], b = ["a"] }\n' +
        '[[workflows.stages]]\nid = "a"\nanalysis_type = "BinaryHash"\ntarget_collector = "binary-hasher"\n' +
        '[[workflows.stages]]\nid = "b"\nanalysis_type = "BinaryHash"\ntarget_collector = "binary-hasher"\n',
    );
    const child = spawn(
      process.execPath,
      [
        BIN,
        'run',
        '--no-system-config',
        '--set',
        `processors.analysis_chains.workflows_file=${file}`,
        '--set',
        'sources.process.realtime=off',
      ],
      {
        env: {
          ...process.env,
          XDG_CONFIG_HOME: '/nonexistent',
          DAEMONEYE_COLLECTOR_DATA_DIR: dataDir(),
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    expect(await new Promise((r) => child.on('exit', r))).toBe(1);
    expect(stderr).toContain(
      `ERR_WORKFLOW_INVALID: ${file}: workflows[0] (id "loop"): has a dependency cycle: a → b → a`,
    );
  });
});
