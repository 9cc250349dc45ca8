/**
 * @daemoneye/ipc — DaemonEye's IPC: CRC32C-checked protobuf frames, CollectorIpcServer (a sink that
 * serves capabilities, detection tasks, health, statistics and resumable event streams on a Unix
 * socket), the resilient IpcClient, and the domain ⇄ wire mapping.
 */

export type { IpcClientOptions, ReceivedEvent, StreamItem, SubscribeOptions } from './client.ts';
export { IpcClient } from './client.ts';
export { ipcServerDefinition, ipcServerSchema, resolveSocketPath } from './definition.ts';
export type { IpcErrorCode } from './errors.ts';
export { ipcErrors } from './errors.ts';
export { DEFAULT_MAX_FRAME_BYTES, encodeFrame, FRAME_HEADER_BYTES, FrameDecoder } from './framing.ts';
export type { LatestStateLimits } from './internal/latest-state.ts';
export { defaultSocketPath, SOCKET_FILE } from './internal/socket-path.ts';
export type { SlowConsumerPolicy } from './internal/subscription.ts';
export {
  capabilitiesFromWire,
  capabilitiesToWire,
  correlationFromWire,
  correlationToWire,
  eventToWire,
  filesystemRecordOf,
  filterFromWire,
  filterToWire,
  networkRecordOf,
  performanceRecordOf,
  processRecordOf,
  wireToEvent,
} from './mapping.ts';
export type { BackoffOptions, CircuitBreakerOptions, CircuitState } from './resilience.ts';
export { CircuitBreaker, reconnectDelay } from './resilience.ts';
export type { IpcRequest, IpcResponse, IpcServerOptions, IpcServerStats, PeerCredentials } from './server.ts';
export { CollectorIpcServer, IPC_SERVER_VERSION } from './server.ts';
