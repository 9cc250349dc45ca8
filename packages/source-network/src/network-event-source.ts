/**
 * `NetworkEventSource`: the network event source. `start` dumps every TCP and UDP socket (sock_diag
 * in a worker thread, or /proc/net when netlink is refused, or systeminformation off Linux), sends a
 * `snapshot` event per connection, then dumps every `intervalMs` and sends what changed: `open`,
 * `close` and `state_change`, each with a stable connection id and, where permitted, the owning
 * process (resolved in a second worker thread from /proc/PID/fd, incrementally). `snapshot()`
 * answers an enumeration on demand. It owns its readers and worker; `stop` releases them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CollectionEvent,
  CollectorError,
  describeError,
  type EventSender,
  type EventSource,
  type HealthReport,
  type Logger,
  type NetworkEvent,
  type PidUnknownReason,
  SourceCaps,
  type SourceCapsBits,
  silentLogger,
} from '@daemoneye/core';
import { type NetworkErrorCode, networkErrors } from './errors.ts';
import { type ConnectionChange, ConnectionTable, type TrackedConnection } from './internal/connection-table.ts';
import { type NetworkBackend, openInventory, type SocketInventory } from './internal/inventory.ts';
import { type OwnerResolver, OwnerWorkerClient } from './internal/owner-client.ts';
import {
  type NetworkSourceOptions,
  type ResolvedNetworkSourceOptions,
  resolveNetworkSourceOptions,
} from './options.ts';
import { endpoint, isListening, type SocketRecord } from './socket-record.ts';

/** Counters of the current run. */
export interface NetworkSourceStats {
  readonly backend: NetworkBackend | 'idle';
  readonly dumps: number;
  readonly dumpErrors: number;
  readonly lastDumpMs: number;
  readonly lastOwnerLookupMs: number;
  readonly connections: number;
  readonly malformed: number;
  readonly eventsSent: number;
  readonly eventsDropped: number;
  /** Open events that carried a pid, and all open/snapshot events (pid coverage = ratio). */
  readonly withPid: number;
  readonly mappable: number;
}

interface Run {
  readonly abort: AbortController;
  readonly inventory: SocketInventory;
  readonly owners: OwnerResolver | undefined;
  readonly table: ConnectionTable;
  readonly fallbackReason: string | undefined;
  /** Dumps run one at a time: the loop's and `snapshot()`'s. */
  queue: Promise<unknown>;
}

const MAX_FAILED_DUMPS = 3;

