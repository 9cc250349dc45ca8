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
  CollectorError,
  describeError,
  type EventSender,
  type EventSource,
  type HealthReport,
  type LinuxCapabilityName,
  type Logger,
  type NetworkEvent,
  type PidUnknownReason,
  SourceCaps,
  type SourceCapsBits,
  silentLogger,
} from '@daemoneye/core';
import { type NetworkErrorCode, networkErrors } from './errors.ts';
import {
  type ConnectionChange,
  type ConnectionRef,
  ConnectionTable,
  connectionId,
} from './internal/connection-table.ts';
import { type NetworkBackend, openInventory, type SocketInventory } from './internal/inventory.ts';
import { type OwnerResolver, OwnerWorkerClient } from './internal/owner-client.ts';
import type { OwnerMissReason, SocketOwner } from './internal/owner-index.ts';
import type { SocketBatch } from './internal/socket-batch.ts';
import {
  type NetworkSourceOptions,
  type ResolvedNetworkSourceOptions,
  resolveNetworkSourceOptions,
} from './options.ts';

/** Counters of the current run. */
export interface NetworkSourceStats {
  readonly backend: NetworkBackend | 'idle';
  readonly dumps: number;
  readonly dumpErrors: number;
  readonly lastDumpMs: number;
  readonly lastOwnerLookupMs: number;
  /** The last interval's whole cycle: dump, diff, owner lookup and events. */
  readonly lastCycleMs: number;
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
  readonly unixTable: ConnectionTable;
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
  /** Owners found, by the inode a connection was first seen with; forgotten when it closes. */
  readonly #owners = new Map<number, SocketOwner>();
  /** Inodes whose owner was looked up and not found, with the reason. */
  readonly #missed = new Map<number, OwnerMissReason>();
  #stats = {
    dumps: 0,
    dumpErrors: 0,
    lastDumpMs: 0,
    lastOwnerLookupMs: 0,
    lastCycleMs: 0,
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

  /**
   * What the running source still needs: with pid mapping, reading other users' /proc/PID/fd
   * (CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH). sock_diag dumps of inet sockets need no capability.
   */
  privileges(): LinuxCapabilityName[] {
    return this.#run !== undefined && this.#o.pidMapping !== 'off' ? ['CAP_DAC_READ_SEARCH', 'CAP_SYS_PTRACE'] : [];
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
      lastCycleMs: s.lastCycleMs,
      connections: (this.#run?.table.size ?? 0) + (this.#run?.unixTable.size ?? 0),
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
      lastCycleMs: 0,
      malformed: 0,
      sent: 0,
      dropped: 0,
      withPid: 0,
      mappable: 0,
    };
    const opened = await this.#open(signal);
    const run: Run = {
      abort,
      ...opened,
      table: new ConnectionTable(),
      unixTable: new ConnectionTable(),
      queue: Promise.resolve(),
    };
    this.#owners.clear();
    this.#missed.clear();
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

  async #dump(inventory: SocketInventory): Promise<Dump> {
    const started = performance.now();
    const o = this.#o;
    const r = await inventory.dump({
      protocols: o.protocols,
      families: o.families,
      counters: o.counters,
      unix: o.unix,
    });
    this.#stats.dumps++;
    this.#stats.lastDumpMs = performance.now() - started;
    if (r.malformed > 0) {
      this.#stats.malformed += r.malformed;
      this.#log.warn({ malformed: r.malformed }, 'socket records that could not be decoded were skipped');
    }
    return { inet: r.inet, unix: r.unix };
  }

