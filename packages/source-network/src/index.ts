/**
 * @daemoneye/source-network — the network event source: NETLINK_SOCK_DIAG dumps of TCP and UDP
 * sockets (IPv4 and IPv6) in a worker thread, open/close/state-change events with stable ids, tcp_info
 * byte and retransmission counters, owning processes from /proc/PID/fd, a /proc/net fallback and
 * systeminformation off Linux.
 */

export { networkSourceDefinition } from './definition.ts';
export type { NetworkErrorCode } from './errors.ts';
export { networkErrors } from './errors.ts';
export type {
  BackendChoice,
  DumpRequest,
  DumpResult,
  NetworkBackend,
  OpenSockDiag,
  ReadProcNet,
  SockDiagPort,
  SocketInventory,
} from './internal/inventory.ts';
export type { OwnerResolver, OwnerResult } from './internal/owner-client.ts';
export type { OwnerMissReason, SocketOwner } from './internal/owner-index.ts';
export { parseProcNet } from './internal/proc-net-parse.ts';
export type { RowFields, SocketBatch } from './internal/socket-batch.ts';
export type { NetworkSourceStats } from './network-event-source.ts';
export { createNetworkSource, NetworkEventSource } from './network-event-source.ts';
export type { NetworkSourceOptions, ResolvedNetworkSourceOptions } from './options.ts';
export { DEFAULT_NETWORK_SOURCE_OPTIONS, networkSourceSchema, resolveNetworkSourceOptions } from './options.ts';
export type { SocketProtocol, SocketRecord } from './socket-record.ts';
