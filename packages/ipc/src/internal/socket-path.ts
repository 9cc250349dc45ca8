/**
 * Where the IPC socket lives and how it is made safe to listen on: the default path (in the data
 * directory, else a per-user directory under the system's temporary directory, or a named pipe on
 * Windows), a directory of mode 0700 (created when missing, refused when it exists with another mode
 * or owner), and a socket file that is replaced when stale but never taken from a live collector.
 */
import { lstatSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ipcErrors } from '../errors.ts';

/** The socket's file name inside its directory. */
export const SOCKET_FILE = 'collector.sock';

/**
 * The default socket path: `<dataDir>/ipc/collector.sock`; without a data directory
 * `<tmpdir>/daemoneye-<uid>/collector.sock`; on Windows the pipe `\\.\pipe\daemoneye\collector`.
 */
export function defaultSocketPath(dataDir: string | undefined, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') return '\\\\.\\pipe\\daemoneye\\collector';
  if (dataDir !== undefined && dataDir !== '') return join(dataDir, 'ipc', SOCKET_FILE);
  return join(tmpdir(), `daemoneye-${process.getuid?.() ?? 'user'}`, SOCKET_FILE);
}

/** True for a Windows named-pipe path. */
export function isPipePath(path: string): boolean {
  return path.startsWith('\\\\.\\pipe\\') || path.startsWith('\\\\?\\pipe\\');
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** Resolves true when something accepts connections at `path`. */
function isLive(path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    const timer = setTimeout(() => {
      s.destroy();
      resolve(true); // it exists and did not refuse: assume a busy live collector
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve(true);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      s.destroy();
      const code = errno(e);
      if (code === 'ECONNREFUSED' || code === 'ENOENT') resolve(false);
      else reject(e);
    });
  });
}

/**
 * Makes `path` ready to listen on. Creates its directory with mode 0700 when missing; throws
 * `ERR_IPC_OPTIONS` when the directory exists with a mode other than 0700 or another owner, and
 * `ERR_IPC_SOCKET_IN_USE` when a live collector answers at `path` or `path` is not a socket. A stale
 * socket (nothing listens) is removed.
 */
export async function prepareSocketPath(path: string): Promise<void> {
  if (isPipePath(path)) return;
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = statSync(dir);
  const uid = process.getuid?.();
  if ((st.mode & 0o777) !== 0o700 || (uid !== undefined && st.uid !== uid)) {
    throw ipcErrors.error(
      'ERR_IPC_OPTIONS',
      `the socket directory ${dir} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')} and owner uid ${st.uid}; it must be 0700 and owned by uid ${uid} (give the socket a directory of its own: it is created with mode 0700 when missing)`,
      { details: { dir, mode: st.mode & 0o777, owner: st.uid } },
    );
  }
  let existing: ReturnType<typeof lstatSync> | undefined;
  try {
    existing = lstatSync(path);
  } catch (e) {
    if (errno(e) === 'ENOENT') return;
    throw e;
  }
  if (!existing.isSocket()) {
    throw ipcErrors.error('ERR_IPC_SOCKET_IN_USE', `${path} exists and is not a socket; refusing to replace it`);
  }
  if (await isLive(path, 1000)) {
    throw ipcErrors.error(
      'ERR_IPC_SOCKET_IN_USE',
      `another collector is listening on ${path}; stop it first, or give this one another socket_path`,
    );
  }
  try {
    unlinkSync(path);
  } catch (e) {
    if (errno(e) !== 'ENOENT') throw e;
  }
}
