// Every option check of the public API throws (or rejects with) NativeError
// ERR_NATIVE_INVALID_ARGUMENT, naming the option and the bad value, before anything is opened.
import { describe, expect, it } from 'vitest';
import { openAuditExecMonitor } from './audit-monitor.ts';
import { openFanotify, openInotify } from './fs-notify.ts';
import { isNativeError } from './native-error.ts';
import { getPeerCredentials } from './peer-credentials.ts';
import { openProcConnector } from './proc-connector.ts';
import { openSockDiag, sockDiagDump } from './sock-diag.ts';

const linux = process.platform === 'linux';
if (!linux) process.stderr.write('skipping option checks: every open call fails ERR_NATIVE_UNAVAILABLE off Linux\n');

async function failure(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (e) {
    return e;
  }
  return undefined;
}

const cases: [string, () => unknown, string, string][] = [
  [
    'sockDiagDump family',
    () => sockDiagDump({ family: 5 as 4, protocol: 'tcp' }),
    'family',
    'family must be 4 or 6, got 5',
  ],
  [
    'sockDiagDump protocol',
    () => sockDiagDump({ family: 4, protocol: 'icmp' as 'tcp' }),
    'protocol',
    `protocol must be 'tcp' or 'udp', got "icmp"`,
  ],
  ['getPeerCredentials fd', () => getPeerCredentials(-1), 'fd', 'fd must be a non-negative integer, got -1'],
  ['getPeerCredentials fraction', () => getPeerCredentials(1.5), 'fd', 'fd must be a non-negative integer, got 1.5'],
  [
    'openProcConnector receiveBufferBytes',
    () => openProcConnector({ receiveBufferBytes: 0 }),
    'receiveBufferBytes',
    'receiveBufferBytes must be a positive integer, got 0',
  ],
  [
    'openProcConnector captureOnExec.links',
    () => openProcConnector({ captureOnExec: { links: ['..'] } }),
    'captureOnExec.links',
    'captureOnExec.links must be plain /proc/<pid>/ entry names, got ".."',
  ],
  [
    'openFanotify mask',
    () => openFanotify({ mask: 0n, paths: ['/'] }),
    'mask',
    'mask must be a positive bigint, got 0n',
  ],
  [
    'openFanotify paths',
    () => openFanotify({ mask: 2n, paths: [] }),
    'paths',
    'paths must be a non-empty array of paths, got []',
  ],
  [
    'openAuditExecMonitor key',
    () => openAuditExecMonitor({ key: 'k'.repeat(257) }),
    'key',
    `key must be a string of 1..256 bytes, got "${'k'.repeat(257)}"`,
  ],
  [
    'openAuditExecMonitor receiveBufferBytes',
    () => openAuditExecMonitor({ receiveBufferBytes: -5 }),
    'receiveBufferBytes',
    'receiveBufferBytes must be a positive integer, got -5',
  ],
  [
    'openAuditExecMonitor mode',
    () => openAuditExecMonitor({ mode: 'broadcast' as 'auto' }),
    'mode',
    `mode must be 'auto', 'unicast' or 'multicast', got "broadcast"`,
  ],
  [
    'openInotify signal',
    () => openInotify({ signal: {} as AbortSignal }),
    'signal',
    'signal must be an AbortSignal, got [object Object]',
  ],
  [
    'openSockDiag logger',
    () => openSockDiag({ logger: { debug() {} } as never }),
    'logger',
    'logger must be an object with debug, info, warn and error methods, got [object Object]',
  ],
];

describe.skipIf(!linux)('invalid arguments', () => {
  it.each(cases)('%s', async (_name, call, option, message) => {
    const err = await failure(call);
    expect(isNativeError(err, 'ERR_NATIVE_INVALID_ARGUMENT')).toBe(true);
    expect(err).not.toBeInstanceOf(RangeError);
    expect((err as Error).message).toBe(message);
    expect((err as { details: Record<string, unknown> }).details.option).toBe(option);
  });
});
