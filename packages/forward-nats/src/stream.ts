/**
 * The JetStream stream the forwarder publishes into: `ensureStream` finds it, or creates it when
 * allowed (file storage, the configured subjects, limits, replicas and duplicate window), and checks
 * that it takes the forwarder's subjects. A stream an administrator made is used as it is, never
 * changed.
 */
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { natsErrors } from './errors.ts';

/** Default stream name. */
export const DEFAULT_STREAM = 'DAEMONEYE_EVENTS';

/** How the forwarder finds or makes its stream. */
export interface StreamOptions {
  /** Stream name (default `DAEMONEYE_EVENTS`). */
  readonly name?: string;
  /** Create it when missing (default true); false uses only a stream an administrator made. */
  readonly create?: boolean;
  /** Subjects of a created stream (default `<subject_prefix>.>`). */
  readonly subjects?: readonly string[];
  /** Limits of a created stream; 0 is unlimited. */
  readonly maxBytes?: number;
  readonly maxAgeMs?: number;
  /** Replicas of a created stream (1, or 3 in a 3-node cluster). */
  readonly replicas?: number;
  /** How long the server remembers message ids to drop repeats, ms (default 120,000). */
  readonly duplicateWindowMs?: number;
}

/** What `ensureStream` found. */
export interface StreamReady {
  readonly name: string;
  readonly created: boolean;
  readonly subjects: readonly string[];
  readonly duplicateWindowMs: number;
}

/** Whether NATS subject `subject` matches `pattern` (`*` one token, `>` one or more at the end). */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const t = p[i];
    if (t === '>') return s.length > i;
    if (i >= s.length) return false;
    if (t !== '*' && t !== s[i]) return false;
  }
  return p.length === s.length;
}

const isNotFound = (e: unknown): boolean =>
  e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound;

/** Finds or creates the stream; throws `ERR_NATS_STREAM` when it is missing or does not fit. */
export async function ensureStream(
  jsm: JetStreamManager,
  options: StreamOptions,
  subjectPrefix: string,
): Promise<StreamReady> {
  const name = options.name ?? DEFAULT_STREAM;
  const probe = `${subjectPrefix}.host.kind`;
  let created = false;
  let info: Awaited<ReturnType<JetStreamManager['streams']['info']>>;
  try {
    info = await jsm.streams.info(name);
  } catch (e) {
    if (!isNotFound(e)) throw e;
    if (options.create === false) {
      throw natsErrors.error('ERR_NATS_STREAM', `JetStream stream "${name}" does not exist and stream_create is false`);
    }
    const subjects = [...(options.subjects ?? [`${subjectPrefix}.>`])];
    try {
      info = await jsm.streams.add({
        name,
        subjects,
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        num_replicas: options.replicas ?? 1,
        max_bytes: options.maxBytes !== undefined && options.maxBytes > 0 ? options.maxBytes : -1,
        max_age: options.maxAgeMs !== undefined && options.maxAgeMs > 0 ? nanos(options.maxAgeMs) : 0,
        duplicate_window: nanos(options.duplicateWindowMs ?? 120_000),
      });
      created = true;
    } catch (e2) {
      // Another collector may have made it at the same moment.
      info = await jsm.streams.info(name).catch(() => {
        throw natsErrors.error(
          'ERR_NATS_STREAM',
          `cannot create JetStream stream "${name}": ${(e2 as Error).message}`,
          {
            cause: e2,
          },
        );
      });
    }
  }
  const subjects = info.config.subjects ?? [];
  if (!subjects.some((p: string) => subjectMatches(p, probe))) {
    throw natsErrors.error(
      'ERR_NATS_STREAM',
      `JetStream stream "${name}" takes ${JSON.stringify(subjects)}, not the forwarder's ${subjectPrefix}.>`,
    );
  }
  return { name, created, subjects, duplicateWindowMs: Math.round((info.config.duplicate_window ?? 0) / 1e6) };
}
