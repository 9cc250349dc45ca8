/**
 * The default kernel ports: `@daemoneye/native`'s eBPF loader, proc connector reader and audit exec monitor,
 * logging to the source's logger (debug: privileges, audit changes, fds). The native package is
 * imported on first use, so loading this package never loads the FFI on hosts that will not use
 * it; a failed import means "no kernel backend" (logged), not an error. The native readers report
 * their own unavailability (not root, not Linux, audit locked) when opened.
 */
import type { Logger } from '@daemoneye/core';
import type { KernelPorts } from './kernel-port.ts';

/** Loads `@daemoneye/native`; `undefined` (with a log line) when it cannot be loaded. */
export async function loadNativeKernelPorts(log: Logger): Promise<KernelPorts | undefined> {
  try {
    const native = await import('@daemoneye/native');
    return {
      openProcConnector: (options) =>
        native.openProcConnector({
          receiveBufferBytes: options.receiveBufferBytes,
          logger: log,
          ...(options.captureOnExec === undefined ? {} : { captureOnExec: options.captureOnExec }),
        }),
      openAuditExecMonitor: (options) =>
        native.openAuditExecMonitor({
          key: options.key,
          logger: log,
          ...(options.stateFile === undefined ? {} : { stateFile: options.stateFile }),
        }),
      probeEbpf: () => native.probeEbpf(),
      openEbpf: (options) =>
        native.openEbpfProcessMonitor({
          latencyMs: options.latencyMs,
          ringBufferBytes: options.ringBufferBytes,
          logger: log,
        }),
    };
  } catch (e) {
    log.info({ err: e }, 'native kernel interfaces unavailable');
    return undefined;
  }
}
