import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startRun } from './__test__/built-command.ts';

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.log('skipping the trigger end-to-end test: it needs root for real-time process events');

interface Line {
  kind: string;
  subtype?: string;
  pid?: number;
  executablePath?: string;
  triggerId?: string;
  targetPid?: number;
  targetPath?: string;
  correlationId?: string;
  success?: boolean;
  error?: string;
  data?: { sha256?: string; path?: string };
}

const start = (args: string[]) => startRun<Line>(args);

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end && !cond()) await new Promise((r) => setTimeout(r, 25));
  return cond();
}

let running: ChildProcess | undefined;
const cleanup: string[] = [];
afterEach(() => {
  if (running !== undefined && running.exitCode === null) running.kill('SIGKILL');
  running = undefined;
  for (const f of cleanup.splice(0)) rmSync(f, { force: true });
});

describe('daemoneye-collector run: default trigger rules end to end', () => {
  it.skipIf(!isRoot)(
    'a copy of /bin/sleep run from /tmp fires exec-from-temp-dir and yields its SHA-256 as sha256sum computes it',
    async () => {
      const copy = join('/tmp', `de-sleep-${process.pid}-${Date.now()}`);
      copyFileSync('/bin/sleep', copy);
      execFileSync('chmod', ['755', copy]);
      cleanup.push(copy);
      const expected = execFileSync('sha256sum', [copy], { encoding: 'utf8' }).split(' ')[0];
      const c = start(['--output', 'jsonl', '--log-level', 'warn', '--set', 'batch_timeout=20ms']);
      running = c.child;
      expect(await until(() => c.lines.some((l) => l.subtype === 'snapshot' && l.pid === process.pid), 15_000)).toBe(
        true,
      );
      const sleeper = spawn(copy, ['1.5'], { stdio: 'ignore' });
      const pid = sleeper.pid as number;
      await new Promise((r) => sleeper.on('exit', r));
      const trigger = () => c.lines.find((l) => l.kind === 'trigger_request' && l.targetPath === copy);
      expect(await until(() => trigger() !== undefined, 5000)).toBe(true);
      expect(trigger()).toMatchObject({ triggerId: 'exec-from-temp-dir', targetPid: pid, targetPath: copy });
      const result = () =>
        c.lines.find((l) => l.kind === 'analysis_result' && l.correlationId === trigger()?.correlationId);
      expect(await until(() => result() !== undefined, 5000)).toBe(true);
      expect(result()).toMatchObject({ success: true, data: { sha256: expected, path: copy } });
      // Deduplicated: one request for this pid and path, although snapshot, start and exec all named it.
      expect(c.lines.filter((l) => l.kind === 'trigger_request' && l.targetPath === copy)).toHaveLength(1);
      c.child.kill('SIGTERM');
      expect(await new Promise((r) => c.child.on('exit', r))).toBe(0);
      expect(c.stderr()).not.toMatch(/"level":(50|60)/);
    },
    40_000,
  );

  it.skipIf(!isRoot)(
    'a [[triggers]] rule written in collector.toml fires and its analysis answers with the SHA-256',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'de-cfg-rule-'));
      const copy = join(dir, 'probe-sleep');
      copyFileSync('/bin/sleep', copy);
      execFileSync('chmod', ['755', copy]);
      cleanup.push(copy);
      const expected = execFileSync('sha256sum', [copy], { encoding: 'utf8' }).split(' ')[0];
      const config = join(dir, 'collector.toml');
      writeFileSync(
        config,
        [
          'batch_timeout = "20ms"',
          '[[triggers]]',
          'id = "probe-from-config"',
          `sql_condition = "executable_path = '${copy}' AND subtype = 'exec'"`,
          'analysis_type = "BinaryHash"',
          'priority = "high"',
          '[processors.triggers]',
          'default_rules = false',
          '',
        ].join('\n'),
      );
      const c = start(['--config', config, '--output', 'jsonl', '--log-level', 'warn']);
      running = c.child;
      expect(await until(() => c.lines.some((l) => l.subtype === 'snapshot' && l.pid === process.pid), 15_000)).toBe(
        true,
      );
      const sleeper = spawn(copy, ['0.5'], { stdio: 'ignore' });
      const pid = sleeper.pid as number;
      await new Promise((r) => sleeper.on('exit', r));
      const requests = () => c.lines.filter((l) => l.kind === 'trigger_request');
      expect(await until(() => requests().length > 0, 5000)).toBe(true);
      // default_rules = false: the only rule is the configured one, and it names this exec.
      expect(requests().map((l) => [l.triggerId, l.targetPid, l.targetPath])).toEqual([
        ['probe-from-config', pid, copy],
      ]);
      const result = () =>
        c.lines.find((l) => l.kind === 'analysis_result' && l.correlationId === requests()[0]?.correlationId);
      expect(await until(() => result() !== undefined, 5000)).toBe(true);
      expect(result()).toMatchObject({ success: true, data: { sha256: expected, path: copy } });
      c.child.kill('SIGTERM');
      expect(await new Promise((r) => c.child.on('exit', r))).toBe(0);
    },
    40_000,
  );

  it('stops at start-up with ERR_RULES_FILE naming collector.toml when a [[triggers]] rule there is bad', async () => {
    const config = join(mkdtempSync(join(tmpdir(), 'de-cfg-bad-')), 'collector.toml');
    writeFileSync(
      config,
      '[[triggers]]\nid = "ok"\nsql_condition = "uid = 0"\n[[triggers]]\nid = "typo"\nsql_condition = "nmae = \'sh\'"\n',
    );
    const c = start(['--config', config, '--set', 'sources.process.realtime=off']);
    running = c.child;
    expect(await new Promise((r) => c.child.on('exit', r))).toBe(1);
    expect(c.stderr()).toContain(
      `ERR_RULES_FILE: ${config}: triggers[1] (id "typo"): ERR_TRIGGER_SQL: unknown column "nmae" at line 1, column 1`,
    );
  });

  it('stops at start-up with ERR_RULES_FILE naming the file, the rule and the position', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'de-rules-')), 'rules.toml');
    writeFileSync(file, '[[triggers]]\nid = "bad"\nsql_condition = "name = \'x\' OR nope = 1"\n');
    const c = start(['--set', `processors.triggers.rules_file=${file}`, '--set', 'sources.process.realtime=off']);
    running = c.child;
    const code = await new Promise((r) => c.child.on('exit', r));
    expect(code).toBe(1);
    expect(c.stderr()).toContain(
      `ERR_RULES_FILE: ${file}: triggers[0] (id "bad"): ERR_TRIGGER_SQL: unknown column "nope" at line 1, column 15`,
    );
  });
});