/** The network event source. Construct with {@link createNetworkSource} or `new`. */
export class NetworkEventSource implements EventSource {
  readonly #o: ResolvedNetworkSourceOptions;
  readonly #log: Logger;
  #run: Run | undefined;
  #releasing: Promise<void> | undefined;
  #failedDumps = 0;
  #lastError: string | undefined;
  #ownerError: string | undefined;
  #ownersDenied = false;
  #stats = {
    dumps: 0,
    dumpErrors: 0,
    lastDumpMs: 0,
    lastOwnerLookupMs: 0,
    malformed: 0,
    sent: 0,
    dropped: 0,
    withPid: 0,
    mappable: 0,
  };

  /** Throws `ERR_CONFIG_INVALID` naming the bad option. */
  constructor(options: NetworkSourceOptions = {}) {
    this.#o = resolveNetworkSourceOptions(options);
    this.#log = (this.#o.logger ?? silentLogger).child({ source: this.#o.name });
  }

  name(): string {
    return this.#o.name;
  }

  /** NETWORK | SYSTEM_WIDE, plus KERNEL_LEVEL while sock_diag is the backend. */
  capabilities(): SourceCapsBits {
    const base = SourceCaps.NETWORK | SourceCaps.SYSTEM_WIDE;
    return this.#run?.inventory.backend === 'netlink' ? base | SourceCaps.KERNEL_LEVEL : base;
  }

  /** The backend listing sockets (`idle` when not running). */
  backend(): NetworkBackend | 'idle' {
    return this.#run?.inventory.backend ?? 'idle';
  }

  /** Counters of the current run. */
  stats(): NetworkSourceStats {
    const s = this.#stats;
    return {
      backend: this.backend(),
      dumps: s.dumps,
      dumpErrors: s.dumpErrors,
      lastDumpMs: s.lastDumpMs,
      lastOwnerLookupMs: s.lastOwnerLookupMs,
      connections: this.#run?.table.size ?? 0,
      malformed: s.malformed,
      eventsSent: s.sent,
      eventsDropped: s.dropped,
      withPid: s.withPid,
      mappable: s.mappable,
    };
  }

  /**
   * Sends a `snapshot` event per connection, then the changes of every later dump, until
   * `shutdownSignal` aborts or `stop()` is called. Rejects (after releasing everything) when no
   * backend opens or the first dump fails, or when already running. A later dump that fails is
   * logged and counted; after 3 in a row the health check reports unhealthy.
   */
  async start(tx: EventSender, shutdownSignal: AbortSignal): Promise<void> {
    if (this.#run !== undefined)
      throw new CollectorError('ERR_COLLECTOR_STATE', `source ${this.#o.name} is already running`);
    const abort = new AbortController();
    const signal = AbortSignal.any([shutdownSignal, abort.signal]);
    this.#failedDumps = 0;
    this.#lastError = undefined;
    this.#ownerError = undefined;
    this.#ownersDenied = false;
    this.#stats = {
      dumps: 0,
      dumpErrors: 0,
      lastDumpMs: 0,
      lastOwnerLookupMs: 0,
      malformed: 0,
      sent: 0,
      dropped: 0,
      withPid: 0,
      mappable: 0,
    };
    const opened = await this.#open(signal);
    const run: Run = { abort, ...opened, table: new ConnectionTable(), queue: Promise.resolve() };
    this.#run = run;
    if (run.fallbackReason !== undefined)
      this.#log.warn({ reason: run.fallbackReason }, `network backend: ${run.inventory.backend}`);
    else this.#log.info({ backend: run.inventory.backend }, 'network backend opened');
    try {
      const first = await this.#cycle(run, true);
      tx.ready();
      for (const e of first) if (!(await this.#send(tx, e)) && tx.closed) return;
      while (!signal.aborted) {
        await sleep(this.#o.intervalMs, undefined, { signal }).catch(() => {});
        if (signal.aborted) break;
        let events: NetworkEvent[];
        try {
          events = await this.#cycle(run, false);
          this.#failedDumps = 0;
        } catch (e) {
          if (signal.aborted) break;
          this.#failedDumps++;
          this.#stats.dumpErrors++;
          this.#lastError = describeError(e);
          this.#log.error({ err: e, failed: this.#failedDumps }, 'network dump failed');
          continue;
        }
        for (const e of events) if (!(await this.#send(tx, e)) && tx.closed) return;
      }
    } catch (e) {
      if (!signal.aborted) throw e;
    } finally {
      await this.#release(run);
    }
  }

  /**
   * Every connection now, as `snapshot` events with their owners: a fresh dump through the running
   * backend (queued behind the source's own dump), or, when the source is not running, through a
   * backend opened for this call. Rejects with `ERR_NETWORK_DUMP_FAILED` when the dump fails.
   */
  async snapshot(): Promise<NetworkEvent[]> {
    const run = this.#run;
    if (run !== undefined) {
      const result = run.queue.then(() => this.#dumpAll(run.inventory, run.owners));
      run.queue = result.catch(() => {});
      return result;
    }
    const abort = new AbortController();
    const opened = await this.#open(abort.signal);
    try {
      return await this.#dumpAll(opened.inventory, opened.owners);
    } finally {
      abort.abort();
      await Promise.all([opened.inventory.close(), opened.owners?.close()]);
    }
  }

  /** Releases the backend and owner worker, and makes `start` return. Idempotent. */
  async stop(): Promise<void> {
    const run = this.#run;
    if (run !== undefined) await this.#release(run);
    else await this.#releasing;
  }

  /**
   * Rejects after 3 failed dumps in a row. Resolves Degraded while a fallback backend runs (no byte
   * counters from /proc/net; systeminformation spawns `netstat`/`ss`), or while owners cannot be
   * looked up.
   */
  async healthCheck(): Promise<HealthReport | undefined> {
    if (this.#failedDumps >= MAX_FAILED_DUMPS) {
      throw networkError(
        'ERR_NETWORK_DUMP_FAILED',
        `${this.#failedDumps} socket dumps failed in a row: ${this.#lastError}`,
      );
    }
    const run = this.#run;
    if (run?.fallbackReason !== undefined) {
      return { status: 'degraded', reason: `${run.inventory.backend} backend: ${run.fallbackReason}` };
    }
    if (this.#ownerError !== undefined)
      return { status: 'degraded', reason: `socket owners unknown: ${this.#ownerError}` };
    return undefined;
  }

  async #open(
    signal: AbortSignal,
  ): Promise<{ inventory: SocketInventory; owners: OwnerResolver | undefined; fallbackReason: string | undefined }> {
    const o = this.#o;
    let opened: Awaited<ReturnType<typeof openInventory>>;
    try {
      opened = await openInventory({
        choice: o.backend,
        signal,
        openSockDiag: o.openSockDiag,
        readProcNet: o.readProcNet,
      });
    } catch (e) {
      throw networkError(
        'ERR_NETWORK_BACKEND_UNAVAILABLE',
        `network backend ${o.backend} cannot open: ${describeError(e)}`,
        e,
      );
    }
    const mapOwners = o.pidMapping === 'auto' && opened.inventory.backend !== 'systeminformation';
    const owners = mapOwners
      ? (o.owners ?? (process.platform === 'linux' ? new OwnerWorkerClient() : undefined))
      : undefined;
    return { inventory: opened.inventory, owners, fallbackReason: opened.fallbackReason };
  }

  async #release(run: Run): Promise<void> {
    if (this.#run !== run) return this.#releasing;
    run.abort.abort();
    this.#releasing = (async () => {
      await Promise.all([run.inventory.close(), run.owners?.close()]).catch((e: unknown) =>
        this.#log.warn({ err: e }, 'network source release failed'),
      );
      if (this.#run === run) this.#run = undefined;
    })();
    return this.#releasing;
  }

  async #send(tx: EventSender, e: NetworkEvent): Promise<boolean> {
    const ok = await tx.send(e);
    if (ok) this.#stats.sent++;
    else this.#stats.dropped++;
    return ok;
  }

  async #dump(inventory: SocketInventory): Promise<SocketRecord[]> {
    const started = performance.now();
    const r = await inventory.dump({ protocols: this.#o.protocols, families: this.#o.families });
    this.#stats.dumps++;
    this.#stats.lastDumpMs = performance.now() - started;
    if (r.malformed > 0) {
      this.#stats.malformed += r.malformed;
      this.#log.warn({ malformed: r.malformed }, 'socket records that could not be decoded were skipped');
    }
    return r.sockets.filter((s) => this.#keep(s));
  }

  #keep(s: SocketRecord): boolean {
    const { addresses, ports } = this.#o;
    if (ports.size > 0 && !ports.has(s.srcPort) && !ports.has(s.dstPort)) return false;
    if (addresses === undefined) return true;
    const type = s.family === 6 ? 'ipv6' : 'ipv4';
    return addresses.check(s.srcAddr, type) || addresses.check(s.dstAddr, type);
  }

  async #lookupOwners(owners: OwnerResolver | undefined, conns: TrackedConnection[]): Promise<void> {
    if (owners === undefined) return;
    const need = conns.filter((c) => c.owner === undefined && c.record.inode !== 0 && c.record.pid === undefined);
    if (need.length === 0) return;
    try {
      const r = await owners.lookup(need.map((c) => c.record.inode));
      this.#stats.lastOwnerLookupMs = r.durationMs;
      this.#ownerError = undefined;
      for (const c of need) {
        c.owner = r.owners.get(c.record.inode);
        c.missReason = c.owner === undefined ? (r.missing.get(c.record.inode) ?? 'not_found') : undefined;
        if (c.missReason === 'not_permitted' && !this.#ownersDenied) {
          this.#ownersDenied = true;
          this.#log.info({}, 'some socket owners cannot be read without privileges');
        }
      }
    } catch (e) {
      this.#ownerError = describeError(e);
      this.#log.warn({ err: e }, 'socket owner lookup failed');
    }
  }

  async #cycle(run: Run, initial: boolean): Promise<NetworkEvent[]> {
    const task = run.queue.then(async () => {
      const records = await this.#dump(run.inventory);
      const { changes, added } = run.table.update(records, initial);
      await this.#lookupOwners(run.owners, added);
      if (initial) return added.map((c) => this.#toEvent(c, 'snapshot', undefined, run.owners));
      return changes
        .filter((ch) => this.#wanted(ch))
        .map((ch) => this.#toEvent(ch.connection, ch.subtype, ch, run.owners));
    });
    run.queue = task.catch(() => {});
    return task;
  }

  async #dumpAll(inventory: SocketInventory, owners: OwnerResolver | undefined): Promise<NetworkEvent[]> {
    let records: SocketRecord[];
    try {
      records = await this.#dump(inventory);
    } catch (e) {
      throw networkError('ERR_NETWORK_DUMP_FAILED', `socket dump failed: ${describeError(e)}`, e);
    }
    const table = new ConnectionTable();
    const { added } = table.update(records, true);
    const held = this.#run?.table;
    if (held !== undefined) {
      // Reuse owners already found by the running source.
      const known = new Map<string, TrackedConnection>();
      for (const c of held.connections()) known.set(c.id, c);
      for (const c of added) {
        const k = known.get(c.id);
        if (k?.owner !== undefined) c.owner = k.owner;
      }
    }
    await this.#lookupOwners(owners, added);
    return added.map((c) => this.#toEvent(c, 'snapshot', undefined, owners, false));
  }

  #wanted(ch: ConnectionChange): boolean {
    const states = this.#o.states;
    if (states.size === 0) return true;
    return states.has(ch.connection.record.state) || (ch.previousState !== undefined && states.has(ch.previousState));
  }

  #toEvent(
    c: TrackedConnection,
    subtype: NetworkEvent['subtype'] & string,
    change: ConnectionChange | undefined,
    owners: OwnerResolver | undefined,
    count = true,
  ): NetworkEvent {
    const r = c.record;
    const pid = r.pid ?? c.owner?.pid;
    const processName = r.processName ?? c.owner?.name;
    let reason: PidUnknownReason | undefined;
    if (pid === undefined) {
      if (this.#o.pidMapping === 'off') reason = 'disabled';
      else if (owners === undefined) reason = 'unsupported';
      else reason = c.missReason ?? 'not_found';
    }
    if (count && (subtype === 'open' || subtype === 'snapshot') && r.inode !== 0) {
      this.#stats.mappable++;
      if (pid !== undefined) this.#stats.withPid++;
    }
    return CollectionEvent.network({
      subtype,
      connectionId: c.id,
      sourceAddr: endpoint(r.family, r.srcAddr, r.srcPort),
      destAddr: endpoint(r.family, r.dstAddr, r.dstPort),
      protocol: r.protocol,
      state: subtype === 'close' && r.state !== 'TIME_WAIT' && change?.previousState === r.state ? 'CLOSE' : r.state,
      ...(change?.previousState === undefined ? {} : { previousState: change.previousState }),
      family: r.family,
      ...(r.uid === undefined ? {} : { uid: r.uid }),
      inode: r.inode,
      listening: isListening(r),
      ...(pid === undefined ? {} : { pid }),
      ...(processName === undefined || pid === undefined ? {} : { processName }),
      ...(reason === undefined ? {} : { pidUnknownReason: reason }),
      bytesSent: r.bytesSent ?? 0,
      bytesReceived: r.bytesReceived ?? 0,
      ...(r.retransmits === undefined ? {} : { retransmits: r.retransmits }),
      ...(r.rttUs === undefined ? {} : { rttUs: r.rttUs }),
    });
  }
}

function networkError(code: NetworkErrorCode, message: string, cause?: unknown): CollectorError {
  return networkErrors.error(code, message, cause === undefined ? {} : { cause });
}

/** Creates a network source; throws `ERR_CONFIG_INVALID` for bad options. */
export function createNetworkSource(options: NetworkSourceOptions = {}): NetworkEventSource {
  return new NetworkEventSource(options);
}
