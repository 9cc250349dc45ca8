/**
 * `AdaptiveSnapshot`: the process source's default snapshot port on Linux. A host with a few hundred
 * processes is scanned in a few milliseconds, and two snapshot workers sitting idle between the
 * minutely rescans cost about 25 MB of resident memory, so small hosts are scanned on the calling
 * thread and no worker exists. When `slowScansToMove` scans in a row there take longer than
 * `inThreadLimitMs` (thousands of processes, or a short poll interval on a busy host; one slow scan
 * alone — the cold first one, a GC pause, a loaded host — does not move), later scans move to the
 * snapshot workers, which keep the event loop free; when the workers' scans become fast again (under
 * a quarter of the limit), the workers are closed and scanning returns to the calling thread. The
 * first scan goes to the workers at once when /proc already lists more than `inThreadMaxPids` pids.
 * CPU % deltas start afresh after a move, since each side keeps its own samples.
 */
import { openSnapshotScanner, type ProcScanner } from './proc-scan.ts';
import { SnapshotWorkerClient, type SnapshotWorkerClientOptions } from './snapshot-client.ts';
import type { SnapshotPort, SnapshotResult } from './snapshot-port.ts';

/** Settings of {@link AdaptiveSnapshot}. */
export interface AdaptiveSnapshotOptions extends SnapshotWorkerClientOptions {
  /** A scan on the calling thread longer than this is slow (default 25 ms); see `slowScansToMove`. */
  readonly inThreadLimitMs?: number;
  /** How many slow scans in a row on the calling thread move scanning to the workers (default 2). */
  readonly slowScansToMove?: number;
  /** With more pids than this in /proc the first scan already goes to the workers (default 1,000). */
  readonly inThreadMaxPids?: number;
  /** Creates the worker port (default: a {@link SnapshotWorkerClient} with these options); for tests. */
  readonly createWorkers?: () => SnapshotPort;
}

/** Where the next scan runs, as {@link AdaptiveSnapshot.where} reports it. */
export type SnapshotPlace = 'current' | 'worker';

/** Scans /proc on the calling thread while that is cheap, in snapshot workers otherwise. */
export class AdaptiveSnapshot implements SnapshotPort {
  readonly #o: AdaptiveSnapshotOptions;
  readonly #limitMs: number;
  readonly #slowToMove: number;
  #slowInRow = 0;
  #scanner: ProcScanner | undefined;
  #workers: SnapshotPort | undefined;
  #place: SnapshotPlace | undefined;
  #failure: string | undefined;
  #closed = false;
  #moves = 0;

  constructor(options: AdaptiveSnapshotOptions = {}) {
    this.#o = options;
    this.#limitMs = options.inThreadLimitMs ?? 25;
    this.#slowToMove = Math.max(1, options.slowScansToMove ?? 2);
  }

  /** Where the next scan runs (`undefined` before the first). */
  where(): SnapshotPlace | undefined {
    return this.#place;
  }

  /** How many times scanning moved between the calling thread and the workers. */
  moves(): number {
    return this.#moves;
  }

  failure(): string | undefined {
    return this.#place === 'worker' ? this.#workers?.failure() : this.#failure;
  }

  async scan(includeKernelThreads: boolean): Promise<SnapshotResult> {
    if (this.#closed) throw new Error('snapshot is closed');
    const scanner = this.#scanner ?? (await this.#inThreadScanner());
    if (this.#place === 'worker') return this.#scanInWorkers(includeKernelThreads);
    const started = performance.now();
    let processes: ReturnType<ProcScanner['scan']>;
    try {
      if (this.#place === undefined && scanner.listPids().length > (this.#o.inThreadMaxPids ?? 1000)) {
        this.#place = 'worker';
        return this.#scanInWorkers(includeKernelThreads);
      }
      this.#place = 'current';
      processes = scanner.scan(includeKernelThreads);
    } catch (e) {
      this.#failure = `scan failed: ${e instanceof Error ? e.message : String(e)}`;
      throw new Error(this.#failure);
    }
    const durationMs = performance.now() - started;
    this.#failure = undefined;
    this.#slowInRow = durationMs > this.#limitMs ? this.#slowInRow + 1 : 0;
    if (this.#slowInRow >= this.#slowToMove) this.#move('worker');
    return { processes, durationMs };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const workers = this.#workers;
    this.#workers = undefined;
    await workers?.close();
  }

  async #inThreadScanner(): Promise<ProcScanner> {
    const scanner = await openSnapshotScanner(this.#o);
    this.#scanner ??= scanner;
    return this.#scanner;
  }

  async #scanInWorkers(includeKernelThreads: boolean): Promise<SnapshotResult> {
    this.#workers ??= this.#o.createWorkers?.() ?? new SnapshotWorkerClient(this.#o);
    const workers = this.#workers;
    const result = await workers.scan(includeKernelThreads);
    if (result.durationMs < this.#limitMs / 4 && !this.#closed && this.#workers === workers) {
      this.#move('current');
      this.#workers = undefined;
      void workers.close();
    }
    return result;
  }

  #move(to: SnapshotPlace): void {
    this.#place = to;
    this.#slowInRow = 0;
    this.#moves++;
  }
}
