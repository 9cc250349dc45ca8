/**
 * The IPC server's plug-in definition, `[sinks.ipc]`: the socket (by default in the data directory),
 * the limits and the slow-consumer policy, turned into a {@link CollectorIpcServer}. The
 * `daemoneye-collector` command has it in its default list, so `run` serves `status` and `tail`.
 */
import { isAbsolute, join } from 'node:path';
import { defineSink, field } from '@daemoneye/core';
import { ipcErrors } from './errors.ts';
import { DEFAULT_MAX_FRAME_BYTES } from './framing.ts';
import { defaultSocketPath, isPipePath } from './internal/socket-path.ts';
import { CollectorIpcServer } from './server.ts';

/** The `[sinks.ipc]` fields besides `enabled`, `queue_capacity` and `overflow`. */
export const ipcServerSchema = {
  socket_path: field(
    'string',
    '',
    'Unix socket (or Windows pipe) of the IPC server; relative to data_dir; empty: <data_dir>/ipc/collector.sock',
  ),
  daemoneye_socket_path: field(
    'string',
    '',
    "A second socket speaking DaemonEye's bare DetectionTask/DetectionResult exchange; empty: none",
  ),
  max_connections: field('integer', 16, 'Clients connected at once; one more is refused with an error frame', {
    min: 1,
  }),
  max_frame: field('bytes', DEFAULT_MAX_FRAME_BYTES, 'Largest frame payload in either direction', { min: 64 }),
  request_timeout: field('duration', 30_000, 'Longest a request, or a frame once started, may take', { min: 1 }),
  allowed_uids: field('string[]', [], 'Peer uids allowed to connect; empty: root and the collector’s own uid'),
  subscriber_queue: field('integer', 10_000, 'Events of the stream a subscriber may fall behind', { min: 1 }),
  slow_consumer: field('enum', 'drop-oldest', 'What a subscriber further behind gets', {
    values: ['drop-oldest', 'disconnect'],
  }),
  replay_capacity: field('integer', 10_000, 'Events held for subscribers that resume after a sequence number', {
    min: 1,
  }),
} as const;

/** The socket path a `[sinks.ipc]` section means (empty: the default in `dataDir`). */
export function resolveSocketPath(socketPath: string, dataDir: string | undefined): string {
  if (socketPath === '') return defaultSocketPath(dataDir);
  if (isAbsolute(socketPath) || isPipePath(socketPath) || dataDir === undefined) return socketPath;
  return join(dataDir, socketPath);
}

function parseUids(values: readonly string[]): number[] | undefined {
  if (values.length === 0) return undefined;
  return values.map((v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) {
      throw ipcErrors.error('ERR_IPC_OPTIONS', `sinks.ipc.allowed_uids holds "${v}", which is not a numeric uid`);
    }
    return n;
  });
}

/** `[sinks.ipc]`: the IPC server (capabilities, detection tasks, health, statistics, event streams). */
export const ipcServerDefinition = defineSink({
  key: 'ipc',
  description: 'IPC server on a Unix socket: status, detection tasks and event streams for local clients',
  schema: ipcServerSchema,
  create: (o, context) => {
    const allowedUids = parseUids(o.allowedUids);
    return new CollectorIpcServer({
      socketPath: resolveSocketPath(o.socketPath, context.dataDir),
      ...(o.daemoneyeSocketPath !== ''
        ? { daemoneyeSocketPath: resolveSocketPath(o.daemoneyeSocketPath, context.dataDir) }
        : {}),
      maxConnections: o.maxConnections,
      maxFrameBytes: o.maxFrame,
      requestTimeoutMs: o.requestTimeout,
      ...(allowedUids !== undefined ? { allowedUids } : {}),
      subscriberQueue: o.subscriberQueue,
      slowConsumer: o.slowConsumer,
      replayCapacity: o.replayCapacity,
      logger: context.logger.child({ sink: 'ipc' }),
    });
  },
});
