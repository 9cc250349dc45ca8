import { spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { batchOf, CollectionEvent, type NetworkEvent, SourceCaps } from '@daemoneye/core';
import { MockEventSource } from '@daemoneye/core/testing';
import { Envelope, MonitoringDomain, TaskType } from '@daemoneye/proto';
import { crc32c } from '@node-rs/crc32';
import { afterEach, describe, expect, it } from 'vitest';
import { idleCollector, processEvents, RawPeer, tempDir } from './__test__/helpers.ts';
import { encodeFrame } from './framing.ts';
import { CollectorIpcServer, type IpcServerOptions } from './server.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function startServer(options: IpcServerOptions = {}): Promise<{ server: CollectorIpcServer; path: string }> {
  const tmp = tempDir();
  const path = options.socketPath ?? join(tmp.dir, 'ipc', 'collector.sock');
  const server = new CollectorIpcServer({
    collector: idleCollector(),
    host: { hostname: 'test-host', machineId: '0123456789abcdef0123456789abcdef' },
    componentName: 'test-collector',
    ...options,
    socketPath: path,
  });
  await server.start();
  cleanups.push(() => tmp.remove());
  cleanups.push(() => server.close());
  return { server, path };
}

async function peer(path: string): Promise<RawPeer> {
  const p = await RawPeer.open(path);
  cleanups.push(() => p.destroy());
  return p;
}

function seqsOf(p: RawPeer, requestId: number): number[] {
  return p.received
    .filter((e) => e.requestId === requestId && e.body?.$case === 'eventBatch')
    .flatMap((e) => (e.body?.$case === 'eventBatch' ? e.body.value.records.map((r) => r.seq) : []));
}

