import { describe, expect, it } from 'vitest';
import { ProcessTable } from './process-table.ts';

function table(): { t: ProcessTable; advance: (ms: number) => void } {
  let now = 1_000;
  const t = new ProcessTable({ now: () => now, exitedRetentionMs: 30_000 });
  t.set({ pid: 1, name: 'systemd', executablePath: '/usr/lib/systemd/systemd' });
  t.set({ pid: 100, ppid: 1, name: 'sshd', executablePath: '/usr/sbin/sshd' });
  t.set({ pid: 200, ppid: 100, name: 'bash', executablePath: '/usr/bin/bash' });
  return { t, advance: (ms) => (now += ms) };
}

describe('ProcessTable ancestry JSON', () => {
  it('is the JSON of the ancestry walk, nearest first, bounded by depth', () => {
    const { t } = table();
    expect(JSON.parse(t.ancestryJson(200, 8)?.json ?? '')).toEqual([
      { pid: 200, name: 'bash', executablePath: '/usr/bin/bash' },
      { pid: 100, name: 'sshd', executablePath: '/usr/sbin/sshd' },
      { pid: 1, name: 'systemd', executablePath: '/usr/lib/systemd/systemd' },
    ]);
    expect(t.ancestryJson(200, 2)?.json).toBe(JSON.stringify(t.ancestry(200, 2)));
    expect(t.ancestryJson(200, 8)?.parent.name).toBe('bash');
    expect(t.ancestryJson(999, 8)).toBeUndefined();
  });

  it('follows a change anywhere in the chain, not the JSON built before it', () => {
    const { t } = table();
    const before = t.ancestryJson(200, 8)?.json;
    expect(t.ancestryJson(200, 8)?.json).toBe(before);
    t.update(100, { name: 'sshd-session', executablePath: '/usr/lib/openssh/sshd-session' });
    const after = JSON.parse(t.ancestryJson(200, 8)?.json ?? '') as Array<{ name: string }>;
    expect(after.map((a) => a.name)).toEqual(['bash', 'sshd-session', 'systemd']);
    // The grandparent re-parented (a new entry for pid 100): the chain ends where the table says.
    t.set({ pid: 100, ppid: 0, name: 'sshd-session' });
    expect(JSON.parse(t.ancestryJson(200, 8)?.json ?? '')).toEqual([
      { pid: 200, name: 'bash', executablePath: '/usr/bin/bash' },
      { pid: 100, name: 'sshd-session' },
    ]);
  });

  it('keeps an exited parent while it is retained, then drops it from the chain', () => {
    const { t, advance } = table();
    t.exit(100);
    expect((JSON.parse(t.ancestryJson(200, 8)?.json ?? '') as unknown[]).length).toBe(3);
    advance(30_001);
    expect(JSON.parse(t.ancestryJson(200, 8)?.json ?? '')).toEqual([
      { pid: 200, name: 'bash', executablePath: '/usr/bin/bash' },
    ]);
  });

  it('stops at a loop of parents', () => {
    const { t } = table();
    t.set({ pid: 1, ppid: 200, name: 'systemd' });
    expect((JSON.parse(t.ancestryJson(200, 8)?.json ?? '') as Array<{ pid: number }>).map((a) => a.pid)).toEqual([
      200, 100, 1,
    ]);
  });
});
