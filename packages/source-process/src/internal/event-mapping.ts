/**
 * Turns what the source knows about a process into a core `ProcessEvent`: a full `ProcessSnapshot`,
 * or the partial facts of a process that was already gone when its kernel event arrived. Hash outcomes
 * become `executableHash` + `hashAlgorithm` (always together) or a `hashError` reason in
 * `platformMetadata`. Pure; it reads and sends nothing.
 */
import { CollectionEvent, type ProcessEvent, type ProcessEventSubtype } from '@daemoneye/core';
import type { ProcessSnapshot } from '../process-snapshot.ts';
import type { HashOutcome } from './exe-hasher.ts';

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

function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
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
  return CollectionEvent.process({
    subtype,
    pid: facts.pid,
    name: facts.name,
    commandLine: facts.commandLine ?? [],
    accessible: facts.accessible ?? false,
    fileExists: facts.fileExists ?? false,
    ...opt('ppid', facts.ppid),
    ...opt('executablePath', facts.executablePath),
    ...opt('startTime', facts.startTime),
    ...opt('cpuUsage', facts.cpuUsage),
    ...opt('memoryUsage', facts.memoryUsage),
    ...(hash?.ok === true ? { executableHash: hash.hash, hashAlgorithm: 'sha256' } : {}),
    ...opt('userId', facts.userId === undefined ? undefined : String(facts.userId)),
    ...opt('userName', facts.userName),
    ...opt('exitCode', extras.exitCode),
    ...opt('threadCount', facts.threadCount),
    ...opt('cwd', facts.cwd),
    ...opt('cgroup', facts.cgroup),
    ...opt('containerId', facts.containerId),
    ...opt('timestamp', extras.timestamp),
    ...(Object.keys(meta).length === 0 ? {} : { platformMetadata: meta }),
  });
}
