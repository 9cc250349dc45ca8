import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import * as native from './index.ts';

describe('public surface', () => {
  it('exports exactly the documented values', () => {
    expect(Object.keys(native).sort()).toEqual(
      [
        'CAPABILITY_NAMES',
        'allWorkersEnded',
        'dropPrivileges',
        'isCapabilityName',
        'processPrivileges',
        'resolveUser',
        'servePrivilegeDrop',
        'DEFAULT_AUDIT_BACKLOG_LIMIT',
        'DEFAULT_AUDIT_KEY',
        'DEFAULT_EBPF_OPTIONS',
        'EBPF_ARGV_MAX',
        'EBPF_CONFIG_LAYOUT',
        'EBPF_EVENT_LAYOUT',
        'EBPF_MIN_KERNEL',
        'EBPF_OBJECT_PATH',
        'decodeEbpfRecord',
        'openEbpfProcessMonitor',
        'probeEbpf',
        'DEFAULT_AUDIT_STATE_FILE',
        'DEFAULT_PROC_CONNECTOR_BUFFER',
        'DEFAULT_STOP_GRACE_MS',
        'FanotifyMask',
        'InotifyMask',
        'MAX_EXEC_CAPTURES_PER_READ',
        'NativeError',
        'NativeErrorCodes',
        'TCP_STATE_NAMES',
        'columnAddress',
        'columnProtocol',
        'columnStateName',
        'createProcfsReader',
        'errnoName',
        'execWithNodeFlags',
        'missingNodeFlags',
        'getPeerCredentials',
        'inetDiagSocketAt',
        'inetDiagSockets',
        'isNativeError',
        'listAuditRules',
        'openAuditExecMonitor',
        'openFanotify',
        'openInotify',
        'openProcConnector',
        'openSockDiag',
        'probeAudit',
        'probeFanotify',
        'probeInotify',
        'probeProcConnector',
        'probeSockDiag',
        'readAuditStatus',
        'recoverAuditState',
        'sockDiagDump',
        'startWorkerHost',
      ].sort(),
    );
    expect(native.InotifyMask.CREATE).toBe(0x100);
    expect(native.TCP_STATE_NAMES[1]).toBe('ESTABLISHED');
    expect(native.TCP_STATE_NAMES[10]).toBe('LISTEN');
    expect(native.FanotifyMask.MODIFY).toBe(2n);
    expect(native.CAPABILITY_NAMES).toHaveLength(41);
    expect([native.CAPABILITY_NAMES[0], native.CAPABILITY_NAMES[12], native.CAPABILITY_NAMES[40]]).toEqual([
      'CAP_CHOWN',
      'CAP_NET_ADMIN',
      'CAP_CHECKPOINT_RESTORE',
    ]);
  });

  it('NativeError carries the catalog brand, code and errno', () => {
    const e = new native.NativeError('ERR_AUDIT_LOCKED', 'locked', { errno: 1 });
    const brand = Symbol.for('@daemoneye/core/CollectorError');
    expect((e as unknown as Record<symbol, unknown>)[brand]).toBe(true);
    expect([e.code, e.errno, e.message, e.name]).toEqual(['ERR_AUDIT_LOCKED', 1, 'locked', 'NativeError']);
    expect(native.isNativeError(e, 'ERR_AUDIT_LOCKED')).toBe(true);
    expect(native.isNativeError(e, 'ERR_AUDIT_BUSY')).toBe(false);
    expect(native.isNativeError(new Error('x'))).toBe(false);
    expect('errno' in new native.NativeError('ERR_NATIVE_CALL', 'x')).toBe(false);
  });

  it('lists every error code once, in catalog order', () => {
    expect(native.NativeErrorCodes).toEqual([
      'ERR_NATIVE_UNAVAILABLE',
      'ERR_NATIVE_CALL',
      'ERR_NETLINK_PROTOCOL',
      'ERR_AUDIT_LOCKED',
      'ERR_AUDIT_BUSY',
      'ERR_NATIVE_INVALID_ARGUMENT',
      'ERR_NATIVE_ABORTED',
    ]);
    expect(Object.isFrozen(native.NativeErrorCodes)).toBe(true);
  });

  it('off Linux: imports cleanly, every probe says not_linux and open calls reject ERR_NATIVE_UNAVAILABLE', () => {
    // A separate process that believes it runs on macOS imports the built package.
    const entry = new URL('../dist/index.js', import.meta.url).href;
    const script = `
      Object.defineProperty(process, 'platform', { value: 'darwin' });
      const m = await import(${JSON.stringify(entry)});
      const probes = (await Promise.all([m.probeProcConnector(), m.probeAudit(), m.probeSockDiag(), m.probeFanotify(), m.probeInotify()])).map((p) => p.code);
      const opens = [];
      for (const open of [() => m.openProcConnector(), () => m.openAuditExecMonitor(), () => m.openInotify(), () => m.openFanotify({ mask: 2n, paths: ['/'] }), () => m.openSockDiag()]) {
        opens.push(await open().then(() => 'opened', (e) => e.code));
      }
      const calls = [];
      for (const call of [() => m.sockDiagDump({ family: 4, protocol: 'tcp' }), () => m.readAuditStatus(), () => m.listAuditRules()]) {
        calls.push(await call().then(() => 'ok', (e) => e.code));
      }
      process.stdout.write(JSON.stringify({ probes, opens, calls }));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      probes: ['not_linux', 'not_linux', 'not_linux', 'not_linux', 'not_linux'],
      opens: Array(5).fill('ERR_NATIVE_UNAVAILABLE'),
      calls: Array(3).fill('ERR_NATIVE_UNAVAILABLE'),
    });
  });
});