describe('CollectorIpcServer requests', () => {
  it("answers capability negotiation with the running sources' capabilities and refuses a missing domain", async () => {
    const { path } = await startServer();
    const p = await peer(path);
    p.send(1, { $case: 'capabilityRequest', value: { clientId: 'a', requestedDomains: [MonitoringDomain.PROCESS] } });
    p.send(2, {
      $case: 'capabilityRequest',
      value: { clientId: 'a', requestedDomains: [MonitoringDomain.NETWORK], clientVersion: '9' },
    });
    const ok = await p.reply(1);
    expect(ok).toEqual({
      $case: 'capabilityResponse',
      value: {
        negotiationSuccess: true,
        capabilities: {
          supportedDomains: [MonitoringDomain.PROCESS],
          advanced: { kernelLevel: false, realtime: false, systemWide: true },
        },
        serverVersion: '0.1.0',
      },
    });
    const refused = await p.reply(2);
    expect(refused.$case === 'capabilityResponse' && refused.value.negotiationSuccess).toBe(false);
    expect(refused.$case === 'capabilityResponse' && refused.value.errorMessage).toMatch(/domain\(s\) 1/);
  });

  it('answers health with each source and statistics with the ledger and its own counters', async () => {
    const { path } = await startServer();
    const p = await peer(path);
    p.send(1, { $case: 'healthRequest', value: {} });
    p.send(2, { $case: 'statsRequest', value: {} });
    const health = await p.reply(1);
    expect(health.$case).toBe('healthResponse');
    if (health.$case !== 'healthResponse') return;
    expect(health.value.host).toEqual({ hostname: 'test-host', machineId: '0123456789abcdef0123456789abcdef' });
    expect(health.value.sources.map((s) => [s.name, s.state, s.capabilityLabels])).toEqual([
      ['process', 'registered', ['process', 'system-wide']],
    ]);
    const stats = await p.reply(2);
    expect(stats.$case).toBe('statsResponse');
    if (stats.$case !== 'statsResponse') return;
    expect(stats.value.state).toBe('idle');
    expect(stats.value.ipc?.counters.connectionsOpen).toBe(1);
    expect(stats.value.ipc?.counters.requests).toBe(2);
  });

  it('answers a task for a source that is not running with a typed unsupported error', async () => {
    const { server, path } = await startServer();
    const p = await peer(path);
    p.send(5, { $case: 'detectionTask', value: { taskId: 'fs', taskType: TaskType.TRACK_FILE_OPERATIONS } });
    expect(await p.reply(5)).toEqual({
      $case: 'error',
      value: {
        code: 'ERR_IPC_UNSUPPORTED',
        message: 'no running source of this collector watches files',
        fatal: false,
      },
    });
    expect(p.closed).toBe(false);
    expect(server.stats().errors.ERR_IPC_UNSUPPORTED).toBe(1);
  });

  it('enumerates processes from the events of the process source, filtered', async () => {
    const { server, path } = await startServer();
    await server.write(batchOf(processEvents(6), { firstSeq: 1, source: 'process' }));
    await server.write(
      batchOf(
        [
          CollectionEvent.process({
            subtype: 'exit',
            pid: 1002,
            name: 'curl',
            accessible: true,
            fileExists: true,
          }),
        ],
        { firstSeq: 7, source: 'process' },
      ),
    );
    const p = await peer(path);
    p.send(1, {
      $case: 'detectionTask',
      value: {
        taskId: 't',
        taskType: TaskType.ENUMERATE_PROCESSES,
        processFilter: { processNames: ['curl'], pids: [] },
      },
    });
    const r = await p.reply(1);
    expect(r.$case === 'detectionResult' && r.value.processes.map((x) => x.pid)).toEqual([1000, 1004]);
  });

  it('answers network connections from the network source snapshot and times out a task that hangs', async () => {
    const conn: NetworkEvent = CollectionEvent.network({
      connectionId: 'c1',
      sourceAddr: '127.0.0.1:5000',
      destAddr: '127.0.0.1:22',
      protocol: 'tcp',
      state: 'ESTABLISHED',
      bytesSent: 1,
      bytesReceived: 2,
      timestamp: 5,
    });
    let hang = false;
    const network = Object.assign(new MockEventSource({ name: 'network', capabilities: SourceCaps.NETWORK }), {
      snapshot: () => (hang ? new Promise<never>(() => {}) : Promise.resolve([conn])),
    });
    const { path } = await startServer({ collector: idleCollector([network]), requestTimeoutMs: 300 });
    const p = await peer(path);
    p.send(1, {
      $case: 'detectionTask',
      value: {
        taskId: 'n',
        taskType: TaskType.MONITOR_NETWORK_CONNECTIONS,
        networkFilter: {
          protocols: ['TCP'],
          sourceAddresses: [],
          destinationAddresses: ['127.0.0.1'],
          connectionStates: [],
        },
      },
    });
    const r = await p.reply(1);
    expect(r.$case === 'detectionResult' && r.value.networkEvents).toEqual([
      {
        connectionId: 'c1',
        sourceAddress: '127.0.0.1:5000',
        destinationAddress: '127.0.0.1:22',
        protocol: 'tcp',
        state: 'ESTABLISHED',
        bytesSent: 1,
        bytesReceived: 2,
        collectionTime: 5,
      },
    ]);
    hang = true;
    p.send(2, { $case: 'detectionTask', value: { taskId: 'h', taskType: TaskType.MONITOR_NETWORK_CONNECTIONS } });
    const t = await p.reply(2);
    expect(t).toEqual({
      $case: 'error',
      value: { code: 'ERR_IPC_TIMEOUT', message: 'request 2 took longer than 300 ms', fatal: false },
    });
    p.send(3, { $case: 'healthRequest', value: {} });
    expect((await p.reply(3)).$case).toBe('healthResponse');
  });
});

