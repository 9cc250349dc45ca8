/**
 * The NATS JetStream forwarder as a collector sink. Every batch is split by event kind into
 * messages on `<subject_prefix>.<host>.<kind>` (at most `maxMessageBytes` each), each message is
 * appended to the on-disk spool, and a pump publishes the spool in order to JetStream with a
 * `Nats-Msg-Id` of `<host id>:<first record sequence>`, keeping at most `maxInFlight` publishes
 * waiting for their acks. A record leaves the spool only once acknowledged.
 *
 * While the servers are unreachable (or the stream refuses) the sink is Degraded with the reason,
 * writes keep going to the spool (bounded; the oldest segment goes over the bound and its events
 * are counted as dropped), and on reconnect the spool replays in order before newer events. After a
 * crash the spool replays from its last written cursor; the message ids let JetStream drop what it
 * already has (within the stream's duplicate window). While connected a write waits when more than
 * `4 × maxInFlight` messages are waiting for an ack, so a slow server slows the collector's queue
 * instead of growing the spool.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import {
  type CollectionEvent,
  describeError,
  type EventBatch,
  type EventSink,
  type HealthReport,
  type HostIdentity,
  type Logger,
  type PluginRuntime,
  silentLogger,
} from '@daemoneye/core';
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import {
  type ConnectionOptions,
  connect,
  credsAuthenticator,
  type NatsConnection,
  headers as natsHeaders,
  nkeyAuthenticator,
} from '@nats-io/transport-node';
import { CONTENT_TYPE, encodeBatch, type ForwardedEvent } from './encoding.ts';
import { natsErrors } from './errors.ts';
import { type FsyncPolicy, Spool, type SpoolEntry, type SpooledRecord } from './spool.ts';
import { ensureStream, type StreamOptions } from './stream.ts';

/** Default directory of the spool, relative to the collector's data directory. */
export const DEFAULT_SPOOL_DIR = 'nats-spool';

/** Options of {@link createNatsSink}. */
export interface NatsSinkOptions {
  /** Server URLs (default `nats://127.0.0.1:4222`). */
  readonly servers?: readonly string[];
  /** First subject tokens; messages go to `<prefix>.<host>.<kind>` (default `daemoneye.events`). */
  readonly subjectPrefix?: string;
  /** The stream to publish into and, when `stream.create`, how to make it. */
  readonly stream?: StreamOptions;
  /** Publishes waiting for their ack at most (default 64). */
  readonly maxInFlight?: number;
  /** Largest message payload, bytes (default 512 KiB; keep it below the server's max_payload). */
  readonly maxMessageBytes?: number;
  /** How long a publish waits for its ack before it is retried, ms (default 5,000). */
  readonly ackTimeoutMs?: number;
  /** Wait between connection attempts, ms (default 2,000). */
  readonly reconnectWaitMs?: number;
  /** How long `close()` keeps publishing what the spool holds, ms (default 5,000). */
  readonly drainTimeoutMs?: number;
  readonly spool?: {
    /** Absolute, or relative to the collector's data directory (default `nats-spool`). */
    readonly dir?: string;
    readonly maxBytes?: number;
    readonly segmentBytes?: number;
    readonly fsync?: FsyncPolicy;
    readonly fsyncIntervalMs?: number;
  };
  /** TLS: `true` requires it with the system's CAs; files add a CA and a client certificate. */
  readonly tls?: boolean;
  readonly tlsCaFile?: string;
  readonly tlsCertFile?: string;
  readonly tlsKeyFile?: string;
  /** A `.creds` file (user JWT and NKey seed). */
  readonly credsFile?: string;
  /** An NKey seed file (a user NKey without JWT). */
  readonly nkeySeedFile?: string;
  readonly user?: string;
  readonly password?: string;
  readonly token?: string;
  /** The sink's name (default `nats`). */
  readonly name?: string;
}

