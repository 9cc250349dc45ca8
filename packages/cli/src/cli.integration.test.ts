import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeEbpf } from '@daemoneye/native';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, startRun } from './__test__/built-command.ts';

interface Line {
  kind: string;
  subtype?: string;
  pid?: number;
  ppid?: number;
  commandLine?: string[];
  executablePath?: string;
  exitCode?: number;
}

const startCollector = (args: string[]) => startRun<Line>(args);

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end && !cond()) await new Promise((r) => setTimeout(r, 25));
  return cond();
}

let running: ChildProcess | undefined;
afterEach(() => {
  if (running !== undefined && running.exitCode === null) running.kill('SIGKILL');
  running = undefined;
});

describe('daemoneye-collector run (the built command)', () => {
  it('shows a process started in another shell as JSON lines, then exits 0 on SIGTERM', async () => {
    const c = startCollector(['--output', 'jsonl', '--log-level', 'warn', '--set', 'batch_timeout=20ms']);
    running = c.child;
    expect(await until(() => c.lines.some((l) => l.subtype === 'snapshot' && l.pid === process.pid), 15_000)).toBe(
      true,
    );
    // Another shell starts a process with a recognisable argv.
    const shell = spawn('/bin/sh', ['-c', 'sleep 0.7317; exit 5'], { stdio: 'ignore' });
    const shellPid = shell.pid as number;
    await new Promise((r) => shell.on('exit', r));
    const isSleep = (l: Line): boolean => l.commandLine?.join(' ') === 'sleep 0.7317';
    expect(await until(() => c.lines.some((l) => isSleep(l) && l.subtype === 'exit'), 5000)).toBe(true);
    const sleepStart = c.lines.find((l) => isSleep(l) && (l.subtype === 'exec' || l.subtype === 'start'));
    expect(sleepStart).toMatchObject({ kind: 'process', ppid: shellPid, executablePath: '/usr/bin/sleep' });
    expect(
      await until(() => c.lines.some((l) => l.pid === shellPid && l.subtype === 'exit' && l.exitCode === 5), 5000),
    ).toBe(true);
    c.child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => c.child.on('exit', (code) => r(code)));
    expect(code).toBe(0);
    expect(c.stderr()).not.toMatch(/"level":(50|60)/);
  }, 40_000);

  it('exits 2 with a one-line reason on bad configuration', async () => {
    const c = startCollector(['--set', 'event_buffer_size=-5']);
    running = c.child;
    const code = await new Promise<number | null>((r) => c.child.on('exit', (code) => r(code)));
    expect(code).toBe(2);
    expect(c.stderr()).toBe(
      'daemoneye-collector: configuration error: ERR_CONFIG_INVALID: event_buffer_size = "-5" must be at least 1 (set by flag --set event_buffer_size=-5)\n',
    );
  });

  it('under `| head -n 5` prints 5 lines, counts the rest as sink_closed, logs no error and exits 0', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'de-cli-data-'));
    const cmd = `"${process.execPath}" "${BIN}" run --no-system-config --output jsonl --set sources.process.realtime=off --set data_dir=${dataDir} | head -n 5; echo "status \${PIPESTATUS[0]}" >&2`;
    const r = spawnSync('/bin/bash', ['-c', cmd], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, XDG_CONFIG_HOME: '/nonexistent' },
    });
    expect(r.stdout.trim().split('\n')).toHaveLength(5);
    expect(r.stderr).toMatch(/^status 0$/m);
    const logs = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string; [k: string]: unknown });
    expect(logs.filter((l) => l.level >= 50)).toEqual([]);
    const stopped = logs.find((l) => l.msg === 'collector stopped') as unknown as {
      drained: boolean;
      undelivered: number;
      sinks: { name: string; received: number; delivered: number; dropped: Record<string, number> }[];
      events: { accepted: number; dropped: Record<string, number> };
      derived: { accepted: number };
    };
    expect(stopped.drained).toBe(true);
    expect(stopped.undelivered).toBe(0);
    const sink = stopped.sinks.find((s) => s.name.startsWith('stdout'));
    // Every sink gets the sources' events and the processors' derived ones (trigger requests, hashes).
    const total = stopped.events.accepted + stopped.derived.accepted;
    // The store took every event: the command stopped because stdout's reader went away.
    const store = stopped.sinks.find((s) => s.name === 'store');
    expect(store).toMatchObject({ received: total, delivered: total, dropped: {} });
    expect(sink?.received).toBe(total);
    expect(Object.keys(sink?.dropped ?? {})).toEqual(['sink_closed']);
    expect((sink?.delivered ?? 0) + (sink?.dropped.sink_closed ?? 0)).toBe(sink?.received);
    expect(logs.some((l) => l.msg === 'sink consumer closed; later events for it count as sink_closed')).toBe(true);
  });

  it('runs under the Node options it asks for, restarted in place (same PID), unless DAEMONEYE_NODE_FLAGS says otherwise', async () => {
    const cmdline = (pid: number): string[] =>
      readFileSync(`/proc/${pid}/cmdline`, 'utf8')
        .split('\0')
        .filter((a) => a !== '');
    for (const [env, flags] of [
      [{}, ['--single-threaded-gc', '--max-semi-space-size=1']],
      [{ DAEMONEYE_NODE_FLAGS: '' }, []],
      [
        { DAEMONEYE_NODE_FLAGS: '--single-threaded-gc --stack-trace-limit=20' },
        ['--single-threaded-gc', '--stack-trace-limit=20'],
      ],
    ] as const) {
      const c = startRun<Line>(['--output', 'jsonl', '--log-level', 'debug', '--set', 'batch_timeout=20ms'], { env });
      running = c.child;
      expect(await until(() => c.lines.length > 0, 15_000)).toBe(true);
      const pid = c.child.pid as number;
      expect(cmdline(pid)).toEqual([
        process.execPath,
        ...flags,
        BIN,
        'run',
        '--no-system-config',
        '--output',
        'jsonl',
        '--log-level',
        'debug',
        '--set',
        'batch_timeout=20ms',
      ]);
      c.child.kill('SIGTERM');
      expect(await new Promise<number | null>((r) => c.child.on('exit', (code) => r(code)))).toBe(0);
      const said = c
        .stderr()
        .split('\n')
        .filter((l) => l.includes('"running with Node options"'));
      expect(said.map((l) => (JSON.parse(l) as { nodeFlags: string[] }).nodeFlags)).toEqual(
        flags.length > 0 ? [flags] : [],
      );
      expect(c.stderr()).toContain('"collector stopped"');
    }
  });

  it('--log-level debug shows the source start, privileges, backend, sink open and close, and the stop', async () => {
    const c = startCollector(['--output', 'jsonl', '--log-level', 'debug', '--set', 'batch_timeout=20ms']);
    running = c.child;
    // Three sources start side by side: wait for the process snapshot, not for the first line.
    expect(await until(() => c.lines.length > 0 && c.stderr().includes('"process snapshot sent"'), 15_000)).toBe(true);
    c.child.kill('SIGTERM');
    expect(await new Promise<number | null>((r) => c.child.on('exit', (code) => r(code)))).toBe(0);
    const logs = c
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; [k: string]: unknown });
    const msgs = logs.map((l) => l.msg);
    for (const m of [
      'source starting',
      'process source starting',
      'source ready',
      'sink opened',
      'source stopped',
      'sink closed',
    ]) {
      expect(msgs, m).toContain(m);
    }
    expect(logs.find((l) => l.msg === 'process source starting')).toMatchObject({
      uid: 0,
      euid: 0,
      capEff: expect.any(String),
    });
    // The default backend: eBPF where it can run, else the proc connector with audit.
    expect(logs.find((l) => l.msg === 'process snapshot sent')).toMatchObject({
      backend: probeEbpf().available ? 'ebpf' : 'proc-connector+audit',
    });
    // The default configuration also runs the network and performance sources.
    expect(logs.find((l) => l.msg === 'network backend opened')).toMatchObject({
      source: 'network',
      backend: 'netlink',
    });
    expect(logs.find((l) => l.msg === 'performance source started')).toMatchObject({
      source: 'performance',
      backend: 'procfs',
    });
    const kinds = new Set(c.lines.map((l) => (l as { kind?: unknown }).kind));
    expect([...kinds].sort()).toEqual(expect.arrayContaining(['network', 'performance', 'process']));
  }, 40_000);
});
