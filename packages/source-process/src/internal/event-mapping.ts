/**
 * Turns what the source knows about a process into a core `ProcessEvent`: a full `ProcessSnapshot`,
 * or the partial facts of a process that was already gone when its kernel event arrived. Hash outcomes
 * become `executableHash` + `hashAlgorithm` (always together) or a `hashError` reason in
 * `platformMetadata`. Pure; it reads and sends nothing.
 */
import { CollectionEvent, type ProcessEvent, type ProcessEventSubtype } from '@daemoneye/core';
import type { ProcessSnapshot } from '../process-snapshot.ts';
import type { HashOutcome } from './exe-hasher.ts';

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** What is known about a process when an event is built; only `pid` and `name` are required. */
export interface ProcessFacts {
  readonly pid: number;
  readonly name: string;
  readonly ppid?: number;
  readonly executablePath?: string;
  readonly executableDeleted?: boolean;
  readonly commandLine?: readonly string[];
  readonly startTime?: number;
  readonly cpuUsage?: number;
  readonly memoryUsage?: number;
  readonly userId?: number;
  readonly userName?: string;
  readonly accessible?: boolean;
  readonly fileExists?: boolean;
  readonly threadCount?: number;
  readonly cwd?: string;
  readonly cgroup?: string;
  readonly containerId?: string;
  readonly containerRuntime?: string;
  readonly podUid?: string;
  readonly state?: string;
  readonly kernelThread?: boolean;
  readonly fieldErrors?: Readonly<Record<string, string>>;
}

/** Extra details of one event. */
export interface EventExtras {
  readonly exitCode?: number;
  readonly hash?: HashOutcome | undefined;
  readonly timestamp?: number;
  /** How the event was produced: `snapshot`, `connector`, `audit`, `rescan`, `poll`. */
  readonly detectedBy?: string;
  readonly metadata?: Readonly<Record<string, string | number | boolean>>;
}

/** Builds the event for `facts`. A snapshot record is a complete set of facts. */
export function processEvent(
  facts: ProcessFacts | ProcessSnapshot,
  subtype: ProcessEventSubtype,
  extras: EventExtras = {},
): ProcessEvent {
  const meta: Record<string, string | number | boolean> = { ...extras.metadata };
  if (facts.state !== undefined) meta.state = facts.state;
  if (facts.executableDeleted === true) meta.executableDeleted = true;
  if (facts.kernelThread === true) meta.kernelThread = true;
  if (facts.containerRuntime !== undefined) meta.containerRuntime = facts.containerRuntime;
  if (facts.podUid !== undefined) meta.podUid = facts.podUid;
  if (extras.detectedBy !== undefined) meta.detectedBy = extras.detectedBy;
  for (const [field, code] of Object.entries(facts.fieldErrors ?? {})) meta[`${field}Error`] = code;
  const hash = extras.hash;
  if (hash !== undefined && !hash.ok) meta.hashError = hash.reason;
  // Assigned one field at a time (not spread from small objects): this runs for every event.
  const data: Writable<Parameters<typeof CollectionEvent.process>[0]> = {
    subtype,
    pid: facts.pid,
    name: facts.name,
    commandLine: facts.commandLine ?? [],
    accessible: facts.accessible ?? false,
    fileExists: facts.fileExists ?? false,
  };
  if (facts.ppid !== undefined) data.ppid = facts.ppid;
  if (facts.executablePath !== undefined) data.executablePath = facts.executablePath;
  if (facts.startTime !== undefined) data.startTime = facts.startTime;
  if (facts.cpuUsage !== undefined) data.cpuUsage = facts.cpuUsage;
  if (facts.memoryUsage !== undefined) data.memoryUsage = facts.memoryUsage;
  if (hash?.ok === true) {
    data.executableHash = hash.hash;
    data.hashAlgorithm = 'sha256';
  }
  if (facts.userId !== undefined) data.userId = String(facts.userId);
  if (facts.userName !== undefined) data.userName = facts.userName;
  if (extras.exitCode !== undefined) data.exitCode = extras.exitCode;
  if (facts.threadCount !== undefined) data.threadCount = facts.threadCount;
  if (facts.cwd !== undefined) data.cwd = facts.cwd;
  if (facts.cgroup !== undefined) data.cgroup = facts.cgroup;
  if (facts.containerId !== undefined) data.containerId = facts.containerId;
  if (extras.timestamp !== undefined) data.timestamp = extras.timestamp;
  if (Object.keys(meta).length > 0) data.platformMetadata = meta;
  return CollectionEvent.process(data);
}
