/**
 * IpcClient against real servers: typed answers and errors, timeouts, the circuit breaker, and a
 * subscription that survives its collector being killed (SIGKILL) and started again — it reconnects
 * by itself, resumes after the last sequence number it delivered, and receives everything the new
 * collector holds with no gap.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { batchOf, SourceCaps } from '@daemoneye/core';
import { MockEventSource } from '@daemoneye/core/testing';
import { TaskType } from '@daemoneye/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { idleCollector, processEvents, tempDir } from './__test__/helpers.ts';
import { IpcClient, type StreamItem } from './client.ts';
import { CollectorIpcServer } from './server.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

function temp(): string {
  const t = tempDir();
  cleanups.push(() => t.remove());
  return t.dir;
}

function client(socketPath: string, extra: Partial<ConstructorParameters<typeof IpcClient>[0]> = {}): IpcClient {
  const c = new IpcClient({ socketPath, reconnect: { baseMs: 50, capMs: 400 }, ...extra });
  cleanups.push(() => c.close());
  return c;
}

describe('IpcClient requests', () => {
  it('gets typed answers, the server’s typed errors, and its own timeouts', async () => {
    const path = join(temp(), 'ipc', 'c.sock');
    const slow = Object.assign(new MockEventSource({ name: 'network', capabilities: SourceCaps.NETWORK }), {
      snapshot: () => new Promise<never>(() => {}),
    });
    const server = new CollectorIpcServer({ socketPath: path, collector: idleCollector([slow]) });
    await server.start();
    cleanups.push(() => server.close());
    const c = client(path);
    const caps = await c.capabilities();
    expect(caps.negotiationSuccess).toBe(true);
    expect(caps.capabilities?.supportedDomains).toEqual([0, 1]);
    expect((await c.health()).sources.map((s) => s.name)).toEqual(['process', 'network']);
    await expect(c.detect({ taskId: 'f', taskType: TaskType.TRACK_FILE_OPERATIONS })).rejects.toMatchObject({
      code: 'ERR_IPC_UNSUPPORTED',
    });
    await expect(c.detect({ taskId: 'n', taskType: TaskType.MONITOR_NETWORK_CONNECTIONS }, 150)).rejects.toMatchObject({
      code: 'ERR_IPC_TIMEOUT',
      message: 'no answer to detectionTask within 150 ms',
    });
    // Typed errors and one timeout leave the breaker closed and the connection usable.
    expect(c.breaker.state).toBe('closed');
    expect((await c.stats()).ipc?.counters.requests).toBeGreaterThanOrEqual(5);
  });

  it('opens its circuit after 5 failed connections and then fails fast', async () => {
    const c = client(join(temp(), 'nobody.sock'));
    for (let i = 0; i < 5; i++) await expect(c.health()).rejects.toMatchObject({ code: 'ERR_IPC_CONNECTION' });
    expect(c.breaker.state).toBe('open');
    await expect(c.health()).rejects.toMatchObject({ code: 'ERR_IPC_CIRCUIT_OPEN' });
  });
});

const CHILD = fileURLToPath(new URL('./__test__/collector-child.mjs', import.meta.url));

function startChild(dataDir: string, socket: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CHILD, dataDir, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`collector child exited ${code}`)));
  });
}

describe('IpcClient subscriptions', () => {
  it('resumes after the collector is killed and restarted, with no gap inside the replay ring', async () => {
    const dataDir = temp();
    const socket = join(dataDir, 'ipc', 'collector.sock');
    let child = await startChild(dataDir, socket);
    const c = client(socket);
    const ctl = new AbortController();
    const items: StreamItem[] = [];
    const reading = (async () => {
      for await (const item of c.subscribe({ topics: ['events.performance.#'], signal: ctl.signal })) items.push(item);
    })();
    const seqs = () => items.flatMap((i) => (i.type === 'events' ? i.events.map((e) => e.seq) : []));
    const until = async (cond: () => boolean, ms: number) => {
      const end = Date.now() + ms;
      while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      expect(cond()).toBe(true);
    };
    await until(() => seqs().length >= 200, 10_000);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const before = seqs();
    const last = before.at(-1) as number;
    // Within the first run: every number, in order.
    expect(before).toEqual(Array.from({ length: before.length }, (_, i) => (before[0] as number) + i));
    await until(() => items.some((i) => i.type === 'disconnected'), 5000);

    child = await startChild(dataDir, socket); // replaces the stale socket the killed one left
    await new Promise((r) => setTimeout(r, 300)); // events accumulate in the new ring before the client is back
    await until(() => items.some((i) => i.type === 'subscribed' && i.resumed), 10_000);
    const resumed = items.find((i) => i.type === 'subscribed' && i.resumed);
    if (resumed?.type !== 'subscribed') throw new Error('not resumed');
    // A new run: its numbers start above every number the first run used.
    expect(resumed.info.earlierRunGap).toBe(true);
    expect(resumed.info.missed).toBe(0);
    expect(resumed.info.replayed).toBeGreaterThan(0);
    const first = resumed.info.oldestHeldSeq as number;
    expect(first).toBeGreaterThan(last);
    await until(() => seqs().length >= before.length + resumed.info.replayed + 100, 10_000);
    const after = seqs().slice(before.length);
    // Everything the new collector accepted, from its first event on, with no gap.
    expect(after).toEqual(Array.from({ length: after.length }, (_, i) => first + i));
    ctl.abort();
    await reading;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }, 40_000);

  it('resubscribes with a filter and delivers only what matches', async () => {
    const path = join(temp(), 'ipc', 'c.sock');
    const server = new CollectorIpcServer({ socketPath: path, collector: idleCollector() });
    await server.start();
    cleanups.push(() => server.close());
    const c = client(path);
    const ctl = new AbortController();
    const got: number[] = [];
    const stream = c.subscribe({ filter: { pids: [1003, 1005] }, signal: ctl.signal });
    const first = await stream.next();
    expect(first.value?.type).toBe('subscribed');
    await server.write(batchOf(processEvents(10), { firstSeq: 1 }));
    for await (const item of stream) {
      if (item.type === 'events') got.push(...item.events.map((e) => (e.event.kind === 'process' ? e.event.pid : -1)));
      if (got.length >= 2) break;
    }
    expect(got).toEqual([1003, 1005]);
  });
});
