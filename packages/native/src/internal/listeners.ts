/**
 * A list of callbacks for one kind of report (event batches, loss, errors): registration returns
 * an unsubscribe function, each callback is isolated (one that throws is reported through
 * `onThrow` and the others still run), and optionally the values emitted before the first callback
 * was registered wait in a bounded queue (the oldest is dropped and handed to `onDrop`). It holds no
 * domain knowledge.
 */

/** Options for {@link createListeners}. */
export interface ListenersOptions<T> {
  /** Keep up to this many values emitted before the first registration, for it (default 0: none). */
  readonly bufferUntilFirst?: number;
  /** A value pushed out of the full queue. */
  readonly onDrop?: (value: T) => void;
  /** A callback threw. */
  readonly onThrow?: (err: Error) => void;
}

/** Callbacks for values of type `T`. */
export interface Listeners<T> {
  /** Registers `cb`; returns a function that unregisters it (calling it again does nothing). */
  add(cb: (value: T) => void): () => void;
  /** Calls every registered callback with `value` (or queues it, see `bufferUntilFirst`). */
  emit(value: T): void;
  /** How many callbacks are registered. */
  size(): number;
}

/** Creates an empty {@link Listeners}. */
export function createListeners<T>(options: ListenersOptions<T> = {}): Listeners<T> {
  const cbs = new Set<(value: T) => void>();
  const limit = options.bufferUntilFirst ?? 0;
  const queued: T[] = [];
  let registered = false;
  const call = (cb: (value: T) => void, value: T): void => {
    try {
      cb(value);
    } catch (e) {
      options.onThrow?.(e instanceof Error ? e : new Error(String(e)));
    }
  };
  return {
    add(cb) {
      const wrapper = (value: T): void => call(cb, value);
      cbs.add(wrapper);
      if (!registered) {
        registered = true;
        const early = queued.splice(0);
        if (early.length > 0)
          queueMicrotask(() => {
            for (const v of early) if (cbs.has(wrapper)) wrapper(v);
          });
      }
      return () => void cbs.delete(wrapper);
    },
    emit(value) {
      if (!registered && limit > 0) {
        queued.push(value);
        if (queued.length > limit) {
          const dropped = queued.shift() as T;
          options.onDrop?.(dropped);
        }
        return;
      }
      for (const cb of [...cbs]) cb(value);
    },
    size: () => cbs.size,
  };
}
