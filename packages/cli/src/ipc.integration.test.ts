/**
 * `status` and `tail` against a live `daemoneye-collector run`, all through the built command: the
 * status matches what the collector is (its sources, the socket's modes), tail shows a process
 * started here with the pid the kernel gave it, and keeps showing new ones after the collector is
 * restarted on the same data directory.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CAPABILITY_NAMES } from '@daemoneye/native';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, startRun } from './__test__/built-command.ts';

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end && !cond()) await new Promise((r) => setTimeout(r, 25));
  return cond();
}

const ENV = { ...process.env, XDG_CONFIG_HOME: '/nonexistent' };

function command(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args, '--no-system-config'], {
    encoding: 'utf8',
    env: ENV,
    timeout: 20_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function startCollector(dataDir: string) {
  const c = startRun<unknown>(['--output', 'none', '--log-level', 'warn', '--set', 'batch_timeout=20ms'], { dataDir });
  children.push(c.child);
  return c;
}

function newDataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'de-cli-ipc-'));
  dirs.push(d);
  return d;
}

describe('daemoneye-collector status and tail (the built command)', () => {
  it('status reports the running collector: health, capabilities, each source with backend and state, counters', async () => {
    const dataDir = newDataDir();
    const socket = join(dataDir, 'ipc', 'collector.sock');
    const c = startCollector(dataDir);
    expect(await until(() => existsSync(socket), 15_000)).toBe(true);
    expect(statSync(join(dataDir, 'ipc')).mode & 0o777).toBe(0o700);
    expect(lstatSync(socket).mode & 0o777).toBe(0o600);
    // Once the sources run, status shows them running.
    let json:
      | {
          socket: string;
          health: {
            status: string;
            sources: { name: string; state: string; backend?: string; capabilityLabels: string[] }[];
          };
          stats: {
            state: string;
            nextSeq: number;
            events: { accepted: number };
            ipc: { counters: Record<string, number> };
          };
          capabilities: { negotiationSuccess: boolean; capabilities: { supportedDomains: number[] } };
        }
      | undefined;
    expect(
      await until(() => {
        const r = command(['status', '--json', '--data-dir', dataDir]);
        if (r.status !== 0) return false;
        json = JSON.parse(r.stdout);
        return (
          json?.health.sources.every((s) => s.state === 'running') === true && (json?.stats.events.accepted ?? 0) > 0
        );
      }, 20_000),
    ).toBe(true);
    if (json === undefined) throw new Error('no status');
    expect(json.socket).toBe(socket);
    expect(json.stats.state).toBe('running');
    expect(json.health.sources.map((s) => s.name)).toEqual(['process', 'network', 'performance', 'filesystem']);
    for (const s of json.health.sources) expect(s.backend, s.name).toMatch(/\w/);
    expect(json.health.sources.find((s) => s.name === 'process')?.capabilityLabels).toContain('process');
    // PROCESS, NETWORK, FILESYSTEM and PERFORMANCE domains (MonitoringDomain 0, 1, 2, 3).
    expect(json.capabilities.capabilities.supportedDomains).toEqual([0, 1, 2, 3]);
    expect(json.stats.ipc.counters.connectionsOpen).toBe(1);

    const pretty = command(['status', '--data-dir', dataDir]);
    expect(pretty.status).toBe(0);
    expect(pretty.stdout).toMatch(/^health: (Healthy|Degraded)/m);
    expect(pretty.stdout).toMatch(/^capabilities: process, network, filesystem, performance/m);
    for (const s of json.health.sources) {
      expect(pretty.stdout).toMatch(
        new RegExp(`^  ${s.name}\\s+running\\s+\\w+\\s+${s.backend?.replace(/[+]/g, '\\+')}\\s`, 'm'),
      );
    }
    expect(pretty.stdout).toMatch(/^ {2}ipc\s+Healthy/m);
    // The privileges line says what the kernel shows for the collector's main thread.
    const capEff = BigInt(
      `0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${c.child.pid}/status`, 'latin1'))?.[1]}`,
    );
    const lacking = CAPABILITY_NAMES.filter((_, i) => ((capEff >> BigInt(i)) & 1n) === 0n);
    const uid = process.getuid?.() ?? 0;
    const held =
      lacking.length === 0
        ? 'all capabilities'
        : lacking.length < CAPABILITY_NAMES.length / 2
          ? `all capabilities but ${lacking.join(', ')}`
          : CAPABILITY_NAMES.filter((n) => !lacking.includes(n)).join(', ') || 'none';
    const line = pretty.stdout.split('\n').find((l) => l.startsWith('privileges: '));
    expect(line?.replace(/ in \d+ of \d+ threads/, ' in N of M threads')).toBe(
      `privileges: uid ${uid}${uid === 0 ? ' (root)' : ''}, gid ${process.getgid?.()}; effective ${held} in N of M threads; missing: none`,
    );
    c.child.kill('SIGTERM');
    expect(await new Promise((r) => c.child.on('exit', r))).toBe(0);
    expect(existsSync(socket)).toBe(false);
  }, 60_000);

  it('status without a collector exits 1 and says where it looked', () => {
    const dataDir = newDataDir();
    const r = command(['status', '--data-dir', dataDir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      `ERR_CLI_COLLECTOR_UNREACHABLE: no collector answers at ${join(dataDir, 'ipc', 'collector.sock')}`,
    );
  });

  it('tail prints a process started here, with its pid, and keeps going across a collector restart', async () => {
    const dataDir = newDataDir();
    const socket = join(dataDir, 'ipc', 'collector.sock');
    let c = startCollector(dataDir);
    expect(await until(() => existsSync(socket), 15_000)).toBe(true);
    const tail = spawn(
      process.execPath,
      [BIN, 'tail', '--no-system-config', '--data-dir', dataDir, '--json', '--kind', 'process', '--name', 'sleep'],
      {
        env: ENV,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(tail);
    const lines: { seq: number; event: { kind: string; pid: number; subtype: string; commandLine: string[] } }[] = [];
    let err = '';
    let buf = '';
    tail.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        lines.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
    });
    tail.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    expect(await until(() => err.includes('tail: following'), 10_000)).toBe(true);
    const sleeps = (arg: string) => lines.filter((l) => l.event.commandLine.join(' ') === `sleep ${arg}`);

    const first = spawn('sleep', ['0.4321'], { stdio: 'ignore' });
    await new Promise((r) => first.on('exit', r));
    expect(await until(() => sleeps('0.4321').some((l) => l.event.subtype === 'exit'), 10_000)).toBe(true);
    expect(sleeps('0.4321').every((l) => l.event.pid === first.pid && l.event.kind === 'process')).toBe(true);
    expect(lines.every((l) => l.event.kind === 'process')).toBe(true);

    // Restart the collector on the same data directory; tail reconnects by itself.
    c.child.kill('SIGTERM');
    expect(await new Promise((r) => c.child.on('exit', r))).toBe(0);
    expect(await until(() => err.includes('shutting down'), 5000)).toBe(true);
    c = startCollector(dataDir);
    expect(await until(() => err.includes('tail: reconnected'), 20_000)).toBe(true);
    const second = spawn('sleep', ['0.4322'], { stdio: 'ignore' });
    await new Promise((r) => second.on('exit', r));
    expect(await until(() => sleeps('0.4322').some((l) => l.event.subtype === 'exit'), 10_000)).toBe(true);
    expect(sleeps('0.4322').every((l) => l.event.pid === second.pid)).toBe(true);
    // Sequence numbers only grow across the restart.
    const seqs = lines.map((l) => l.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    tail.kill('SIGINT');
    expect(await new Promise((r) => tail.on('exit', r))).toBe(0);
    c.child.kill('SIGTERM');
    await new Promise((r) => c.child.on('exit', r));
  }, 90_000);
});
