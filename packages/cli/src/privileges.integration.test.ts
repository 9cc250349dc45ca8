/**
 * `daemoneye-collector run --user nobody` as root: after start-up every thread of the collector runs
 * as uid/gid 65534; the main thread and the worker threads hold exactly the capabilities the running
 * sources need (no more, bounding set included) and every other thread none, as the kernel shows them
 * in /proc/PID/task/TID/status; each source still reports what happens after the drop (an exec of a
 * root-only executable with the hash sha256sum gives, a loopback connection owned by this test's pid,
 * a file created in a root-only directory, performance samples); the store still takes events;
 * `status` prints the privileges; SIGINT ends it cleanly. A user that does not exist, or a collector
 * not started as root, is refused before anything starts.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, startRun } from './__test__/built-command.ts';
import { logLines, until } from './__test__/endpoint.ts';

interface Line {
  kind: string;
  subtype?: string;
  operation?: string;
  pid?: number;
  path?: string;
  executablePath?: string;
  executableHash?: string;
  sourceAddr?: string;
  destAddr?: string;
  timestamp: number;
}

interface ThreadStatus {
  uids: number[];
  gids: number[];
  groups: number[];
  capEff: bigint;
  capBnd: bigint;
  noNewPrivs: boolean;
}

function threads(pid: number): ThreadStatus[] {
  const out: ThreadStatus[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let s: string;
    try {
      s = readFileSync(`/proc/${pid}/task/${tid}/status`, 'latin1');
    } catch {
      continue;
    }
    const line = (k: string): string => new RegExp(`^${k}:[ \\t]*(.*)$`, 'm').exec(s)?.[1]?.trim() ?? '';
    out.push({
      uids: line('Uid').split(/\s+/).map(Number),
      gids: line('Gid').split(/\s+/).map(Number),
      groups: line('Groups').split(/\s+/).filter(Boolean).map(Number),
      capEff: BigInt(`0x${line('CapEff')}`),
      capBnd: BigInt(`0x${line('CapBnd')}`),
      noNewPrivs: line('NoNewPrivs') === '1',
    });
  }
  return out;
}

const CAP = {
  CAP_NET_ADMIN: 12,
  CAP_DAC_READ_SEARCH: 2,
  CAP_SYS_PTRACE: 19,
  CAP_AUDIT_CONTROL: 30,
  CAP_AUDIT_READ: 37,
};
const mask = (names: (keyof typeof CAP)[]): bigint => names.reduce((m, n) => m | (1n << BigInt(CAP[n])), 0n);

/** setpriv's arguments that run a command as nobody (uid and gid 65534, no other groups). */
const AS_NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];

let running: ChildProcess | undefined;
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  if (running !== undefined && running.exitCode === null) running.kill('SIGKILL');
  running = undefined;
});

const exited = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.on('exit', (code) => r(code)));

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.log('skipping the privilege drop test: it needs root');

