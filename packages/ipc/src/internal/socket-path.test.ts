import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveSocketPath } from '../definition.ts';
import { defaultSocketPath, isPipePath, prepareSocketPath } from './socket-path.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('socket paths', () => {
  it('chooses the data directory on Linux and the named pipe on Windows', () => {
    expect(defaultSocketPath('/var/lib/daemoneye', 'linux')).toBe('/var/lib/daemoneye/ipc/collector.sock');
    expect(defaultSocketPath(undefined, 'linux')).toBe(
      join(tmpdir(), `daemoneye-${process.getuid?.()}`, 'collector.sock'),
    );
    expect(defaultSocketPath('C:\\ProgramData\\daemoneye', 'win32')).toBe('\\\\.\\pipe\\daemoneye\\collector');
  });

  it('tells pipe names from file paths', () => {
    expect(isPipePath('\\\\.\\pipe\\daemoneye\\collector')).toBe(true);
    expect(isPipePath('\\\\?\\pipe\\other')).toBe(true);
    expect(isPipePath('/run/daemoneye/collector.sock')).toBe(false);
    expect(isPipePath('pipe\\collector')).toBe(false);
  });

  it('keeps a configured pipe name as written instead of joining it to the data directory', () => {
    expect(resolveSocketPath('\\\\.\\pipe\\custom', '/var/lib/daemoneye')).toBe('\\\\.\\pipe\\custom');
    expect(resolveSocketPath('ipc/other.sock', '/var/lib/daemoneye')).toBe('/var/lib/daemoneye/ipc/other.sock');
    expect(resolveSocketPath('/run/x.sock', '/var/lib/daemoneye')).toBe('/run/x.sock');
  });

  it('creates no directory for a pipe name, and a 0700 directory for a socket file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'de-sockpath-'));
    dirs.push(dir);
    await expect(prepareSocketPath('\\\\.\\pipe\\daemoneye\\collector')).resolves.toBeUndefined();
    await prepareSocketPath(join(dir, 'ipc', 'collector.sock'));
    expect(statSync(join(dir, 'ipc')).mode & 0o777).toBe(0o700);
  });
});
