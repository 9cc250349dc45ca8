/**
 * Detection tasks (DaemonEye's DetectionTask → DetectionResult), answered from the running sources:
 * processes from a process source's on-demand `snapshot()` when it has one, else from the live
 * process table the server keeps from its events; connections from a network source's `snapshot()`;
 * performance metrics from the latest samples of a performance source; file operations from the recent
 * events of a filesystem source; a hash check by hashing the file. A task whose source is not running
 * fails with `ERR_IPC_UNSUPPORTED`; a task missing what it needs with `ERR_IPC_TASK_INVALID`.
 */
import { createHash, getHashes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  type CollectionEvent,
  type CollectorView,
  type EventSource,
  type NetworkEvent,
  type ProcessEvent,
  SourceCaps,
} from '@daemoneye/core';
import {
  type DetectionResult,
  type DetectionTask,
  type FilesystemFilter,
  type HashResult,
  type NetworkFilter,
  type PerformanceFilter,
  type ProcessFilter,
  TaskType,
} from '@daemoneye/proto';
import { ipcErrors } from '../errors.ts';
import { filesystemRecordOf, networkRecordOf, performanceRecordOf, processRecordOf } from '../mapping.ts';
import type { LatestState } from './latest-state.ts';

/** A source that can report its current view on demand (the network source does). */
interface SnapshotSource extends EventSource {
  snapshot(): Promise<readonly CollectionEvent[]>;
}

function hasSnapshot(s: EventSource): s is SnapshotSource {
  return typeof (s as Partial<SnapshotSource>).snapshot === 'function';
}

function sourcesWith(view: CollectorView | undefined, bit: number): EventSource[] {
  return (view?.sources() ?? []).filter((s) => (s.capabilities() & bit) !== 0);
}

function unsupported(what: string): Error {
  return ipcErrors.error('ERR_IPC_UNSUPPORTED', `no running source of this collector ${what}`);
}

/** A glob (`*`, `?`) as an anchored regular expression. */
function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

function processMatches(filter: ProcessFilter | undefined): (e: ProcessEvent) => boolean {
  if (filter === undefined) return () => true;
  const names = new Set(filter.processNames);
  const pids = new Set(filter.pids);
  const pattern =
    filter.executablePattern !== undefined && filter.executablePattern !== ''
      ? globToRegExp(filter.executablePattern)
      : undefined;
  return (e) =>
    (names.size === 0 || names.has(e.name)) &&
    (pids.size === 0 || pids.has(e.pid)) &&
    (pattern === undefined || (e.executablePath !== undefined && pattern.test(e.executablePath)));
}

function hostOf(address: string): string {
  const m = /^\[(.*)\]:\d+$/.exec(address) ?? /^(.*):\d+$/.exec(address);
  return m?.[1] ?? address;
}

function addressMatches(list: readonly string[], address: string): boolean {
  return list.length === 0 || list.some((a) => a === address || a === hostOf(address));
}

function networkMatches(filter: NetworkFilter | undefined): (e: NetworkEvent) => boolean {
  if (filter === undefined) return () => true;
  const protocols = filter.protocols.map((p) => p.toLowerCase());
  const states = filter.connectionStates.map((s) => s.toUpperCase());
  return (e) =>
    (protocols.length === 0 || protocols.includes(e.protocol.toLowerCase())) &&
    (states.length === 0 || states.includes(e.state.toUpperCase())) &&
    addressMatches(filter.sourceAddresses, e.sourceAddr) &&
    addressMatches(filter.destinationAddresses, e.destAddr);
}

function fileMatches(filter: FilesystemFilter | undefined): (path: string, operation: string) => boolean {
  if (filter === undefined) return () => true;
  const patterns = filter.pathPatterns.map(globToRegExp);
  const ops = new Set(filter.operationTypes.map((o) => o.toLowerCase()));
  const exts = filter.fileExtensions.map((x) => (x.startsWith('.') ? x : `.${x}`).toLowerCase());
  return (path, operation) =>
    (patterns.length === 0 || patterns.some((p) => p.test(path))) &&
    (ops.size === 0 || ops.has(operation)) &&
    (exts.length === 0 || exts.some((x) => path.toLowerCase().endsWith(x)));
}

function perfMatches(
  filter: PerformanceFilter | undefined,
): (name: string, component: string, value: number) => boolean {
  if (filter === undefined) return () => true;
  const names = new Set(filter.metricNames);
  const components = new Set(filter.components);
  return (name, component, value) => {
    if (names.size > 0 && !names.has(name)) return false;
    if (components.size > 0 && !components.has(component)) return false;
    const min = filter.minThresholds[name];
    const max = filter.maxThresholds[name];
    // DaemonEye's thresholds select what is out of bounds: below a minimum or above a maximum.
    if (min !== undefined || max !== undefined)
      return (min !== undefined && value < min) || (max !== undefined && value > max);
    return true;
  };
}

/** The algorithm name Node's crypto knows for a hash algorithm as a task names it (`SHA-256`, `sha256`). */
export function hashAlgorithmOf(name: string): string | undefined {
  const n = (name === '' ? 'sha256' : name).toLowerCase().replace(/-/g, '');
  return getHashes().includes(n) ? n : undefined;
}

