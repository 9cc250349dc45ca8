/**
 * Shared start-up of the worker entry scripts: runs a setup function and, when it throws, posts the
 * failure as a fatal error message (keeping a NativeError's code and errno), so the host rejects its
 * open call with the real reason instead of a bare worker crash.
 */
import { parentPort } from 'node:worker_threads';
import { isNativeError } from '../native-error.ts';
import type { ErrorMessage } from './worker-protocol.ts';

/** Runs `setup` with the parent port; reports a thrown error to the host as a fatal error message. */
export function runWorkerEntry(setup: (port: NonNullable<typeof parentPort>) => void): void {
  const port = parentPort;
  if (!port) return;
  try {
    setup(port);
  } catch (e) {
    const m: ErrorMessage = {
      type: 'error',
      code: isNativeError(e) ? e.code : 'ERR_NATIVE_CALL',
      message: e instanceof Error ? e.message : String(e),
      fatal: true,
      ...(isNativeError(e) && e.errno !== undefined ? { errno: e.errno } : {}),
    };
    port.postMessage(m);
  }
}
