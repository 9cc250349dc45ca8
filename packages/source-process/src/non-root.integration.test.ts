/**
 * Running without root: the source runs degraded and says at warn level which capabilities are
 * missing and for what, and a root-owned process whose executable it cannot read is reported with
 * `accessible: false` and the reason (EACCES), never as a missing file. The source runs in a child
 * process as user nobody (setpriv), against the built package.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const DIST = new URL('../dist/index.js', import.meta.url).href;
const root = process.getuid?.() === 0;
let readable = false;
try {
  accessSync(new URL('../dist/index.js', import.meta.url), constants.R_OK);
  readable = existsSync('/usr/bin/setpriv');
} catch {
  readable = false;
}
if (!root) console.log('skipping the non-root test: it needs root to switch to user nobody');

const script = `
const { createProcessSource } = await import(${JSON.stringify(DIST)});
const warns = [];
const noop = () => {};
const logger = { trace: noop, debug: noop, info: noop, error: noop, fatal: noop,
  warn: (o, m) => warns.push({ ...o, msg: m }), child: () => logger };
const events = [];
const tx = { closed: false, ready() { this.readyCalled = true; }, async send(e) { events.push(e); return true; },
  trySend(e) { events.push(e); return true; }, reportLoss() {} };
const source = createProcessSource({ logger, scanIntervalMs: 60000 });
const ctl = new AbortController();
const done = source.start(tx, ctl.signal);
const end = Date.now() + 15000;
while (!events.some((e) => e.pid === 1) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
ctl.abort(); await source.stop(); await done;
process.stdout.write(JSON.stringify({ backend: 'stopped', uid: process.getuid(), warns, init: events.find((e) => e.pid === 1) }));
`;

describe.skipIf(!root || !readable)('without root', () => {
  it('warns naming the missing capabilities and reports an unreadable root process as inaccessible with EACCES', () => {
    const r = spawnSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        '--inh-caps=-all',
        process.execPath,
        '--input-type=module',
        '-e',
        script,
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(r.stderr).toBe('');
    const got = JSON.parse(r.stdout) as {
      uid: number;
      warns: Array<{ msg: string; missing: Record<string, string>; grant: string }>;
      init: {
        accessible: boolean;
        fileExists: boolean;
        executablePath?: string;
        platformMetadata?: Record<string, unknown>;
      };
    };
    expect(got.uid).toBe(65534);
    const degraded = got.warns.find((w) => w.msg.startsWith('process source degraded: missing'));
    expect(degraded?.msg).toBe(
      'process source degraded: missing CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, CAP_AUDIT_CONTROL, CAP_AUDIT_READ, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH',
    );
    expect(Object.keys(degraded?.missing ?? {})).toEqual([
      'CAP_BPF',
      'CAP_PERFMON',
      'CAP_NET_ADMIN',
      'CAP_AUDIT_CONTROL',
      'CAP_AUDIT_READ',
      'CAP_SYS_PTRACE',
      'CAP_DAC_READ_SEARCH',
    ]);
    expect(degraded?.missing.CAP_NET_ADMIN).toContain('proc connector');
    expect(degraded?.grant).toContain('AmbientCapabilities=');
    // pid 1 is root's: its executable link cannot be read by nobody.
    expect(got.init.accessible).toBe(false);
    expect(got.init.executablePath).toBeUndefined();
    expect(got.init.platformMetadata?.exeError).toBe('EACCES');
    expect(got.init.platformMetadata?.hashError).not.toBe('ENOENT');
  });
});
