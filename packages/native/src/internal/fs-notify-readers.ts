/**
 * The host-thread side of the inotify and fanotify readers, over a running reader host: turns the
 * worker's raw batches into `FsNotifyEvent` batches for the caller's callbacks, turns the kernel's
 * queue overflow record (IN_Q_OVERFLOW / FAN_Q_OVERFLOW) into an `overflow` loss report, passes
 * failures on, counts, and ties `close()` to the open call's signal. Opening the fd and adding marks
 * is not here: the worker and `fs-notify.ts` do that.
 */
import type { FanotifyReader, FsNotifyLossInfo, FsNotifyStats, InotifyReader } from '../fs-notify.ts';
import { type FsNotifyEvent, InotifyMask, inotifyMaskNames, type RawInotifyEvent } from '../fs-notify-event.ts';
import { NativeError } from '../native-error.ts';
import type { NativeLogger } from '../native-logger.ts';
import { closeOnAbort } from './abort.ts';
import { Errno } from './constants.ts';
import { callError, libc } from './libc.ts';
import { createListeners, type Listeners } from './listeners.ts';
import type { ReaderHost } from './reader-host.ts';

const Q_OVERFLOW = InotifyMask.Q_OVERFLOW ?? 0x4000;
const IGNORED = InotifyMask.IGNORED ?? 0x8000;

/** What both readers share: callbacks, counters and an idempotent close bound to the signal. */
interface Common {
  readonly events: Listeners<readonly FsNotifyEvent[]>;
  readonly deliver: (events: FsNotifyEvent[], overflows: number) => void;
  readonly reader: Pick<InotifyReader, 'onEvents' | 'onLoss' | 'onOverflow' | 'onError' | 'stats' | 'close'>;
}

function common<T>(
  host: ReaderHost<T>,
  what: string,
  options: { readonly signal?: AbortSignal | undefined; readonly logger: NativeLogger; readonly onClose?: () => void },
): Common {
  const counts = { received: 0, lost: 0 };
  const errors = createListeners<Error>();
  const loss = createListeners<FsNotifyLossInfo>({ onThrow: (e) => errors.emit(e) });
  const overflow = createListeners<void>({ onThrow: (e) => errors.emit(e) });
  const reportLoss = (count: number): void => {
    counts.lost += count;
    loss.emit({ reason: 'overflow', count, at: Date.now() });
    overflow.emit();
  };
  const events = createListeners<readonly FsNotifyEvent[]>({
    bufferUntilFirst: 64,
    onDrop: (dropped) => reportLoss(dropped.length),
    onThrow: (e) => errors.emit(e),
  });
  host.onError((e) => errors.emit(e));
  // The host's own queue never fills: the callbacks above are registered at once. Its loss reports
  // (none for these fds: they do not report ENOBUFS) still count.
  host.onLoss((info) => reportLoss(info.count));
  const fd = host.ready.fd;
  options.logger.debug({ fd }, `${what} opened`);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      stopListening();
      options.onClose?.();
      await host.close();
      options.logger.debug({ fd, ...counts }, `${what} closed`);
    })();
    return closing;
  };
  const stopListening = closeOnAbort(options.signal, close);
  return {
    events,
    deliver(batch, overflows) {
      // Events before the overflow record came first in the kernel's queue: deliver them first.
      if (batch.length > 0) {
        counts.received += batch.length;
        events.emit(batch);
      }
      if (overflows > 0) reportLoss(overflows);
    },
    reader: {
      onEvents: (cb) => events.add(cb),
      onLoss: (cb) => loss.add(cb),
      onOverflow: (cb) => overflow.add(cb),
      onError: (cb) => errors.add(cb),
      stats: (): FsNotifyStats => ({ ...counts, fd: host.closed() ? -1 : fd }),
      close,
    },
  };
}

/** The inotify reader over a host whose worker posts raw inotify events. */
export function inotifyReaderOver(
  host: ReaderHost<RawInotifyEvent>,
  options: { readonly signal?: AbortSignal | undefined; readonly logger: NativeLogger },
): InotifyReader {
  const fd = host.ready.fd;
  const watches = new Map<number, string>();
  let closed = false;
  const c = common(host, 'inotify reader', {
    ...options,
    onClose: () => {
      closed = true;
    },
  });
  host.onItems((raw) => {
    const events: FsNotifyEvent[] = [];
    let overflows = 0;
    for (const r of raw) {
      if ((r.mask & Q_OVERFLOW) !== 0) {
        overflows++;
        continue;
      }
      const base = watches.get(r.wd) ?? '';
      const ev: FsNotifyEvent = {
        path: r.name === '' ? base : `${base}/${r.name}`,
        mask: r.mask,
        names: inotifyMaskNames(r.mask),
      };
      if (r.cookie !== 0) ev.cookie = r.cookie;
      if (r.name === '') ev.self = true;
      events.push(ev);
      if ((r.mask & IGNORED) !== 0) watches.delete(r.wd);
    }
    c.deliver(events, overflows);
  });
  return {
    ...c.reader,
    addWatch(path, mask) {
      if (closed || host.closed()) throw new NativeError('ERR_NATIVE_CALL', 'inotify instance is closed');
      const wd = libc().inotifyAddWatch(fd, path, mask);
      if (wd < 0) throw callError(`inotify_add_watch(${path})`, wd);
      watches.set(wd, path.length > 1 ? path.replace(/\/+$/, '') : path);
      return wd;
    },
    removeWatch(wd) {
      if (closed || host.closed()) return;
      const rc = libc().inotifyRmWatch(fd, wd);
      if (rc < 0 && rc !== -Errno.EINVAL) throw callError(`inotify_rm_watch(${wd})`, rc);
    },
  };
}

/** The fanotify reader over a host whose worker posts resolved events (overflow records included). */
export function fanotifyReaderOver(
  host: ReaderHost<FsNotifyEvent>,
  options: { readonly signal?: AbortSignal | undefined; readonly logger: NativeLogger },
): FanotifyReader {
  const c = common(host, 'fanotify reader', options);
  host.onItems((items) => {
    const events = items.filter((e) => (e.mask & Q_OVERFLOW) === 0);
    c.deliver(events, items.length - events.length);
  });
  return c.reader;
}