  /** The address and port filter over rows of `batch`; undefined when nothing is filtered. */
  #filter(batch: SocketBatch): ((row: number) => boolean) | undefined {
    const { addresses, ports } = this.#o;
    if (ports.size === 0 && addresses === undefined) return undefined;
    return (i) => {
      if (ports.size > 0 && !ports.has(batch.srcPort(i)) && !ports.has(batch.dstPort(i))) return false;
      if (addresses === undefined) return true;
      const type = batch.family(i) === 6 ? 'ipv6' : 'ipv4';
      const src = batch.addressText(i, 'src');
      const dst = batch.addressText(i, 'dst');
      return (src !== undefined && addresses.check(src, type)) || (dst !== undefined && addresses.check(dst, type));
    };
  }

  /** Looks up the owners of `conns` the source does not know yet (all unknown ones with `retry`). */
  async #lookupOwners(
    owners: OwnerResolver | undefined,
    conns: readonly ConnectionRef[],
    retry: boolean,
  ): Promise<void> {
    if (owners === undefined || conns.length === 0) return;
    const known = this.#owners;
    const missed = this.#missed;
    const need: number[] = [];
    for (const c of conns) {
      const inode = c.firstInode;
      if (inode === 0 || known.has(inode) || (!retry && missed.has(inode))) continue;
      need.push(inode);
    }
    if (need.length === 0) return;
    try {
      const r = await owners.lookup(need);
      this.#stats.lastOwnerLookupMs = r.durationMs;
      this.#ownerError = undefined;
      for (const inode of need) {
        const owner = r.owners.get(inode);
        if (owner !== undefined) {
          known.set(inode, owner);
          missed.delete(inode);
          continue;
        }
        const reason = r.missing.get(inode) ?? 'not_found';
        missed.set(inode, reason);
        if (reason === 'not_permitted' && !this.#ownersDenied) {
          this.#ownersDenied = true;
          this.#log.info({}, 'some socket owners cannot be read without privileges');
        }
      }
    } catch (e) {
      this.#ownerError = describeError(e);
      this.#log.warn({ err: e }, 'socket owner lookup failed');
    }
  }

  /** Forgets the owners of connections that closed. */
  #forget(changes: readonly ConnectionChange[]): void {
    for (const ch of changes) {
      if (ch.subtype !== 'close') continue;
      this.#owners.delete(ch.connection.firstInode);
      this.#missed.delete(ch.connection.firstInode);
    }
  }

  async #cycle(run: Run, initial: boolean): Promise<NetworkEvent[]> {
    const task = run.queue.then(async () => {
      const started = performance.now();
      const dump = await this.#dump(run.inventory);
      const inet = run.table.update(dump.inet, initial, this.#filter(dump.inet));
      const unix = dump.unix === undefined ? undefined : run.unixTable.update(dump.unix, initial);
      const added = unix === undefined ? inet.added : [...inet.added, ...unix.added];
      await this.#lookupOwners(run.owners, added, false);
      const at = Date.now();
      if (initial)
        return added.map((c) => this.#toEvent(c, 'snapshot', c.batch.stateName(c.row), undefined, run.owners, at));
      const changes = unix === undefined ? inet.changes : [...inet.changes, ...unix.changes];
      const events: NetworkEvent[] = [];
      for (const ch of changes)
        if (this.#wanted(ch))
          events.push(this.#toEvent(ch.connection, ch.subtype, ch.state, ch.previousState, run.owners, at));
      this.#forget(changes);
      this.#stats.lastCycleMs = performance.now() - started;
      return events;
    });
    run.queue = task.catch(() => {});
    return task;
  }

  async #dumpAll(inventory: SocketInventory, owners: OwnerResolver | undefined): Promise<NetworkEvent[]> {
    let dump: Dump;
    try {
      dump = await this.#dump(inventory);
    } catch (e) {
      throw networkError('ERR_NETWORK_DUMP_FAILED', `socket dump failed: ${describeError(e)}`, e);
    }
    // A table of its own: the running source's diff is not disturbed. Owners already known are reused.
    const { added } = new ConnectionTable().update(dump.inet, true, this.#filter(dump.inet));
    const all = dump.unix === undefined ? added : [...added, ...new ConnectionTable().update(dump.unix, true).added];
    await this.#lookupOwners(owners, all, true);
    const at = Date.now();
    return all.map((c) => this.#toEvent(c, 'snapshot', c.batch.stateName(c.row), undefined, owners, at, false));
  }

  #wanted(ch: ConnectionChange): boolean {
    const states = this.#o.states;
    if (states.size === 0) return true;
    return (
      states.has(ch.connection.batch.stateName(ch.connection.row)) ||
      (ch.previousState !== undefined && states.has(ch.previousState))
    );
  }

  #toEvent(
    c: ConnectionRef,
    subtype: NetworkEvent['subtype'] & string,
    state: string,
    previousState: string | undefined,
    owners: OwnerResolver | undefined,
    timestamp: number,
    count = true,
  ): NetworkEvent {
    const f = c.batch.fields(c.row);
    const inode = c.firstInode;
    const owner = f.pid === undefined ? this.#owners.get(inode) : undefined;
    const pid = f.pid ?? owner?.pid;
    const processName = f.processName ?? owner?.name;
    let reason: PidUnknownReason | undefined;
    if (pid === undefined) {
      if (this.#o.pidMapping === 'off') reason = 'disabled';
      else if (owners === undefined) reason = 'unsupported';
      else reason = this.#missed.get(inode) ?? 'not_found';
    }
    if (count && (subtype === 'open' || subtype === 'snapshot') && inode !== 0) {
      this.#stats.mappable++;
      if (pid !== undefined) this.#stats.withPid++;
    }
    const e: Mutable<NetworkEvent> = {
      kind: 'network',
      subtype,
      connectionId: connectionId(c),
      sourceAddr: f.sourceAddr,
      destAddr: f.destAddr,
      protocol: f.protocol,
      state,
      inode,
      listening: f.listening,
      bytesSent: f.bytesSent,
      bytesReceived: f.bytesReceived,
      timestamp,
    };
    if (previousState !== undefined) e.previousState = previousState;
    if (f.family !== undefined) e.family = f.family;
    if (f.uid !== undefined) e.uid = f.uid;
    if (f.peerInode !== undefined) e.peerInode = f.peerInode;
    if (pid !== undefined) {
      e.pid = pid;
      if (processName !== undefined) e.processName = processName;
    }
    if (reason !== undefined) e.pidUnknownReason = reason;
    if (f.retransmits !== undefined) e.retransmits = f.retransmits;
    if (f.rttUs !== undefined) e.rttUs = f.rttUs;
    return e;
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** One dump: the inet sockets and, when asked for, the Unix ones. */
interface Dump {
  readonly inet: SocketBatch;
  readonly unix: SocketBatch | undefined;
}

function networkError(code: NetworkErrorCode, message: string, cause?: unknown): CollectorError {
  return networkErrors.error(code, message, cause === undefined ? {} : { cause });
}

/** Creates a network source; throws `ERR_CONFIG_INVALID` for bad options. */
export function createNetworkSource(options: NetworkSourceOptions = {}): NetworkEventSource {
  return new NetworkEventSource(options);
}