describe('CollectorIpcServer subscriptions', () => {
  it('holds the last 10,000 events by default, and a resuming subscriber is told what is no longer held', async () => {
    const { server, path } = await startServer();
    await server.write(batchOf(processEvents(12_000), { firstSeq: 1, source: 'process', runId: 'run-d' }));
    expect(server.stats()).toMatchObject({ replayHeld: 10_000, replayEvicted: 2_000 });
    const p = await peer(path);
    p.send(3, { $case: 'subscribeRequest', value: { topics: [], resumeAfterSeq: 0 } });
    expect(await p.reply(3)).toMatchObject({
      $case: 'subscribeResponse',
      value: { oldestHeldSeq: 2_001, nextSeq: 12_001, replayed: 10_000, missed: 2_000, queueCapacity: 10_000 },
    });
  });

  it('streams matching events with their records, then replays from the ring after sequence N', async () => {
    const { server, path } = await startServer({ replayCapacity: 100, subscriberQueue: 50 });
    const live = await peer(path);
    live.send(1, {
      $case: 'subscribeRequest',
      value: {
        topics: ['events.process.exec'],
        filter: {
          kinds: [],
          pids: [],
          fields: { name: { kind: { $case: 'stringValue', value: 'curl' } } },
          sourceNames: [],
        },
      },
    });
    await live.reply(1);
    await server.write(batchOf(processEvents(20), { firstSeq: 101, source: 'process', runId: 'run-a' }));
    await live.until(() => seqsOf(live, 1).length === 10);
    expect(seqsOf(live, 1)).toEqual([101, 103, 105, 107, 109, 111, 113, 115, 117, 119]);
    const batch = live.received.find((e) => e.body?.$case === 'eventBatch')?.body;
    expect(batch?.$case === 'eventBatch' && batch.value.host).toEqual({
      hostname: 'test-host',
      machineId: '0123456789abcdef0123456789abcdef',
    });
    expect(batch?.$case === 'eventBatch' && batch.value.runId).toBe('run-a');

    // 130 more: the ring (100) now holds 51..150 of this run's numbers 101..250.
    await server.write(batchOf(processEvents(130, 2000), { firstSeq: 121, source: 'process', runId: 'run-a' }));
    const again = await peer(path);
    again.send(7, { $case: 'subscribeRequest', value: { topics: [], resumeAfterSeq: 110 } });
    const info = await again.reply(7);
    expect(info).toEqual({
      $case: 'subscribeResponse',
      value: {
        runId: 'run-a',
        oldestHeldSeq: 151,
        nextSeq: 251,
        replayed: 100,
        missed: 40,
        earlierRunGap: false,
        queueCapacity: 50,
      },
    });
    await again.until(() => seqsOf(again, 7).length === 100);
    expect(seqsOf(again, 7)).toEqual(Array.from({ length: 100 }, (_, i) => 151 + i));
  });

  it('drops the oldest events of a client that does not read, tells it how many, and keeps the others current', async () => {
    const { server, path } = await startServer({ replayCapacity: 2000, subscriberQueue: 1000, maxBatchEvents: 100 });
    const slow = await peer(path);
    const fast = await peer(path);
    slow.send(1, { $case: 'subscribeRequest', value: { topics: [] } });
    fast.send(1, { $case: 'subscribeRequest', value: { topics: [] } });
    await slow.reply(1);
    await fast.reply(1);
    slow.socket.pause();
    const total = 40_000;
    for (let i = 0; i < total / 1000; i++) {
      await server.write(batchOf(processEvents(1000), { firstSeq: 1 + i * 1000, source: 'process' }));
      await new Promise((r) => setImmediate(r));
    }
    await fast.until(() => seqsOf(fast, 1).length === total, 15_000);
    expect(seqsOf(fast, 1)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    slow.socket.resume();
    const dropped = () =>
      slow.received.reduce((n, e) => n + (e.body?.$case === 'dropNotice' ? e.body.value.dropped : 0), 0);
    await slow.until(() => seqsOf(slow, 1).at(-1) === total, 15_000);
    const got = seqsOf(slow, 1);
    expect(dropped()).toBeGreaterThan(0);
    expect(got.length + dropped()).toBe(total);
    expect(new Set(got).size).toBe(got.length);
    const notice = slow.received.find((e) => e.body?.$case === 'dropNotice')?.body;
    expect(notice?.$case === 'dropNotice' && notice.value.reason).toBe('slow_consumer');
    expect(server.stats().streamDropped).toBe(dropped());
  });

  it('disconnects a slow client when the policy says so', async () => {
    const { server, path } = await startServer({
      replayCapacity: 500,
      subscriberQueue: 200,
      slowConsumer: 'disconnect',
    });
    const slow = await peer(path);
    slow.send(1, { $case: 'subscribeRequest', value: { topics: [] } });
    await slow.reply(1);
    slow.socket.pause();
    for (let i = 0; i < 100; i++) await server.write(batchOf(processEvents(1000), { firstSeq: 1 + i * 1000 }));
    slow.socket.resume();
    await slow.until((_, closed) => closed, 10_000);
    const err = slow.received.find((e) => e.body?.$case === 'error')?.body;
    expect(err?.$case === 'error' && [err.value.code, err.value.fatal]).toEqual(['ERR_IPC_SLOW_CONSUMER', true]);
  });

  it('refuses a bad topic pattern with a typed error and keeps the connection', async () => {
    const { path } = await startServer();
    const p = await peer(path);
    p.send(3, { $case: 'subscribeRequest', value: { topics: ['events.#.x'] } });
    const r = await p.reply(3);
    expect(r.$case === 'error' && [r.value.code, r.value.fatal]).toEqual(['ERR_BUS_TOPIC_INVALID', false]);
    p.send(4, { $case: 'healthRequest', value: {} });
    expect((await p.reply(4)).$case).toBe('healthResponse');
  });
});

describe('CollectorIpcServer against malformed input', () => {
  const payload = Envelope.encode({ requestId: 9, body: { $case: 'healthRequest', value: {} } }).finish();
  const header = (n: number, crc: number) => {
    const b = Buffer.alloc(8);
    b.writeUInt32LE(n, 0);
    b.writeUInt32LE(crc, 4);
    return b;
  };
  const cases: [string, string, (p: RawPeer) => void][] = [
    [
      'a bad checksum',
      'ERR_IPC_CRC_MISMATCH',
      (p) => p.write(Buffer.concat([header(payload.length, (crc32c(payload) ^ 1) >>> 0), payload])),
    ],
    ['an oversize length', 'ERR_IPC_FRAME_TOO_LARGE', (p) => p.write(header(64 * 1024 * 1024, 0))],
    ['a zero length', 'ERR_IPC_FRAME_EMPTY', (p) => p.write(header(0, 0))],
    ['a frame that stops half-way', 'ERR_IPC_TRUNCATED', (p) => p.write(encodeFrame(payload).subarray(0, 10))],
    [
      'a frame cut off by the end of the stream',
      'ERR_IPC_TRUNCATED',
      (p) => p.socket.end(encodeFrame(payload).subarray(0, 10)),
    ],
    ['bytes that are not an Envelope', 'ERR_IPC_DECODE', (p) => p.write(encodeFrame(Buffer.from([0x0a, 0xff, 0xff])))],
    [
      'an envelope with no known message',
      'ERR_IPC_UNKNOWN_MESSAGE',
      (p) => p.write(encodeFrame(Buffer.from([0x08, 0x01, 0xfa, 0x06, 0x00]))),
    ],
    [
      'a message only a server sends',
      'ERR_IPC_UNKNOWN_MESSAGE',
      (p) => p.send(1, { $case: 'shutdownNotice', value: { reason: 'x', lastSeq: 0 } }),
    ],
  ];

  it.each(cases)('%s gets a typed error frame and closes only that connection', async (_name, code, misbehave) => {
    const { server, path } = await startServer({ requestTimeoutMs: 400 });
    const good = await peer(path);
    good.send(1, { $case: 'subscribeRequest', value: { topics: [] } });
    await good.reply(1);
    const bad = await peer(path);
    misbehave(bad);
    await bad.until((_, closed) => closed);
    const frame = bad.received.find((e) => e.body?.$case === 'error');
    expect(frame?.requestId).toBe(0);
    expect(frame?.body?.$case === 'error' && [frame.body.value.code, frame.body.value.fatal]).toEqual([code, true]);
    expect(server.stats().errors[code]).toBe(1);
    // The other client is served throughout: it gets events and answers.
    await server.write(batchOf(processEvents(3), { firstSeq: 1 }));
    await good.until(() => seqsOf(good, 1).length === 3);
    good.send(2, { $case: 'healthRequest', value: {} });
    expect((await good.reply(2)).$case).toBe('healthResponse');
    expect(good.closed).toBe(false);
  });
});

describe('CollectorIpcServer connections and the socket', () => {
  it('serves 16 clients at once and refuses the 17th with an error frame', async () => {
    const { server, path } = await startServer();
    const peers = await Promise.all(Array.from({ length: 16 }, () => peer(path)));
    for (const [i, p] of peers.entries()) p.send(i + 1, { $case: 'subscribeRequest', value: { topics: [] } });
    await Promise.all(peers.map((p, i) => p.reply(i + 1)));
    for (const [i, p] of peers.entries()) p.send(100 + i, { $case: 'statsRequest', value: {} });
    const answers = await Promise.all(peers.map((p, i) => p.reply(100 + i)));
    expect(answers.every((a) => a.$case === 'statsResponse' && a.value.ipc?.counters.connectionsOpen === 16)).toBe(
      true,
    );
    const extra = await peer(path);
    await extra.until((_, closed) => closed);
    const e = extra.received[0]?.body;
    expect(e?.$case === 'error' && e.value.code).toBe('ERR_IPC_TOO_MANY_CONNECTIONS');
    await server.write(batchOf(processEvents(500), { firstSeq: 1 }));
    await Promise.all(peers.map((p, i) => p.until(() => seqsOf(p, i + 1).length === 500)));
    for (const [i, p] of peers.entries())
      expect(seqsOf(p, i + 1)).toEqual(Array.from({ length: 500 }, (_, k) => k + 1));
  });

  it('makes the directory 0700 and the socket 0600, and removes the socket on close', async () => {
    const { server, path } = await startServer();
    expect(statSync(join(path, '..')).mode & 0o777).toBe(0o700);
    expect(lstatSync(path).isSocket()).toBe(true);
    expect(lstatSync(path).mode & 0o777).toBe(0o600);
    await server.close();
    expect(() => lstatSync(path)).toThrow(/ENOENT/);
  });

  it('replaces a stale socket but never steals a live one', async () => {
    const tmp = tempDir();
    cleanups.push(() => tmp.remove());
    const dir = join(tmp.dir, 'ipc');
    mkdirSync(dir, { mode: 0o700 });
    const path = join(dir, 'collector.sock');
    // A stale socket: a listener that went away without removing its file.
    spawnSync(process.execPath, [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect(lstatSync(path).isSocket()).toBe(true);
    const { server } = await startServer({ socketPath: path });
    expect(server.stats().listening).toBe(true);
    const second = new CollectorIpcServer({ socketPath: path, collector: idleCollector() });
    await expect(second.start()).rejects.toMatchObject({ code: 'ERR_IPC_SOCKET_IN_USE' });
    const p = await peer(path);
    p.send(1, { $case: 'healthRequest', value: {} });
    expect((await p.reply(1)).$case).toBe('healthResponse');
  });

  it('refuses a socket directory that others can enter, and a path that is not a socket', async () => {
    const tmp = tempDir();
    cleanups.push(() => tmp.remove());
    const open = join(tmp.dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o755);
    await expect(new CollectorIpcServer({ socketPath: join(open, 's.sock') }).start()).rejects.toMatchObject({
      code: 'ERR_IPC_OPTIONS',
    });
    const dir = join(tmp.dir, 'own');
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, 's.sock'), 'not a socket');
    await expect(new CollectorIpcServer({ socketPath: join(dir, 's.sock') }).start()).rejects.toMatchObject({
      code: 'ERR_IPC_SOCKET_IN_USE',
    });
  });

  it('tells clients it is shutting down with the last sequence number, then closes', async () => {
    const { server, path } = await startServer();
    const p = await peer(path);
    p.send(1, { $case: 'subscribeRequest', value: { topics: [] } });
    await p.reply(1);
    await server.write(batchOf(processEvents(5), { firstSeq: 41 }));
    await server.close();
    await p.until((_, closed) => closed);
    expect(seqsOf(p, 1)).toEqual([41, 42, 43, 44, 45]);
    expect(p.received.at(-1)?.body).toEqual({
      $case: 'shutdownNotice',
      value: { reason: 'the collector is shutting down', lastSeq: 45 },
    });
  });
});
