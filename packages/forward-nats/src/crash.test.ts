/**
 * The forwarder in a collector process that is killed with SIGKILL mid-stream and started again on
 * the same data directory: nothing the sink had accepted is lost and nothing reaches the stream twice.
 * What the sink had accepted at the kill is read from outside: the stream's contents plus the spool
 * directory as the kill left it (a copy, read with a fresh spool).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from './__test__/support.ts';
import { decodeBatch } from './encoding.ts';
import type { NatsSinkStats } from './nats-sink.ts';
import { Spool } from './spool.ts';
import { type NatsServer, readStream, startNatsServer } from './testing.ts';

const FIXTURE = fileURLToPath(new URL('../test/forwarding-collector.mjs', import.meta.url));

interface Child {
  readonly proc: ChildProcess;
  last(): { stats: NatsSinkStats; sent: number } | undefined;
  exited: Promise<number | null>;
  stderr(): string;
}

function startCollector(dataDir: string, servers: string[]): Child {
  const proc = spawn(process.execPath, [FIXTURE, dataDir, ...servers], { stdio: ['ignore', 'pipe', 'pipe'] });
  let last: { stats: NatsSinkStats; sent: number } | undefined;
  let buf = '';
  let err = '';
  proc.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      last = JSON.parse(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  proc.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, last: () => last, exited, stderr: () => err };
}

/** The sequence numbers a spool directory holds unacknowledged (read from a copy, so it stays as it was). */
function spooledSeqs(dir: string): number[] {
  const copy = mkdtempSync(join(tmpdir(), 'de-spool-copy-'));
  cpSync(dir, copy, { recursive: true });
  const s = Spool.open({ dir: copy });
  const seqs: number[] = [];
  for (const r of s.takeMany(Number.MAX_SAFE_INTEGER))
    for (const e of decodeBatch(r.payload).events) seqs.push(e.record.seq);
  s.close();
  return seqs;
}

const servers: NatsServer[] = [];
const children: Child[] = [];
afterEach(async () => {
  for (const c of children.splice(0))
    if (c.proc.exitCode === null && c.proc.signalCode === null && c.proc.pid !== undefined)
      process.kill(c.proc.pid, 'SIGKILL');
  for (const s of servers.splice(0)) await s.stop();
});

describe('a forwarding collector killed with SIGKILL', () => {
  it('loses nothing it had accepted and duplicates nothing after a restart', async () => {
    const srv = await startNatsServer();
    servers.push(srv);
    const dataDir = mkdtempSync(join(tmpdir(), 'de-nats-crash-'));
    const first = startCollector(dataDir, [srv.url]);
    children.push(first);
    await waitFor(() => (first.last()?.stats.acked ?? 0) >= 30_000, `30,000 acks (${first.stderr()})`, 60_000);
    process.kill(first.proc.pid as number, 'SIGKILL');
    await first.exited;

    const inStream = (await readStream([srv.url], 'DAEMONEYE_EVENTS')).events.map((e) => e.record.seq);
    const inSpool = spooledSeqs(join(dataDir, 'nats-spool'));
    const accepted = new Set([...inStream, ...inSpool]);
    expect(inStream.length).toBeGreaterThanOrEqual(30_000);

    const second = startCollector(dataDir, [srv.url]);
    children.push(second);
    await waitFor(
      () => (second.last()?.stats.acked ?? 0) >= 20_000,
      `20,000 acks after the restart (${second.stderr()})`,
      60_000,
    );
    const replayed = second.last()?.stats.replayed ?? 0;
    process.kill(second.proc.pid as number, 'SIGTERM');
    expect(await second.exited).toBe(0);

    const after = await readStream([srv.url], 'DAEMONEYE_EVENTS');
    const seqs = after.events.map((e) => e.record.seq);
    const unique = new Set(seqs);
    // Zero duplicated: every event (and every message id) is in the stream once.
    expect(seqs.length - unique.size).toBe(0);
    expect(new Set(after.msgIds).size).toBe(after.messages);
    // Zero lost: everything that was in the stream or the spool at the kill is in the stream now.
    const missing = [...accepted].filter((s) => !unique.has(s));
    expect(missing).toEqual([]);
    expect(unique.size).toBeGreaterThan(accepted.size);
    // The spool replayed what it held; events of the second run have higher sequence numbers.
    if (inSpool.length > 0) expect(replayed).toBeGreaterThan(0);
    const firstRunMax = Math.max(...accepted);
    const secondRun = seqs.filter((s) => !accepted.has(s));
    expect(Math.min(...secondRun)).toBeGreaterThan(firstRunMax);
  }, 180_000);
});
