/**
 * Worker-thread entry for the inotify reader: creates a non-blocking inotify instance, reports its fd
 * (the host adds and removes watches on it directly), then runs the shared reader loop posting raw
 * events. On stop it closes the fd. Loaded as a worker script, never imported.
 */
import { decodeInotifyEvents, type RawInotifyEvent } from '../fs-notify-event.ts';
import { Inotify } from './constants.ts';
import { callError, libc } from './libc.ts';
import { runReaderLoop } from './reader-loop.ts';
import { runWorkerEntry } from './worker-entry.ts';
import type { WorkerMessage } from './worker-protocol.ts';

/** Wait after a read before polling again: a burst is read in a few large reads, not one per event. */
const SETTLE_MS = 2;

runWorkerEntry((port) => {
  const c = libc();
  const fd = c.inotifyInit1(Inotify.IN_NONBLOCK | Inotify.IN_CLOEXEC);
  if (fd < 0) throw callError('inotify_init1', fd);
  port.postMessage({ type: 'ready', fd, receiveBufferBytes: 0 } satisfies WorkerMessage<RawInotifyEvent>);
  runReaderLoop<RawInotifyEvent>({
    port,
    fd,
    mode: 'read',
    bufferBytes: 64 * 1024,
    settleMs: SETTLE_MS,
    decode: decodeInotifyEvents,
    cleanup: () => c.close(fd),
  });
});