describe.skipIf(process.platform !== 'linux' || !isRoot)('daemoneye-collector run --user', () => {
  it('drops every thread to nobody, keeps only what the sources need, and every source still reports', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'de-priv-data-'));
    // A directory only root can enter (mkdtemp makes it 0700), under the default watched /tmp.
    const secret = mkdtempSync(join(tmpdir(), 'de-priv-secret-'));
    const c = startRun<Line>(['--user', 'nobody', '--output', 'jsonl', '--set', 'batch_timeout=20ms'], { dataDir });
    running = c.child;
    const pid = c.child.pid as number;
    expect(await until(() => logLines(c.stderr()).some((l) => typeof l.privileges === 'object'), 30_000)).toBe(true);
    const dropLine = logLines(c.stderr()).find((l) => typeof l.privileges === 'object') as {
      msg: string;
      privileges: { kept: string[]; failedWorkers: string[]; capableThreads: number };
    };
    const droppedAt = Date.now();

    // What the process source runs on decides what it keeps.
    const statusJson = JSON.parse(
      execFileSync(process.execPath, [BIN, 'status', '--no-system-config', '--json', '--data-dir', dataDir], {
        encoding: 'utf8',
        env: { ...process.env, XDG_CONFIG_HOME: '/nonexistent' },
      }),
    ) as { health: { sources: { name: string; backend?: string }[] } };
    const backend = statusJson.health.sources.find((s) => s.name === 'process')?.backend;
    const expected: (keyof typeof CAP)[] = ['CAP_DAC_READ_SEARCH', 'CAP_SYS_PTRACE'];
    if (backend?.startsWith('proc-connector')) expected.unshift('CAP_NET_ADMIN');
    if (backend === 'proc-connector+audit') expected.push('CAP_AUDIT_CONTROL', 'CAP_AUDIT_READ');
    const kept = mask(expected);
    expect(dropLine.msg).toBe(`running as nobody (uid 65534, gid 65534) with ${[...expected].sort().join(', ')}`);
    expect(dropLine.privileges.failedWorkers).toEqual([]);

    const all = threads(pid);
    for (const t of all) {
      expect(t.uids).toEqual([65534, 65534, 65534, 65534]);
      expect(t.gids).toEqual([65534, 65534, 65534, 65534]);
      expect(t.groups).toEqual([65534]);
      expect([kept, 0n]).toContain(t.capEff);
    }
    const capable = all.filter((t) => t.capEff === kept);
    // The main thread plus the process, network, filesystem and request workers at least; a worker
    // started after the drop inherits the kept set from the thread that started it.
    expect(dropLine.privileges.capableThreads).toBeGreaterThanOrEqual(4);
    expect(capable.length).toBeGreaterThanOrEqual(dropLine.privileges.capableThreads);
    for (const t of capable) {
      expect(t.capBnd).toBe(kept);
      expect(t.noNewPrivs).toBe(true);
    }
    expect(all.filter((t) => t.capEff === 0n).length).toBe(all.length - capable.length);

    // Process: an executable only root may read, run after the drop; hashed through /proc/PID/exe.
    const exe = join(secret, 'de-priv-sleep');
    copyFileSync('/bin/sleep', exe);
    chmodSync(exe, 0o700);
    const child = spawnSync(exe, ['0.2']);
    expect(child.status).toBe(0);
    const sha = execFileSync('sha256sum', [exe], { encoding: 'utf8' }).split(' ')[0];
    // Network: a loopback connection owned by this test (a root process the collector cannot ptrace without its capability).
    const server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const client = connect(port, '127.0.0.1');
    sockets.push(client);
    await new Promise<void>((r) => client.on('connect', r));
    // Filesystem: a file created where only root may look.
    writeFileSync(join(secret, 'note.txt'), 'after the drop\n');

    const lines = c.lines;
    const seen = (): Record<string, boolean> => ({
      exec: lines.some((l) => l.kind === 'process' && l.subtype === 'exec' && l.pid === child.pid),
      connection: lines.some(
        (l) => l.kind === 'network' && l.pid === process.pid && l.destAddr === `127.0.0.1:${port}`,
      ),
      file: lines.some(
        (l) => l.kind === 'filesystem' && l.operation === 'create' && l.path === join(secret, 'note.txt'),
      ),
      performance: lines.some((l) => l.kind === 'performance' && l.timestamp > droppedAt),
    });
    await until(() => Object.values(seen()).every(Boolean), 30_000);
    const ours = lines.filter(
      (l) => l.kind === 'network' && (l.destAddr === `127.0.0.1:${port}` || l.sourceAddr === `127.0.0.1:${port}`),
    );
    expect(seen(), JSON.stringify(ours)).toEqual({ exec: true, connection: true, file: true, performance: true });
    const exec = lines.find((l) => l.kind === 'process' && l.subtype === 'exec' && l.pid === child.pid);
    expect(exec?.executablePath).toBe(exe);
    expect(exec?.executableHash).toBe(sha);
    server.close();

    const status = execFileSync(process.execPath, [BIN, 'status', '--no-system-config', '--data-dir', dataDir], {
      encoding: 'utf8',
      env: { ...process.env, XDG_CONFIG_HOME: '/nonexistent' },
    });
    const now = threads(pid);
    const capableNow = now.filter((t) => t.capEff === kept).length;
    expect(status).toContain(
      `privileges: uid 65534 (nobody), gid 65534; effective ${[...expected].sort((a, b) => CAP[a] - CAP[b]).join(', ')} in `,
    );
    expect(status).toMatch(/ in \d+ of \d+ threads; no_new_privs; missing: none\n/);
    const m = / in (\d+) of (\d+) threads/.exec(status);
    expect(Number(m?.[1])).toBe(capableNow);

    // The collector's own user may ask it too (root and the collector's uid, as it is now).
    const asNobody = spawnSync(
      'setpriv',
      [...AS_NOBODY, process.execPath, BIN, 'status', '--no-system-config', '--data-dir', dataDir],
      { encoding: 'utf8', env: { ...process.env, XDG_CONFIG_HOME: '/nonexistent' } },
    );
    expect([asNobody.status, asNobody.stderr]).toEqual([0, '']);
    expect(asNobody.stdout).toContain('privileges: uid 65534 (nobody), gid 65534; effective ');

    c.child.kill('SIGINT');
    expect(await exited(c.child)).toBe(0);
    // The store took the events written after the drop (queried as root).
    const rows = spawnSync(
      process.execPath,
      [
        BIN,
        'query',
        '--no-system-config',
        '--json',
        '--data-dir',
        dataDir,
        `SELECT count(*) AS n FROM process_events WHERE pid = ${child.pid} AND subtype = 'exec'`,
      ],
      { encoding: 'utf8', env: { ...process.env, XDG_CONFIG_HOME: '/nonexistent' } },
    );
    expect(rows.stderr).toBe('');
    expect(JSON.parse(rows.stdout.trim())).toEqual({ n: 1 });
  }, 90_000);

  it('refuses a user that does not exist, and --user when not started as root, before anything starts', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'de-priv-data-'));
    const unknown = spawnSync(
      process.execPath,
      [BIN, 'run', '--no-system-config', '--data-dir', dataDir, '--user', 'no-such-user-de'],
      {
        encoding: 'utf8',
        env: { ...process.env, XDG_CONFIG_HOME: '/nonexistent' },
        timeout: 20_000,
      },
    );
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toBe(
      'daemoneye-collector: ERR_CLI_PRIVILEGES: --user no-such-user-de: user "no-such-user-de" is not in the password database\n',
    );
    const asNobody = spawn(
      'setpriv',
      [
        ...AS_NOBODY,
        process.execPath,
        BIN,
        'run',
        '--no-system-config',
        '--data-dir',
        '/nonexistent/de',
        '--user',
        'nobody',
      ],
      { env: { ...process.env, XDG_CONFIG_HOME: '/nonexistent' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    asNobody.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    expect(await exited(asNobody)).toBe(2);
    expect(err).toBe(
      'daemoneye-collector: ERR_CLI_PRIVILEGES: --user nobody needs the collector to start as root (it runs as uid 65534); start it as root, or leave --user out\n',
    );
  }, 40_000);
});
