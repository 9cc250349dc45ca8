/**
 * The error codes of `@daemoneye/ipc`, declared through core's catalog so docs/errors.md lists them
 * and no other package reuses them. Framing and decoding errors travel to the peer in an ErrorFrame
 * (where the connection still allows a frame) and are counted by the server; only set-up (a bad
 * option, a socket another collector holds) throws from the server.
 */
import { defineErrorCatalog } from '@daemoneye/core';

/** The IPC package's error catalog. */
export const ipcErrors = defineErrorCatalog('@daemoneye/ipc', [
  'ERR_IPC_FRAME_EMPTY',
  'ERR_IPC_FRAME_TOO_LARGE',
  'ERR_IPC_CRC_MISMATCH',
  'ERR_IPC_TRUNCATED',
  'ERR_IPC_DECODE',
  'ERR_IPC_UNKNOWN_MESSAGE',
  'ERR_IPC_TIMEOUT',
  'ERR_IPC_TOO_MANY_CONNECTIONS',
  'ERR_IPC_PEER_REFUSED',
  'ERR_IPC_SOCKET_IN_USE',
  'ERR_IPC_UNSUPPORTED',
  'ERR_IPC_TASK_INVALID',
  'ERR_IPC_SUBSCRIPTION_INVALID',
  'ERR_IPC_SLOW_CONSUMER',
  'ERR_IPC_CONNECTION',
  'ERR_IPC_CIRCUIT_OPEN',
  'ERR_IPC_SHUTDOWN',
  'ERR_IPC_REMOTE',
  'ERR_IPC_OPTIONS',
]);

/** A code of the IPC package. */
export type IpcErrorCode = (typeof ipcErrors.codes)[number];
