/**
 * `@daemoneye/forward-nats/testing`: for tests of code that forwards or consumes events: start a real
 * `nats-server -js` (one, or a 3-node JetStream cluster) on free loopback ports with temporary store
 * directories, stop and restart a server by its pid, and read a stream back with an independent client,
 * decoding the events inside every message. Needs the `nats-server` binary on the PATH (Debian:
 * nats-server). Not loaded by the package's main entry.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { decodeBatch, type ForwardedEvent } from './encoding.ts';

/** A free TCP port on 127.0.0.1 (bound, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ port, host: '127.0.0.1' });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** One nats-server process that can be stopped and started again on the same port and store. */
export class NatsServer {
  readonly port: number;
  readonly storeDir: string;
  readonly #args: string[];
  #child: ChildProcess | undefined;
  #log = '';

  constructor(port: number, args: string[], storeDir: string) {
    this.port = port;
    this.storeDir = storeDir;
    this.#args = args;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  log(): string {
    return this.#log;
  }

  /** Starts the server and waits until it accepts connections. */
  async start(): Promise<void> {
    const child = spawn('nats-server', this.#args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    child.stdout?.on('data', (d: Buffer) => {
      this.#log += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      this.#log += d.toString();
    });
    const deadline = Date.now() + 15_000;
    while (!(await portOpen(this.port))) {
      if (child.exitCode !== null) throw new Error(`nats-server exited: ${this.#log}`);
      if (Date.now() > deadline) throw new Error(`nats-server did not listen on ${this.port}: ${this.#log}`);
      await sleep(50);
    }
  }

  /** Stops the server by its pid (SIGTERM: JetStream flushes its store) and waits for the exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    process.kill(child.pid, 'SIGTERM');
    const t = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    }, 10_000);
    await exited;
    clearTimeout(t);
    this.#child = undefined;
  }
}

/** A `nats-server -js` on `port` (default a free one) with a temporary store directory, not started. */
export async function natsServer(port?: number): Promise<NatsServer> {
  const p = port ?? (await freePort());
  const storeDir = mkdtempSync(join(tmpdir(), 'de-nats-store-'));
  return new NatsServer(p, ['-js', '-a', '127.0.0.1', '-p', String(p), '-sd', storeDir], storeDir);
}

/** Starts one JetStream server on a free loopback port whose configuration file adds `extra`. */
export async function startConfiguredServer(extra: string): Promise<NatsServer> {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'de-nats-conf-'));
  const conf = join(storeDir, 'server.conf');
  writeFileSync(conf, `listen: 127.0.0.1:${port}\njetstream { store_dir: "${storeDir}" }\n${extra}\n`);
  const s = new NatsServer(port, ['-c', conf], storeDir);
  await s.start();
  return s;
}

/** Starts one `nats-server -js` on a free loopback port with a temporary store directory. */
export async function startNatsServer(): Promise<NatsServer> {
  const s = await natsServer();
  await s.start();
  return s;
}

/** Starts a 3-node JetStream cluster on loopback ports; resolves once a meta leader is elected. */
export async function startNatsCluster(): Promise<NatsServer[]> {
  const ports = [await freePort(), await freePort(), await freePort()];
  const cports = [await freePort(), await freePort(), await freePort()];
  const servers: NatsServer[] = [];
  for (let i = 0; i < 3; i++) {
    const storeDir = mkdtempSync(join(tmpdir(), `de-nats-c${i}-`));
    const conf = join(storeDir, 'server.conf');
    const routes = cports.map((p) => `nats-route://127.0.0.1:${p}`);
    writeFileSync(
      conf,
      [
        `server_name: n${i + 1}`,
        `listen: 127.0.0.1:${ports[i]}`,
        `jetstream { store_dir: "${storeDir}" }`,
        `cluster { name: de-test, listen: 127.0.0.1:${cports[i]}, routes: [${routes.map((r) => `"${r}"`).join(', ')}] }`,
        '',
      ].join('\n'),
    );
    servers.push(new NatsServer(ports[i] as number, ['-c', conf], storeDir));
  }
  await Promise.all(servers.map((s) => s.start()));
  // JetStream is usable once the cluster elected a meta leader: account info answers then.
  const nc = await connect({ servers: servers.map((s) => s.url) });
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2000 });
        await jsm.getAccountInfo();
        break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await sleep(250);
      }
    }
  } finally {
    await nc.close();
  }
  return servers;
}

/** What a stream holds, read by an independent client: message count and every event inside. */
export interface StreamContents {
  readonly messages: number;
  readonly events: ForwardedEvent[];
  readonly subjects: string[];
  readonly msgIds: string[];
}

/** Reads every message of `stream` with an ordered consumer and decodes the events inside. */
export async function readStream(servers: readonly string[], stream: string): Promise<StreamContents> {
  const nc = await connect({ servers: [...servers] });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    const total = info.state.messages;
    const events: ForwardedEvent[] = [];
    const subjects: string[] = [];
    const msgIds: string[] = [];
    if (total > 0) {
      const js = jetstream(nc);
      const c = await js.consumers.get(stream);
      const iter = await c.consume();
      let n = 0;
      for await (const m of iter) {
        for (const e of decodeBatch(m.data).events) events.push(e);
        subjects.push(m.subject);
        msgIds.push(m.headers?.get('Nats-Msg-Id') ?? '');
        n++;
        if (n >= total) break;
      }
      await iter.close();
    }
    return { messages: total, events, subjects, msgIds };
  } finally {
    await nc.close();
  }
}
