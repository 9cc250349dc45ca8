import { describe, expect, it } from 'vitest';
import { buildCgroupIndex, mountedHierarchies } from './cgroup-index.ts';
import type { ProcReader } from './proc-reader.ts';

const ID = 'a'.repeat(64);

/** A reader over an in-memory tree: `files` by path, directories as the prefixes of those paths. */
function treeReader(
  files: Record<string, string>,
  options: { listing?: boolean } = {},
): ProcReader & { reads: string[] } {
  const reads: string[] = [];
  const fail = (path: string): never => {
    throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
  };
  const reader: ProcReader & { reads: string[] } = {
    reads,
    readFile: (path) => {
      reads.push(path);
      return files[path] ?? fail(path);
    },
    readlink: (path) => fail(path),
    stat: (path) => fail(path),
    readdir: (path) => fail(path),
  };
  if (options.listing !== false) {
    reader.listDirectories = (dir) => {
      if (!Object.keys(files).some((p) => p.startsWith(`${dir}/`))) fail(dir);
      const names = new Set<string>();
      for (const p of Object.keys(files)) {
        if (!p.startsWith(`${dir}/`)) continue;
        const rest = p.slice(dir.length + 1).split('/');
        if (rest.length > 1 && rest[0] !== undefined) names.add(rest[0]);
      }
      return [...names];
    };
  }
  return reader;
}

const HYBRID_SELF = '3:pids:/\n2:cpu,cpuacct:/\n1:name=systemd:/\n0::/\n';
const HYBRID_MOUNTS = [
  '30 22 0:26 / /cg/unified rw shared:9 - cgroup2 cgroup2 rw,nsdelegate',
  '31 22 0:27 / /cg/cpu,cpuacct rw - cgroup cgroup rw,cpuacct,cpu',
  '32 22 0:28 / /cg/pids rw - cgroup cgroup rw,pids',
  '33 22 0:29 / /cg/systemd rw - cgroup cgroup rw,xattr,name=systemd',
].join('\n');

/** A hybrid host: unified paths for the report, and docker's cgroupfs container id in v1 only. */
function hybridHost(extra: Record<string, string> = {}): Record<string, string> {
  return {
    '/proc/self/cgroup': HYBRID_SELF,
    '/proc/self/mountinfo': HYBRID_MOUNTS,
    '/cg/unified/cgroup.procs': '1\n2\n',
    '/cg/unified/system.slice/cgroup.procs': '',
    '/cg/unified/system.slice/ssh.service/cgroup.procs': '10\n11\n',
    '/cg/unified/system.slice/docker.service/cgroup.procs': '20\n21\n',
    '/cg/cpu,cpuacct/cgroup.procs': '1\n2\n10\n11\n',
    '/cg/cpu,cpuacct/docker/cgroup.procs': '',
    [`/cg/cpu,cpuacct/docker/${ID}/cgroup.procs`]: '20\n21\n',
    '/cg/pids/cgroup.procs': '1\n2\n10\n11\n20\n',
    [`/cg/pids/docker/${ID}/cgroup.procs`]: '21\n',
    '/cg/systemd/cgroup.procs': '1\n2\n10\n11\n20\n21\n',
    ...extra,
  };
}

describe('mountedHierarchies', () => {
  it('maps each hierarchy of this process to a mount showing its whole tree', () => {
    expect(mountedHierarchies(HYBRID_SELF, HYBRID_MOUNTS)).toEqual([
      { id: '3', controllers: 'pids', mountPoint: '/cg/pids' },
      { id: '2', controllers: 'cpu,cpuacct', mountPoint: '/cg/cpu,cpuacct' },
      { id: '1', controllers: 'name=systemd', mountPoint: '/cg/systemd' },
      { id: '0', controllers: '', mountPoint: '/cg/unified' },
    ]);
  });

  it('gives up when a hierarchy is unmounted or mounted below its root', () => {
    const noSystemd = HYBRID_MOUNTS.split('\n').slice(0, 3).join('\n');
    expect(mountedHierarchies(HYBRID_SELF, noSystemd)).toBeUndefined();
    const partial = HYBRID_MOUNTS.replace('0:26 / /cg/unified', '0:26 /docker/x /cg/unified');
    expect(mountedHierarchies(HYBRID_SELF, partial)).toBeUndefined();
    // A mount of cpu alone is not the cpu,cpuacct hierarchy.
    const split = HYBRID_MOUNTS.replace('rw,cpuacct,cpu', 'rw,cpu');
    expect(mountedHierarchies(HYBRID_SELF, split)).toBeUndefined();
    expect(mountedHierarchies('', HYBRID_MOUNTS)).toBeUndefined();
  });
});