async function hashFile(path: string, algorithm: string, signal: AbortSignal): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path, { signal })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Answers detection tasks for one collector. */
export class TaskResponder {
  readonly #view: () => CollectorView | undefined;
  readonly #latest: LatestState;

  constructor(view: () => CollectorView | undefined, latest: LatestState) {
    this.#view = view;
    this.#latest = latest;
  }

  /**
   * Runs a task. Rejects with `ERR_IPC_UNSUPPORTED` (no running source for it, or a task type this
   * collector does not carry out), `ERR_IPC_TASK_INVALID` (a hash check without a path or with an
   * unknown algorithm), or what a source's snapshot rejects with.
   */
  async run(task: DetectionTask, signal: AbortSignal): Promise<DetectionResult> {
    const result: DetectionResult = {
      taskId: task.taskId,
      success: true,
      errorMessage: undefined,
      processes: [],
      hashResult: undefined,
      networkEvents: [],
      filesystemEvents: [],
      performanceEvents: [],
    };
    switch (task.taskType) {
      case TaskType.ENUMERATE_PROCESSES: {
        const match = processMatches(task.processFilter);
        result.processes = (await this.#processes()).filter(match).map(processRecordOf);
        return result;
      }
      case TaskType.CHECK_PROCESS_HASH: {
        result.hashResult = await this.#checkHash(task, signal);
        result.success = result.hashResult.success;
        if (!result.success) result.errorMessage = result.hashResult.errorMessage;
        return result;
      }
      case TaskType.MONITOR_NETWORK_CONNECTIONS: {
        const match = networkMatches(task.networkFilter);
        result.networkEvents = (await this.#connections()).filter(match).map(networkRecordOf);
        return result;
      }
      case TaskType.TRACK_FILE_OPERATIONS: {
        if (sourcesWith(this.#view(), SourceCaps.FILESYSTEM).length === 0) throw unsupported('watches files');
        const match = fileMatches(task.filesystemFilter);
        result.filesystemEvents = this.#latest
          .fileOperations()
          .filter((f) => match(f.event.path, f.event.operation))
          .map((f) => filesystemRecordOf(f.event, String(f.seq)));
        return result;
      }
      case TaskType.COLLECT_PERFORMANCE_METRICS: {
        if (sourcesWith(this.#view(), SourceCaps.PERFORMANCE).length === 0) throw unsupported('samples performance');
        const match = perfMatches(task.performanceFilter);
        result.performanceEvents = this.#latest
          .metrics()
          .filter((m) => match(m.metricName, m.component, m.value))
          .map(performanceRecordOf);
        return result;
      }
      default:
        throw ipcErrors.error(
          'ERR_IPC_UNSUPPORTED',
          `task type ${task.taskType} is not carried out by this collector (supported: enumerate processes, check a hash, network connections, file operations, performance metrics)`,
        );
    }
  }

  async #processes(): Promise<ProcessEvent[]> {
    const sources = sourcesWith(this.#view(), SourceCaps.PROCESS);
    if (sources.length === 0) throw unsupported('collects processes');
    const onDemand = sources.find(hasSnapshot);
    if (onDemand !== undefined) {
      return (await onDemand.snapshot()).filter((e): e is ProcessEvent => e.kind === 'process');
    }
    return this.#latest.processes();
  }

  async #connections(): Promise<NetworkEvent[]> {
    const sources = sourcesWith(this.#view(), SourceCaps.NETWORK);
    if (sources.length === 0) throw unsupported('collects network connections');
    const onDemand = sources.filter(hasSnapshot);
    if (onDemand.length === 0) throw unsupported('can list network connections on demand');
    const all = await Promise.all(onDemand.map((s) => s.snapshot()));
    return all.flat().filter((e): e is NetworkEvent => e.kind === 'network');
  }

  async #checkHash(task: DetectionTask, signal: AbortSignal): Promise<HashResult> {
    const check = task.hashCheck;
    if (check === undefined) throw ipcErrors.error('ERR_IPC_TASK_INVALID', 'a hash check task needs hash_check');
    let path = check.executablePath;
    if (path === '' && (task.processFilter?.pids.length ?? 0) > 0) {
      const pid = task.processFilter?.pids[0];
      path = (await this.#processes()).find((p) => p.pid === pid)?.executablePath ?? '';
    }
    if (path === '') {
      throw ipcErrors.error(
        'ERR_IPC_TASK_INVALID',
        'a hash check needs executable_path (or a pid whose executable is known)',
      );
    }
    const algorithm = hashAlgorithmOf(check.hashAlgorithm);
    if (algorithm === undefined) {
      throw ipcErrors.error('ERR_IPC_TASK_INVALID', `unknown hash algorithm "${check.hashAlgorithm}"`);
    }
    try {
      const value = await hashFile(path, algorithm, signal);
      const expected = check.expectedHash.toLowerCase();
      const ok = expected === '' || expected === value;
      return {
        hashValue: value,
        algorithm,
        filePath: path,
        success: ok,
        errorMessage: ok ? undefined : `hash mismatch: expected ${expected}, found ${value}`,
      };
    } catch (e) {
      return {
        hashValue: '',
        algorithm,
        filePath: path,
        success: false,
        errorMessage: `cannot read ${path}: ${(e as Error).message}`,
      };
    }
  }
}
