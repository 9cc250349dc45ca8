import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cgroupInfo,
  containerIdIn,
  containerOf,
  PF_KTHREAD,
  parseBootTime,
  parseCgroup,
  parseCgroupFile,
  parseCgroupLines,
  parseCgroupMounts,
  parseCmdline,
  parseExeLink,
  parsePasswd,
  parseStat,
  parseStatus,
  parseUptime,
  processName,
} from './proc-parse.ts';

const TAIL =
  'S 1 3636 2435 0 -1 4194304 134 0 0 0 7 3 0 0 20 0 1 0 36864 2990080 424 18446744073709551615 1 1 0 0 0 0 0 6 0 1 0 0 17 1 0';

describe('parseStat', () => {
  it('takes comm between the first ( and the last ), spaces and parens included', () => {
    const s = parseStat(`3642 (a b) (c) ${TAIL}`);
    expect(s).toEqual({
      pid: 3642,
      comm: 'a b) (c',
      state: 'S',
      ppid: 1,
      flags: 4194304,
      utime: 7,
      stime: 3,
      numThreads: 1,
      startTicks: 36864,
      rssPages: 424,
    });
  });

  it('keeps any comm intact (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 15 }), fc.nat(), (comm, pid) => {
        const s = parseStat(`${pid} (${comm}) ${TAIL}`);
        expect(s?.comm).toBe(comm);
        expect(s?.pid).toBe(pid);
        expect(s?.ppid).toBe(1);
        expect(s?.startTicks).toBe(36864);
      }),
    );
  });

  it('rejects truncated or garbage text', () => {
    expect(parseStat('')).toBeUndefined();
    expect(parseStat('12 (x) S 1 2')).toBeUndefined();
    expect(parseStat('no parens at all')).toBeUndefined();
  });

  it('exposes PF_KTHREAD in flags of a kernel thread', () => {
    const s = parseStat(
      '2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 18 0 0 1 0 0 0 0 0 0 0 2147483647 0',
    );
    expect(((s?.flags ?? 0) & PF_KTHREAD) !== 0).toBe(true);
  });
});

describe('parseStatus', () => {
  it('reads the real and effective uid from the Uid line', () => {
    const text = 'Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t1\t1\t1\t1\nVmRSS:\t    1864 kB\nThreads:\t3\n';
    expect(parseStatus(text)).toEqual({ realUid: 1000, effectiveUid: 0 });
  });
  it('finds the line first in the file, and leaves out what is missing or malformed', () => {
    expect(parseStatus('Uid:\t7\t8\t8\t8\nName:\tx\n')).toEqual({ realUid: 7, effectiveUid: 8 });
    expect(parseStatus('Name:\tx\nUid:\tz\nThreads:\t\n')).toEqual({});
    expect(parseStatus('Uid:\t42\n')).toEqual({ realUid: 42 });
    expect(parseStatus('Uid:\t42')).toEqual({ realUid: 42 });
    expect(parseStatus('XUid:\t1\t1\t1\t1\nVmRSS:\t4 kB')).toEqual({});
    expect(parseStatus('')).toEqual({});
  });
  it('reads a kernel thread and the largest uid', () => {
    expect(parseStatus('Name:\tkthreadd\nUid:\t0\t0\t0\t0\nThreads:\t1\n')).toEqual({ realUid: 0, effectiveUid: 0 });
    expect(parseStatus('Name:\tn\nUid:\t4294967294\t65534\t65534\t65534\n')).toEqual({
      realUid: 4294967294,
      effectiveUid: 65534,
    });
  });
});

describe('parseCmdline', () => {
  it('splits on NUL, drops only the final terminator', () => {
    expect(parseCmdline('sh\0-c\0sleep 2\0')).toEqual(['sh', '-c', 'sleep 2']);
    expect(parseCmdline('a\0\0b\0')).toEqual(['a', '', 'b']);
    expect(parseCmdline('')).toEqual([]);
    expect(parseCmdline('no-terminator')).toEqual(['no-terminator']);
  });
  it('round-trips any argv without NUL (property)', () => {
    const arg = fc.string().filter((s) => !s.includes('\0'));
    fc.assert(
      fc.property(fc.array(arg, { minLength: 1 }), (argv) => {
        expect(parseCmdline(`${argv.join('\0')}\0`)).toEqual(argv);
      }),
    );
  });
});