/** Counters of the forwarder. */
export interface NatsSinkStats {
  /** Events handed to JetStream (a message published again after a failure counts again). */
  readonly published: number;
  /** Events whose message JetStream acknowledged (each once). */
  readonly acked: number;
  /** Of those, events JetStream already had (a message id it had seen: a replay after a crash). */
  readonly duplicates: number;
  /** Events written to the spool while the sink was not connected. */
  readonly spooled: number;
  /** Events published from the spool after an outage, a failed publish or a restart. */
  readonly replayed: number;
  /** Events dropped, by reason: `spool_full` (the spool's bound), `too_large` (one event above maxMessageBytes). */
  readonly dropped: Readonly<Record<string, number>>;
  /** Bytes of spool segments on disk. */
  readonly spoolBytes: number;
  /** Messages (and events) on disk not yet acknowledged. */
  readonly spoolPendingMessages: number;
  readonly spoolPendingEvents: number;
  /** Torn or corrupt spool records cut off when the spool opened. */
  readonly spoolTornRecords: number;
  readonly connected: boolean;
  /** The server the connection is on (`host:port`), while connected. */
  readonly server: string | undefined;
}

/** The forwarder sink. */
export interface NatsSink extends EventSink {
  open(signal: AbortSignal, runtime: PluginRuntime): Promise<void>;
  health(): HealthReport;
  close(): Promise<void>;
  stats(): NatsSinkStats;
  /** The spool's directory once open. */
  spoolDir(): string | undefined;
}

/** A subject token from free text: characters NATS subjects cannot hold in a token become `_`. */
export function subjectToken(s: string): string {
  const t = s.replace(/[^A-Za-z0-9_-]/g, '_');
  return t === '' ? '_' : t;
}

/** The identity in message ids: the machine id when the host has one, else the hostname. */
export function hostKey(host: HostIdentity): string {
  return host.machineId ?? host.hostname;
}

interface Inflight {
  readonly rec: SpooledRecord;
  readonly done: Promise<{ ok: true; duplicate: boolean } | { ok: false; error: unknown }>;
}

function connectionOptions(o: NatsSinkOptions, host: HostIdentity): ConnectionOptions {
  const out: Record<string, unknown> = {
    servers: [...(o.servers ?? ['nats://127.0.0.1:4222'])],
    name: `daemoneye-collector ${host.hostname}`,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: o.reconnectWaitMs ?? 2000,
    waitOnFirstConnect: false,
  };
  const tls: Record<string, string> = {};
  if (o.tlsCaFile) tls.caFile = o.tlsCaFile;
  if (o.tlsCertFile) tls.certFile = o.tlsCertFile;
  if (o.tlsKeyFile) tls.keyFile = o.tlsKeyFile;
  if (o.tls === true || Object.keys(tls).length > 0) out.tls = tls;
  const auth = [];
  if (o.credsFile) auth.push(credsAuthenticator(readSecret(o.credsFile)));
  if (o.nkeySeedFile) auth.push(nkeyAuthenticator(readSecret(o.nkeySeedFile)));
  if (auth.length > 0) out.authenticator = auth;
  if (o.user) out.user = o.user;
  if (o.password) out.pass = o.password;
  if (o.token) out.token = o.token;
  return out as ConnectionOptions;
}

