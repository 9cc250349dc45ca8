/**
 * The credentials of the process at the other end of a Unix domain socket (SO_PEERCRED), as the
 * kernel recorded them at connect time. Used to authenticate local clients of a control socket.
 * It does not resolve the pid further.
 */
import { Sock } from './internal/constants.ts';
import { callError, libc } from './internal/libc.ts';
import { Ucred } from './internal/structs.ts';
import { invalidArgument, NativeError } from './native-error.ts';

/**
 * Returns `{ pid, uid, gid }` of the peer of the connected Unix socket `fd`
 * (getsockopt SOL_SOCKET/SO_PEERCRED). Throws NativeError: `ERR_NATIVE_UNAVAILABLE` off Linux,
 * `ERR_NATIVE_CALL` with errno for a bad fd (EBADF) or a non-socket (ENOTSOCK),
 * `ERR_NATIVE_INVALID_ARGUMENT` for an `fd` that is not a non-negative integer. One non-blocking
 * system call: safe on the main thread.
 */
export function getPeerCredentials(fd: number): { pid: number; uid: number; gid: number } {
  if (!Number.isInteger(fd) || fd < 0) throw invalidArgument('fd', fd, 'a non-negative integer');
  const out = Buffer.alloc(Ucred.SIZE);
  const n = libc().getsockopt(fd, Sock.SOL_SOCKET, Sock.SO_PEERCRED, out);
  if (n < 0) throw callError(`getsockopt(${fd}, SO_PEERCRED)`, n);
  if (n < Ucred.SIZE) throw new NativeError('ERR_NATIVE_CALL', `getsockopt(SO_PEERCRED) returned ${n} bytes`);
  return { pid: out.readInt32LE(Ucred.PID), uid: out.readUInt32LE(Ucred.UID), gid: out.readUInt32LE(Ucred.GID) };
}