describe('parseExeLink', () => {
  it('strips the deleted marker and says so', () => {
    expect(parseExeLink('/tmp/fx/gone (deleted)')).toEqual({ path: '/tmp/fx/gone', deleted: true });
    expect(parseExeLink('/usr/bin/sleep')).toEqual({ path: '/usr/bin/sleep', deleted: false });
  });
});

describe('parseCgroup', () => {
  const id = '4f3c2a1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a';
  it('tells a pure cgroup v2 file from a hybrid or v1 one, and reuses the result for a text seen before', () => {
    const v2 = parseCgroupFile(`0::/system.slice/docker-${id}.scope\n`);
    expect(v2).toEqual({
      cgroup: { path: `/system.slice/docker-${id}.scope`, containerId: id, containerRuntime: 'docker' },
      unifiedOnly: true,
    });
    expect(parseCgroupFile(`0::/system.slice/docker-${id}.scope\n`)).toBe(v2);
    expect(parseCgroupFile('4:memory:/m\n0::/\n')).toEqual({ cgroup: { path: '/' }, unifiedOnly: false });
    expect(parseCgroupFile('4:memory:/m\n')).toEqual({ cgroup: { path: '/m' }, unifiedOnly: false });
    expect(parseCgroupFile('')).toEqual({ unifiedOnly: false });
  });
  it('prefers the unified path and finds no container on a host', () => {
    expect(parseCgroup('1:cpu:/\n0::/user.slice/session-1.scope\n')).toEqual({ path: '/user.slice/session-1.scope' });
    expect(parseCgroup('4:memory:/user.slice/abc0123456789abcdef0123456789abcd\n')).toEqual({
      path: '/user.slice/abc0123456789abcdef0123456789abcd',
    });
  });
  it.each([
    [`0::/system.slice/docker-${id}.scope`],
    [`0::/docker/${id}`],
    [`0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-${id}.scope`],
    [`0::/machine.slice/libpod-${id}.scope/container`],
    [`0::/kubepods/besteffort/pod7/crio-${id}.scope`],
  ])('finds the container id in %s', (line) => {
    expect(parseCgroup(`${line}\n`)?.containerId).toBe(id);
  });
  it('looks at v1 lines when the unified path has none', () => {
    expect(parseCgroup(`12:pids:/docker/${id}\n0::/\n`)).toEqual({
      path: '/',
      containerId: id,
      containerRuntime: 'docker',
    });
  });
  it('returns undefined for empty input', () => {
    expect(parseCgroup('')).toBeUndefined();
  });
  it('splits lines into id, controllers and path, keeping colons in the path', () => {
    expect(parseCgroupLines('9:name=systemd:/\n2:cpu,cpuacct:/a:b\nbad\n0::/x\n')).toEqual([
      { id: '9', controllers: 'name=systemd', path: '/' },
      { id: '2', controllers: 'cpu,cpuacct', path: '/a:b' },
      { id: '0', controllers: '', path: '/x' },
    ]);
    expect(containerIdIn(`/docker/${id}/sub`)).toBe(id);
    expect(containerIdIn('/system.slice/ssh.service')).toBeUndefined();
    expect(cgroupInfo([])).toBeUndefined();
  });
});