function readSecret(file: string): Uint8Array {
  try {
    // A seed file may end with a newline; the authenticators want the bare seed or creds text.
    const text = readFileText(file);
    return new TextEncoder().encode(file.endsWith('.creds') ? text : text.trim());
  } catch (e) {
    throw natsErrors.error('ERR_NATS_CONFIG', `cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
}

function readFileText(file: string): string {
  return readFileSync(file, 'utf8');
}

/** Creates the forwarder; it connects in the background once opened. */
export function createNatsSink(options: NatsSinkOptions = {}): NatsSink {
  const name = options.name ?? 'nats';
  const prefix = options.subjectPrefix ?? 'daemoneye.events';
  const maxInFlight = Math.max(1, options.maxInFlight ?? 64);
  const maxMessageBytes = options.maxMessageBytes ?? 512 * 1024;
  const ackTimeoutMs = options.ackTimeoutMs ?? 5000;
  const reconnectWaitMs = options.reconnectWaitMs ?? 2000;
  const drainTimeoutMs = options.drainTimeoutMs ?? 5000;
  const streamOptions: StreamOptions = options.stream ?? {};

  let logger: Logger = silentLogger;
  let spool: Spool | undefined;
  let host: HostIdentity | undefined;
  let hostToken = '';
  let hostId = '';
  let componentName = '';
  let nc: NatsConnection | undefined;
  let js: JetStreamClient | undefined;
  let connected = false;
  let ready = false;
  let stopping = false;
  let problem: { since: number; reason: string } | undefined = { since: Date.now(), reason: 'not connected yet' };
  let published = 0;
  let acked = 0;
  let duplicates = 0;
  let spooled = 0;
  let replayed = 0;
  let tooLarge = 0;
  let replayUntil = 0;
  let highestSent = -1;
  let inflight: Inflight[] = [];
  let jsm: JetStreamManager | undefined;
  let pumpDone: Promise<void> | undefined;
  let connectDone: Promise<void> | undefined;
  const stopCtl = new AbortController();
  const stopped = new Promise<undefined>((resolve) =>
    stopCtl.signal.addEventListener('abort', () => resolve(undefined), { once: true }),
  );
  let wake: (() => void) | undefined;
  let progressWaiters: (() => void)[] = [];

  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const progressed = () => {
    const ws = progressWaiters;
    progressWaiters = [];
    for (const w of ws) w();
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      stopCtl.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          resolve();
        },
        { once: true },
      );
    });

  function setProblem(reason: string): void {
    if (problem === undefined) {
      problem = { since: Date.now(), reason };
      logger.warn({ reason }, 'NATS forwarding degraded; events go to the spool');
    } else problem.reason = reason;
  }

  function clearProblem(): void {
    if (problem !== undefined) {
      logger.info({ degradedForMs: Date.now() - problem.since, pending: spool?.pending() }, 'NATS forwarding resumed');
      problem = undefined;
    }
  }

  /** Messages of one batch: per kind in order of first appearance, each within maxMessageBytes. */
  function entriesOf(batch: EventBatch): SpoolEntry[] {
    const byKind = new Map<string, ForwardedEvent[]>();
    const records = batch.records;
    for (let i = 0; i < batch.length; i++) {
      const event = batch[i] as CollectionEvent;
      let list = byKind.get(event.kind);
      if (list === undefined) {
        list = [];
        byKind.set(event.kind, list);
      }
      list.push({ record: records.at(i), event });
    }
    const out: SpoolEntry[] = [];
    for (const [kind, list] of byKind) {
      const subject = `${prefix}.${hostToken}.${subjectToken(kind)}`;
      split(subject, list, out);
    }
    return out;
  }

  function split(subject: string, list: ForwardedEvent[], out: SpoolEntry[]): void {
    const payload = encodeBatch(host as HostIdentity, componentName, list);
    if (payload.length <= maxMessageBytes) {
      out.push({ subject, msgId: `${hostId}:${list[0]?.record.seq}`, events: list.length, payload });
      return;
    }
    if (list.length === 1) {
      if (tooLarge === 0) {
        logger.warn(
          { bytes: payload.length, maxMessageBytes, subject },
          'an event larger than max_message_bytes was dropped',
        );
      }
      tooLarge++;
      return;
    }
    const half = Math.ceil(list.length / 2);
    split(subject, list.slice(0, half), out);
    split(subject, list.slice(half), out);
  }

  async function connectLoop(): Promise<void> {
    const h = host as HostIdentity;
    while (!stopping) {
      let conn: NatsConnection;
      try {
        conn = await connect(connectionOptions(options, h));
      } catch (e) {
        if (natsErrors.is(e, 'ERR_NATS_CONFIG')) {
          setProblem(e.message);
          return;
        }
        setProblem(
          `cannot connect to ${(options.servers ?? ['nats://127.0.0.1:4222']).join(', ')}: ${(e as Error).message}`,
        );
        await sleep(reconnectWaitMs);
        continue;
      }
      if (stopping) {
        await conn.close();
        return;
      }
      nc = conn;
      connected = true;
      logger.info({ server: conn.getServer() }, 'connected to NATS');
      void watchStatus(conn);
      jsm = undefined;
      while (!stopping && !conn.isClosed()) {
        try {
          jsm ??= await jetstreamManager(conn, { timeout: ackTimeoutMs });
          const info = await ensureStream(jsm, streamOptions, prefix);
          logger.info({ stream: info.name, created: info.created, subjects: info.subjects }, 'JetStream stream ready');
          break;
        } catch (e) {
          setProblem(natsErrors.is(e) ? e.message : `JetStream is not available: ${(e as Error).message}`);
          await sleep(reconnectWaitMs);
        }
      }
      if (stopping || conn.isClosed()) continue;
      js = jetstream(conn, { timeout: ackTimeoutMs });
      ready = true;
      if (connected) {
        replayUntil = Math.max(replayUntil, spool?.endOrdinal() ?? 0);
        clearProblem();
      }
      poke();
      progressed();
      await conn.closed();
      ready = false;
      connected = false;
      if (!stopping) setProblem('the NATS connection closed');
    }
  }

  async function watchStatus(conn: NatsConnection): Promise<void> {
    for await (const s of conn.status()) {
      if (s.type === 'disconnect') {
        connected = false;
        setProblem(`disconnected from ${s.server}`);
        progressed();
      } else if (s.type === 'reconnect') {
        connected = true;
        // What waits in the spool now was held back by the outage: it is a replay.
        replayUntil = Math.max(replayUntil, spool?.endOrdinal() ?? 0);
        logger.info({ server: s.server }, 'reconnected to NATS');
        poke();
      } else if (s.type === 'error') {
        setProblem(`NATS error: ${s.error.message}`);
      }
    }
  }

  async function pump(): Promise<void> {
    const sp = spool as Spool;
    while (!stopCtl.signal.aborted) {
      if (!ready || !connected || js === undefined) {
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 200).unref();
        });
        continue;
      }
      const client = js;
      if (inflight.length < maxInFlight && sp.hasNext()) {
        let recs: SpooledRecord[];
        try {
          recs = sp.takeMany(maxInFlight - inflight.length);
        } catch (e) {
          setProblem(e instanceof Error ? e.message : String(e));
          await sleep(1000);
          continue;
        }
        for (const rec of recs) {
          const h = natsHeaders();
          h.set('Content-Type', CONTENT_TYPE);
          h.set('Daemoneye-Events', String(rec.events));
          const done = client
            .publish(rec.subject, rec.payload, { msgID: rec.msgId, timeout: ackTimeoutMs, headers: h })
            .then(
              (pa) => ({ ok: true as const, duplicate: pa.duplicate }),
              (error: unknown) => ({ ok: false as const, error }),
            );
          published += rec.events;
          if (rec.ordinal < replayUntil) replayed += rec.events;
          highestSent = Math.max(highestSent, rec.ordinal);
          inflight.push({ rec, done });
        }
        continue;
      }
      const head = inflight[0];
      if (head === undefined) {
        await new Promise<void>((r) => {
          wake = r;
          if (sp.hasNext() || stopCtl.signal.aborted) r();
        });
        continue;
      }
      const r = await Promise.race([head.done, stopped]);
      if (r === undefined) break;
      if (r.ok) {
        inflight.shift();
        sp.ack(head.rec.ordinal);
        acked += head.rec.events;
        if (r.duplicate) duplicates += head.rec.events;
        if (problem !== undefined && connected) clearProblem();
        progressed();
        continue;
      }
      // A publish failed: everything after it is published again (the server drops repeats by id).
      const waiting = inflight;
      inflight = [];
      await Promise.all(waiting.map((w) => w.done));
      replayUntil = Math.max(replayUntil, highestSent + 1);
      sp.rewind();
      setProblem(`publish to JetStream failed: ${(r.error as Error).message ?? String(r.error)}`);
      progressed();
      await sleep(Math.min(reconnectWaitMs, 1000));
      // The stream may have gone (deleted, or no server holds it): make sure of it again.
      if (connected && jsm !== undefined && !stopCtl.signal.aborted) {
        await ensureStream(jsm, streamOptions, prefix).catch((e: unknown) =>
          setProblem(natsErrors.is(e) ? e.message : `JetStream is not available: ${(e as Error).message}`),
        );
      }
    }
  }

  return {
    name: () => name,
    spoolDir: () => spool?.dir,
    async open(_signal: AbortSignal, runtime: PluginRuntime) {
      if (spool !== undefined) return;
      logger = runtime.logger;
      if (runtime.dataDir === undefined || runtime.dataDir === '') {
        throw natsErrors.error(
          'ERR_NATS_CONFIG',
          'the NATS forwarder needs the collector to have a data_dir: message ids use sequence numbers that must stay unique across restarts',
        );
      }
      const dir = options.spool?.dir ?? DEFAULT_SPOOL_DIR;
      const path = isAbsolute(dir) ? dir : join(runtime.dataDir, dir);
      host = runtime.host;
      componentName = runtime.componentName;
      hostToken = subjectToken(host.hostname);
      hostId = hostKey(host);
      spool = Spool.open({
        dir: path,
        ...(options.spool?.maxBytes !== undefined ? { maxBytes: options.spool.maxBytes } : {}),
        ...(options.spool?.segmentBytes !== undefined ? { segmentBytes: options.spool.segmentBytes } : {}),
        ...(options.spool?.fsync !== undefined ? { fsync: options.spool.fsync } : {}),
        ...(options.spool?.fsyncIntervalMs !== undefined ? { fsyncIntervalMs: options.spool.fsyncIntervalMs } : {}),
      });
      const rec = spool.recovery;
      replayUntil = spool.endOrdinal();
      if (rec.records > 0 || rec.tornRecords > 0) {
        logger.info({ spool: path, ...rec }, 'NATS spool holds messages from an earlier run; they are published first');
      }
      if (rec.tornRecords > 0) logger.warn({ spool: path, bytesCut: rec.bytesCut }, 'a torn spool tail was cut');
      // Both loops run in the background, so the collector starts whether or not a server is up.
      connectDone = connectLoop().catch((e: unknown) => setProblem(String(e)));
      pumpDone = pump().catch((e: unknown) => {
        setProblem(`the NATS pump stopped: ${String(e)}`);
        logger.error({ err: describeError(e) }, 'the NATS pump stopped');
      });
    },
    async write(batch: EventBatch, signal: AbortSignal) {
      const sp = spool;
      if (sp === undefined || stopping) throw natsErrors.error('ERR_NATS_CLOSED', 'the NATS forwarder is not open');
      const entries = entriesOf(batch);
      sp.append(entries);
      if (!connected || !ready) for (const e of entries) spooled += e.events;
      poke();
      while (connected && ready && sp.pending() > 4 * maxInFlight && !signal.aborted && !stopping) {
        await new Promise<void>((r) => {
          progressWaiters.push(r);
          signal.addEventListener('abort', () => r(), { once: true });
        });
      }
    },
    health(): HealthReport {
      if (problem === undefined) return { status: 'healthy' };
      const st = spool?.stats();
      return {
        status: 'degraded',
        reason: `${problem.reason} (since ${new Date(problem.since).toISOString()}); ${st?.pendingEvents ?? 0} events wait in the spool (${st?.bytes ?? 0} bytes)`,
      };
    },
    stats(): NatsSinkStats {
      const st = spool?.stats();
      const dropped: Record<string, number> = {};
      if ((st?.droppedEvents ?? 0) > 0) dropped.spool_full = st?.droppedEvents ?? 0;
      if (tooLarge > 0) dropped.too_large = tooLarge;
      return {
        published,
        acked,
        duplicates,
        spooled,
        replayed,
        dropped,
        spoolBytes: st?.bytes ?? 0,
        spoolPendingMessages: st?.pendingRecords ?? 0,
        spoolPendingEvents: st?.pendingEvents ?? 0,
        spoolTornRecords: st?.tornRecords ?? 0,
        connected,
        server: connected && nc !== undefined && !nc.isClosed() ? nc.getServer() : undefined,
      };
    },
    async close() {
      if (stopping) return;
      const sp = spool;
      if (sp !== undefined) {
        const deadline = Date.now() + drainTimeoutMs;
        while (sp.pending() > 0 && connected && ready && Date.now() < deadline) {
          await new Promise<void>((r) => {
            progressWaiters.push(r);
            setTimeout(r, 50);
          });
        }
      }
      stopping = true;
      stopCtl.abort();
      poke();
      await pumpDone;
      sp?.close();
      const st = sp?.stats();
      logger.info(
        { published, acked, duplicates, spooled, replayed, pendingEvents: st?.pendingEvents ?? 0 },
        'NATS forwarder closed',
      );
      await nc?.close().catch(() => undefined);
      // A connection attempt still under way is closed by the loop itself when it ends.
      await Promise.race([connectDone, new Promise((r) => setTimeout(r, 1000).unref())]);
    },
  };
}
