/**
 * The default collector on the eBPF backend, killed with SIGKILL: the kernel must drop its BPF
 * programs and links by itself (nothing is pinned), and audit must be as it was (the eBPF backend
 * never touches it). Ground truth is bpftool's view of the kernel and auditctl, not the collector.
 */
import { execFileSync } from 'node:child_process';
import { probeEbpf } from '@daemoneye/native';
import { describe, expect, it } from 'vitest';
import { startRun } from './__test__/built-command.ts';

const ebpf = probeEbpf();
if (!ebpf.available) console.log(`skipping the eBPF crash test: ${ebpf.reason}`);
const tools = ['bpftool', 'auditctl'].every((t) => {
  try {
    execFileSync(t, ['--help'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    return (e as { status?: number }).status !== undefined; // ran, only complained about --help
  }
});
if (!tools) console.log('skipping the eBPF crash test: bpftool or auditctl is not installed (Debian: bpftool auditd)');

const PROGRAMS = ['de_exec', 'de_fork', 'de_exit'];

function kernelObjects(): { progs: number[]; links: number[] } {
  const progs = (
    JSON.parse(execFileSync('bpftool', ['prog', 'list', '-j'], { encoding: 'utf8' })) as Array<{
      id: number;
      name?: string;
    }>
  )
    .filter((p) => PROGRAMS.includes(p.name ?? ''))
    .map((p) => p.id);
  const links = (
    JSON.parse(execFileSync('bpftool', ['link', 'list', '-j'], { encoding: 'utf8' })) as Array<{
      id: number;
      prog_id: number;
    }>
  )
    .filter((l) => progs.includes(l.prog_id))
    .map((l) => l.id);
  return { progs, links };
}

function auditState(): string {
  return `${execFileSync('auditctl', ['-s'], { encoding: 'utf8' })}\n${execFileSync('auditctl', ['-l'], { encoding: 'utf8' })}`;
}

describe.skipIf(!ebpf.available || !tools)('daemoneye-collector run on the eBPF backend', () => {
  it('kill -9 of the running collector leaves no BPF program or link, and audit as it was', async () => {
    const before = kernelObjects();
    const audit = auditState();
    const c = startRun<{ kind: string; subtype?: string; platformMetadata?: { detectedBy?: string } }>([
      '--output',
      'jsonl',
      '--log-level',
      'warn',
      '--set',
      'batch_timeout=20ms',
    ]);
    try {
      let mine: { progs: number[]; links: number[] } = { progs: [], links: [] };
      const end = Date.now() + 20_000;
      while (Date.now() < end) {
        const now = kernelObjects();
        mine = {
          progs: now.progs.filter((id) => !before.progs.includes(id)),
          links: now.links.filter((id) => !before.links.includes(id)),
        };
        if (mine.progs.length === 3 && mine.links.length === 3) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(mine.progs, c.stderr()).toHaveLength(3);
      expect(mine.links).toHaveLength(3);
      // It runs: an exec reaches the output through eBPF.
      execFileSync('/bin/true', ['crash-test-marker']);
      const seen = Date.now() + 10_000;
      while (
        Date.now() < seen &&
        !c.lines.some((l) => l.subtype === 'exec' && l.platformMetadata?.detectedBy === 'ebpf')
      )
        await new Promise((r) => setTimeout(r, 50));
      expect(c.lines.some((l) => l.subtype === 'exec' && l.platformMetadata?.detectedBy === 'ebpf')).toBe(true);
      c.child.kill('SIGKILL');
      await new Promise((r) => c.child.once('exit', r));
      let left = kernelObjects();
      const gone = Date.now() + 2000;
      while (
        Date.now() < gone &&
        (mine.progs.some((id) => left.progs.includes(id)) || mine.links.some((id) => left.links.includes(id)))
      ) {
        await new Promise((r) => setTimeout(r, 20));
        left = kernelObjects();
      }
      expect(left.progs.filter((id) => mine.progs.includes(id))).toEqual([]);
      expect(left.links.filter((id) => mine.links.includes(id))).toEqual([]);
      expect(auditState()).toBe(audit);
    } finally {
      if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
    }
  }, 60_000);
});