describe('containerOf: cgroup paths as each runtime writes them', () => {
  const id = '4f3c2a1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a';
  const uid = '0b2f1d6a-8c4e-4a1f-9d0e-1c2b3a4d5e6f';
  const uidSystemd = uid.replaceAll('-', '_');
  it.each([
    // docker: cgroupfs driver (v1 and v2) and systemd driver (v2 scope, v1 name=systemd line)
    ['docker v1 cgroupfs', `/docker/${id}`, { runtime: 'docker', id }],
    ['docker v2 systemd', `/system.slice/docker-${id}.scope`, { runtime: 'docker', id }],
    ['docker v1 systemd', `/system.slice/docker-${id}.scope`, { runtime: 'docker', id }],
    // containerd under Kubernetes: systemd driver names the scope; cgroupfs driver a bare id under the pod
    [
      'containerd v2 systemd (k8s)',
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uidSystemd}.slice/cri-containerd-${id}.scope`,
      { runtime: 'containerd', id, podUid: uid },
    ],
    ['k8s v1 cgroupfs', `/kubepods/burstable/pod${uid}/${id}`, { runtime: 'cri', id, podUid: uid }],
    [
      'k8s guaranteed v2 systemd',
      `/kubepods.slice/kubepods-pod${uidSystemd}.slice/cri-containerd-${id}.scope`,
      {
        runtime: 'containerd',
        id,
        podUid: uid,
      },
    ],
    // CRI-O: the container's scope; its conmon monitor sits in the pod but outside the container
    [
      'cri-o v2 systemd',
      `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uidSystemd}.slice/crio-${id}.scope`,
      { runtime: 'cri-o', id, podUid: uid },
    ],
    [
      'cri-o conmon',
      `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uidSystemd}.slice/crio-conmon-${id}.scope`,
      { runtime: 'cri', podUid: uid },
    ],
    ['cri-o v1 cgroupfs', `/kubepods/besteffort/pod${uid}/crio-${id}`, { runtime: 'cri-o', id, podUid: uid }],
    // podman: rootful and rootless systemd scopes, cgroupfs parent
    ['podman v2 rootful', `/machine.slice/libpod-${id}.scope/container`, { runtime: 'podman', id }],
    [
      'podman v2 rootless',
      `/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${id}.scope`,
      { runtime: 'podman', id },
    ],
    ['podman v1 cgroupfs', `/libpod_parent/libpod-${id}`, { runtime: 'podman', id }],
    // LXC
    ['lxc v2', '/lxc.payload.web01', { runtime: 'lxc', id: 'web01' }],
    ['lxc v1', '/lxc/web01', { runtime: 'lxc', id: 'web01' }],
  ])('%s', (_name, path, expected) => {
    expect(containerOf(path)).toEqual(expected);
  });

  it.each([
    '/',
    '/user.slice/user-1000.slice/session-2.scope',
    '/system.slice/docker.service',
    `/machine.slice/libpod-conmon-${id}.scope`,
    '/system.slice/containerd.service',
  ])('names no container for the host path %s', (path) => {
    expect(containerOf(path)).toBeUndefined();
  });

  it('reads the runtime from a v1 line when the unified line is the root', () => {
    expect(
      parseCgroup(`12:pids:/system.slice/docker-${id}.scope\n1:name=systemd:/system.slice/docker-${id}.scope\n0::/\n`),
    ).toEqual({
      path: '/',
      containerId: id,
      containerRuntime: 'docker',
    });
  });
});

describe('parseCgroupMounts', () => {
  it('lists cgroup and cgroup2 mounts with root, mount point and super options', () => {
    const text = [
      '22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw',
      '30 22 0:26 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate',
      '31 22 0:27 / /sys/fs/cgroup/cpu,cpuacct rw shared:10 master:3 - cgroup cgroup rw,cpu,cpuacct',
      '32 22 0:28 /docker/abc /mnt/my\\040cgroups rw - cgroup cgroup rw,xattr,name=systemd',
      'garbage',
    ].join('\n');
    expect(parseCgroupMounts(text)).toEqual([
      { fsType: 'cgroup2', root: '/', mountPoint: '/sys/fs/cgroup/unified', superOptions: ['rw', 'nsdelegate'] },
      { fsType: 'cgroup', root: '/', mountPoint: '/sys/fs/cgroup/cpu,cpuacct', superOptions: ['rw', 'cpu', 'cpuacct'] },
      {
        fsType: 'cgroup',
        root: '/docker/abc',
        mountPoint: '/mnt/my cgroups',
        superOptions: ['rw', 'xattr', 'name=systemd'],
      },
    ]);
  });
});

describe('boot time, uptime, passwd, names', () => {
  it('parses btime and uptime', () => {
    expect(parseBootTime('cpu  1 2 3\nbtime 1795781991\nprocesses 9\n')).toBe(1795781991);
    expect(parseBootTime('cpu 1\n')).toBeUndefined();
    expect(parseUptime('369.42 680.97\n')).toBe(369.42);
  });
  it('maps uids to the first name', () => {
    const users = parsePasswd(
      'root:x:0:0:root:/root:/bin/bash\n# c\ntoor:x:0:0::/:/bin/sh\nnobody:x:65534:65534::/:/x\n',
    );
    expect([...users]).toEqual([
      [0, 'root'],
      [65534, 'nobody'],
    ]);
  });
  it('uses the executable name only when comm was truncated', () => {
    expect(processName('sleep', '/usr/bin/sleep')).toBe('sleep');
    expect(processName('systemd-journal', '/usr/lib/systemd/systemd-journald')).toBe('systemd-journald');
    expect(processName('abcdefghijklmno', '/usr/bin/other')).toBe('abcdefghijklmno');
  });
});
