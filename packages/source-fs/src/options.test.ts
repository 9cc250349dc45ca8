import { isCollectorError } from '@daemoneye/core';
import { describe, expect, it } from 'vitest';
import { fsSourceSchema, resolveFsSourceOptions } from './options.ts';

describe('resolveFsSourceOptions', () => {
  it('applies the documented defaults', () => {
    const o = resolveFsSourceOptions();
    expect(o.paths).toEqual(['/etc', '/usr/bin', '/usr/sbin', '/home', '/root', '/tmp']);
    expect(o.paths).toEqual(fsSourceSchema.paths.default);
    expect([...o.operations]).toEqual(['create', 'modify', 'delete', 'rename', 'attrib']);
    expect(o.backend).toBe('auto');
    expect(o.fanotifyMark).toBe('filesystem');
    expect(o.coalesceMs).toBe(500);
    expect(o.hashMaxBytes).toBe(64 * 1024 * 1024);
    expect(o.maxWatches).toBe(65_536);
    expect(o.rateLimit).toBe(2000);
    expect(o.included('/anything')).toBe(true);
    expect(o.excluded('/etc/passwd')).toBe(false);
    expect(o.hashed('/etc/passwd')).toBe(false);
  });

  it('excludes a matching path and everything beneath a matching directory', () => {
    const o = resolveFsSourceOptions({
      exclude: ['**/node_modules', '**/*.swp'],
      excludeTrees: ['/var/lib/daemoneye'],
    });
    expect(o.excluded('/home/u/app/node_modules')).toBe(true);
    expect(o.excluded('/home/u/app/node_modules/x/index.js')).toBe(true);
    expect(o.excluded('/home/u/.notes.swp')).toBe(true);
    expect(o.excluded('/home/u/app/src/index.js')).toBe(false);
    expect(o.excluded('/var/lib/daemoneye')).toBe(true);
    expect(o.excluded('/var/lib/daemoneye/events.db-wal')).toBe(true);
    expect(o.excluded('/var/lib/daemoneye2/x')).toBe(false);
  });

  it('matches include and hash globs against absolute paths, dotfiles too', () => {
    const o = resolveFsSourceOptions({ include: ['/etc/**', '**/*.conf'], hash: ['**/.bashrc'] });
    expect(o.included('/etc/ssh/sshd_config')).toBe(true);
    expect(o.included('/opt/app/app.conf')).toBe(true);
    expect(o.included('/home/u/notes.txt')).toBe(false);
    expect(o.hashed('/home/u/.bashrc')).toBe(true);
  });

  it('trims trailing slashes and rejects bad values naming the field', () => {
    expect(resolveFsSourceOptions({ paths: ['/tmp/x/'] }).paths).toEqual(['/tmp/x']);
    const bad: [string, object][] = [
      ['paths', { paths: ['relative/dir'] }],
      ['paths', { paths: [] }],
      ['operations', { operations: ['create', 'chmod'] }],
      ['backend', { backend: 'kqueue' }],
      ['coalesceMs', { coalesceMs: -1 }],
      ['maxWatches', { maxWatches: 0 }],
      ['include', { include: [''] }],
    ];
    for (const [name, options] of bad) {
      let err: unknown;
      try {
        resolveFsSourceOptions(options);
      } catch (e) {
        err = e;
      }
      expect(isCollectorError(err, 'ERR_CONFIG_INVALID'), name).toBe(true);
      expect((err as Error).message).toContain(`FsSourceOptions.${name}`);
    }
  });
});
