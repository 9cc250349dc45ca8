/**
 * dropPrivileges in a child process (a drop cannot be undone): a proc connector reader and a request
 * worker run, a second request worker starts while the drop runs, the process drops to nobody keeping
 * CAP_NET_ADMIN, and the kernel's view of every thread (/proc/self/task/TID/status) must be: uid and gid
 * 65534 everywhere; exactly CAP_NET_ADMIN, in the effective, permitted and bounding sets, in the main
 * thread and the three workers; nothing in every
 * other thread. The reader still delivers the exec of a program started after the drop. An unknown
 * user and a caller that is not root are refused with the reason.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { capabilityNames, parseThreadStatus } from './internal/capabilities.ts';

const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url));

const CHILD = `
import { dropPrivileges, openProcConnector, openSockDiag, processPrivileges } from ${JSON.stringify(DIST)};
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
const seen = [];
const reader = await openProcConnector({}).catch(() => undefined);
reader?.onEvents((events) => seen.push(...events));
const diag = await openSockDiag({}).catch(() => undefined);
let report, error;
// A worker that starts while the drop runs (as a source may start one lazily) must end up capable too.
let late;
try {
  const dropping = dropPrivileges({ user: process.argv[1], keep: ['CAP_NET_ADMIN'] });
  late = openSockDiag({}).catch(() => undefined);
  report = await dropping;
} catch (e) {
  error = e.code + ': ' + e.message;
}
late = await late;
const threads = readdirSync('/proc/self/task').map((tid) => readFileSync('/proc/self/task/' + tid + '/status', 'latin1'));
const child = spawnSync('/bin/true');
await new Promise((r) => setTimeout(r, 500));
const exec = seen.some((e) => e.type === 'exec' && e.pid === child.pid);
const dump = diag === undefined ? false : Array.isArray(await diag.dump({ family: 4, protocol: 'tcp' }));
process.stdout.write(JSON.stringify({ report, error, threads, exec, dump, privileges: processPrivileges() }));
await reader?.close();
await diag?.close();
await late?.close();
`;

function runChild(
  user: string,
  prefix: string[] = [],
): {
  report?: { kept: string[]; capableThreads: number; plainThreads: number; failedWorkers: string[] };
  error?: string;
  threads: string[];
  exec: boolean;
  dump: boolean;
  privileges: { uid: number; effective: string[]; bounding: string[]; noNewPrivs: boolean; capableThreads: number };
} {
  const cmd = [...prefix, process.execPath, '--input-type=module', '-e', CHILD, user];
  const r = spawnSync(cmd[0] as string, cmd.slice(1), { encoding: 'utf8', timeout: 30_000 });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout);
}

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.log('skipping the privilege drop test: it needs root');

describe('thread credentials', () => {
  it('parses a status file and names capability bits', () => {
    const c = parseThreadStatus(
      7,
      'Name:\tnode\nUid:\t0\t65534\t65534\t65534\nGid:\t1\t2\t3\t4\nGroups:\t4 5 \nCapPrm:\t0000000000001000\nCapEff:\t0000000000001000\nCapBnd:\t0000000000081004\nNoNewPrivs:\t1\n',
    );
    expect(c).toEqual({
      tid: 7,
      name: 'node',
      uids: [0, 65534, 65534, 65534],
      gids: [1, 2, 3, 4],
      groups: [4, 5],
      effective: 0x1000n,
      permitted: 0x1000n,
      bounding: 0x81004n,
      noNewPrivs: true,
    });
    expect(capabilityNames(0x81004n | (1n << 45n))).toEqual([
      'CAP_DAC_READ_SEARCH',
      'CAP_NET_ADMIN',
      'CAP_SYS_PTRACE',
      'cap_45',
    ]);
    expect(parseThreadStatus(1, 'Name:\tx\n')).toBeUndefined();
    // Root's empty Groups line is no group, not the next line.
    const root = parseThreadStatus(
      1,
      'Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t \nNStgid:\t1\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\n',
    );
    expect(root?.groups).toEqual([]);
    expect(root?.bounding).toBe(0n);
  });
});

describe.skipIf(process.platform !== 'linux' || !isRoot)('dropPrivileges', () => {
  it('leaves every thread as nobody, with CAP_NET_ADMIN only where it was asked for, and the readers working', () => {
    const out = runChild('nobody');
    expect(out.error).toBeUndefined();
    const threads = out.threads.map((t, i) => parseThreadStatus(i, t));
    for (const t of threads) {
      expect(t?.uids).toEqual([65534, 65534, 65534, 65534]);
      expect(t?.gids).toEqual([65534, 65534, 65534, 65534]);
      expect(t?.groups).toEqual([65534]);
    }
    const capable = threads.filter((t) => t?.effective !== 0n);
    // The main thread, the proc connector reader and the two sock_diag request workers (one started
    // while the drop ran).
    expect(capable.length).toBe(4);
    for (const t of capable) {
      expect(t?.effective).toBe(1n << 12n);
      expect(t?.permitted).toBe(1n << 12n);
      expect(t?.bounding).toBe(1n << 12n);
      expect(t?.noNewPrivs).toBe(true);
    }
    for (const t of threads.filter((x) => x?.effective === 0n)) expect(t?.permitted).toBe(0n);
    expect(out.report).toEqual({
      user: 'nobody',
      uid: 65534,
      gid: 65534,
      groups: [65534],
      kept: ['CAP_NET_ADMIN'],
      capableThreads: 4,
      plainThreads: threads.length - 4,
      failedWorkers: [],
    });
    expect(out.privileges).toMatchObject({
      uid: 65534,
      effective: ['CAP_NET_ADMIN'],
      bounding: ['CAP_NET_ADMIN'],
      noNewPrivs: true,
      capableThreads: 4,
    });
    expect(out.exec).toBe(true);
    expect(out.dump).toBe(true);
  });

  it('refuses an unknown user, and a caller that is not root, with the reason and nothing changed', () => {
    const unknown = runChild('no-such-user-de');
    expect(unknown.error).toBe('ERR_NATIVE_INVALID_ARGUMENT: user "no-such-user-de" is not in the password database');
    expect(unknown.privileges.uid).toBe(0);
    const notRoot = runChild('nobody', ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
    expect(notRoot.error).toBe(
      'ERR_NATIVE_UNAVAILABLE: dropping privileges needs root (running as uid 65534): start the collector as root',
    );
  });
});
