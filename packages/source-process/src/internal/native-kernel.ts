/**
 * The default kernel ports: `@daemoneye/native`'s proc connector reader and audit exec monitor. The
 * native package is imported on first use, so loading this package never loads the FFI on hosts that
 * will not use it; a failed import, or a native build without these readers, means "no kernel
 * backend" (logged), not an error.
 */
import type { Logger } from '@daemoneye/core';
import type { AuditExecPort, KernelPorts, ProcConnectorPort } from './kernel-port.ts';

type Open<O, P> = (options: O) => Promise<P>;

interface NativeReaders {
  readonly openProcConnector: Open<{ readonly receiveBufferBytes: number }, ProcConnectorPort>;
  readonly openAuditExecMonitor?: Open<{ readonly key: string }, AuditExecPort>;
}

function hasReaders(m: unknown): m is NativeReaders {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  return typeof r.openProcConnector === 'function';
}

/** Loads `@daemoneye/native`; `undefined` (with a log line) when it cannot be loaded. */
export async function loadNativeKernelPorts(log: Logger, specifier = '@daemoneye/native'): Promise<KernelPorts | undefined> {
  let native: unknown;
  try {
    native = await import(specifier);
  } catch (e) {
    log.info({ err: e }, 'native kernel interfaces unavailable');
    return undefined;
  }
  if (!hasReaders(native)) {
    log.info('native package has no proc connector reader');
    return undefined;
  }
  const audit = native.openAuditExecMonitor;
  return {
    openProcConnector: (options) => native.openProcConnector(options),
    ...(typeof audit === 'function' ? { openAuditExecMonitor: (options: { readonly key: string }) => audit(options) } : {}),
  };
}
