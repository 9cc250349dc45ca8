/**
 * Worker-thread entry for the fanotify reader: creates a notification group (FAN_CLASS_NOTIF,
 * non-blocking), marks the requested paths, then runs the shared reader loop. Each event's fd is
 * resolved to a path through /proc/self/fd and closed at once. On stop it closes the group fd.
 * Loaded as a worker script, never imported.
 */
import { statSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import {
  decodeFanotifyEvents,
  type FsNotifyEvent,
  fanotifyMaskNames,
  type RawFanotifyEvent,
} from '../fs-notify-event.ts';
import { NativeError } from '../native-error.ts';
import { Errno, Fanotify, FanotifyMaskBits } from './constants.ts';
import { callError, libc } from './libc.ts';
import { runReaderLoop } from './reader-loop.ts';
import { runWorkerEntry } from './worker-entry.ts';
import type { WorkerMessage } from './worker-protocol.ts';

const data = workerData as { mask: bigint; paths: string[]; filesystemMark: boolean };

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

runWorkerEntry((port) => {
  const c = libc();
  const fd = c.fanotifyInit(
    Fanotify.FAN_CLASS_NOTIF | Fanotify.FAN_CLOEXEC | Fanotify.FAN_NONBLOCK,
    Fanotify.O_RDONLY | Fanotify.O_CLOEXEC,
  );
  if (fd === -Errno.EPERM)
    throw new NativeError('ERR_NATIVE_UNAVAILABLE', 'fanotify_init: EPERM (needs CAP_SYS_ADMIN)', {
      errno: Errno.EPERM,
    });
  if (fd === -Errno.ENOSYS)
    throw new NativeError('ERR_NATIVE_UNAVAILABLE', 'fanotify is not built into this kernel', { errno: Errno.ENOSYS });
  if (fd < 0) throw callError('fanotify_init', fd);
  try {
    for (const path of data.paths) {
      const flags = Fanotify.FAN_MARK_ADD | (data.filesystemMark ? Fanotify.FAN_MARK_FILESYSTEM : 0);
      const mask = !data.filesystemMark && isDirectory(path) ? data.mask | FanotifyMaskBits.EVENT_ON_CHILD : data.mask;
      const rc = c.fanotifyMark(fd, flags, mask, path);
      if (rc < 0) throw callError(`fanotify_mark(${path})`, rc);
    }
  } catch (e) {
    c.close(fd);
    throw e;
  }
  port.postMessage({ type: 'ready', fd, receiveBufferBytes: 0 } satisfies WorkerMessage<FsNotifyEvent>);
  runReaderLoop<FsNotifyEvent>({
    port,
    fd,
    mode: 'read',
    bufferBytes: 64 * 1024,
    decode: (buf, n, out) => {
      const raw: RawFanotifyEvent[] = [];
      decodeFanotifyEvents(buf, n, raw);
      for (const ev of raw) {
        let path = '';
        if (ev.fd >= 0) {
          path = c.readlink(`/proc/self/fd/${ev.fd}`) ?? '';
          c.close(ev.fd);
        }
        out.push({ path, mask: Number(ev.mask & 0xffffffffn), names: fanotifyMaskNames(ev.mask), pid: ev.pid });
      }
    },
    cleanup: () => c.close(fd),
  });
});