describe('buildCgroupIndex', () => {
  it('answers what each /proc/<pid>/cgroup would: unified path, container id from any hierarchy', () => {
    const index = buildCgroupIndex(treeReader(hybridHost()), '/proc', 100);
    expect(index?.lookup(1)).toEqual({ path: '/' });
    expect(index?.lookup(10)).toEqual({ path: '/system.slice/ssh.service' });
    expect(index?.lookup(20)).toEqual({
      path: '/system.slice/docker.service',
      containerId: ID,
      containerRuntime: 'docker',
    });
    expect(index?.lookup(21)).toEqual({
      path: '/system.slice/docker.service',
      containerId: ID,
      containerRuntime: 'docker',
    });
  });

  it('reads cgroup.procs of the other hierarchies only where a container id is in the path', () => {
    const reader = treeReader(hybridHost());
    buildCgroupIndex(reader, '/proc', 100);
    expect(reader.reads.filter((p) => p.endsWith('cgroup.procs')).sort()).toEqual(
      [
        '/cg/unified/cgroup.procs',
        '/cg/unified/system.slice/cgroup.procs',
        '/cg/unified/system.slice/docker.service/cgroup.procs',
        '/cg/unified/system.slice/ssh.service/cgroup.procs',
        `/cg/cpu,cpuacct/docker/${ID}/cgroup.procs`,
        `/cg/pids/docker/${ID}/cgroup.procs`,
      ].sort(),
    );
  });

  it('does not know a process missing from the primary hierarchy or listed twice', () => {
    const index = buildCgroupIndex(
      treeReader(hybridHost({ '/cg/unified/system.slice/cgroup.procs': '11\n' })),
      '/proc',
      100,
    );
    expect(index?.lookup(99)).toBeNull(); // started after the walk
    expect(index?.lookup(11)).toBeNull(); // in two cgroups of one hierarchy
    expect(index?.lookup(10)).toEqual({ path: '/system.slice/ssh.service' });
  });

  it('skips a cgroup removed during the walk: its processes are unknown, the rest known', () => {
    // `gone` is listed by its parent, but its cgroup.procs has vanished.
    const index = buildCgroupIndex(
      treeReader(hybridHost({ '/cg/unified/gone/child/cgroup.procs': '30\n' })),
      '/proc',
      100,
    );
    expect(index?.lookup(30)).toBeNull();
    expect(index?.lookup(20)).toEqual({
      path: '/system.slice/docker.service',
      containerId: ID,
      containerRuntime: 'docker',
    });
  });

  it('walks a cgroup v2 host with one hierarchy', () => {
    const files = {
      '/proc/self/cgroup': '0::/user.slice\n',
      '/proc/self/mountinfo': '30 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw',
      '/sys/fs/cgroup/cgroup.procs': '1\n',
      '/sys/fs/cgroup/user.slice/cgroup.procs': '5\n',
      '/sys/fs/cgroup/system.slice/cgroup.procs': '',
      [`/sys/fs/cgroup/system.slice/docker-${ID}.scope/cgroup.procs`]: '7\n',
    };
    const index = buildCgroupIndex(treeReader(files), '/proc', 100);
    expect([index?.lookup(1), index?.lookup(5), index?.lookup(7)]).toEqual([
      { path: '/' },
      { path: '/user.slice' },
      { path: `/system.slice/docker-${ID}.scope`, containerId: ID, containerRuntime: 'docker' },
    ]);
  });

  it('builds nothing without a directory listing, over budget, or when the top is unreadable', () => {
    expect(buildCgroupIndex(treeReader(hybridHost(), { listing: false }), '/proc', 100)).toBeUndefined();
    // 4 cgroups in unified + 3 in cpu,cpuacct + 3 in pids + 1 in systemd = 11.
    expect(buildCgroupIndex(treeReader(hybridHost()), '/proc', 11)).toBeDefined();
    expect(buildCgroupIndex(treeReader(hybridHost()), '/proc', 10)).toBeUndefined();
    const files = hybridHost();
    delete files['/cg/unified/cgroup.procs'];
    expect(buildCgroupIndex(treeReader(files), '/proc', 100)).toBeUndefined();
    expect(buildCgroupIndex(treeReader({}), '/proc', 100)).toBeUndefined();
  });
});
