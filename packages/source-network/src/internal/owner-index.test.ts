import { describe, expect, it } from 'vitest';
import { type FdTablePort, OwnerIndex } from './owner-index.ts';

interface FakeProc {
  start: string;
  comm: string;
  fds: Record<string, string> | number;
}

/** A /proc of fake processes that counts every link it is asked to read. */
function fakeProc(procs: Map<number, FakeProc>): FdTablePort & { links: number; listings: number } {
  const port = {
    links: 0,
    listings: 0,
    listPids: () => [...procs.keys()],
    startTime: (pid: number) => procs.get(pid)?.start,
    comm: (pid: number) => procs.get(pid)?.comm,
    listFds(pid: number) {
      port.listings++;
      const p = procs.get(pid);
      if (p === undefined) return -2;
      return typeof p.fds === 'number' ? p.fds : Object.keys(p.fds);
    },
    readLink(pid: number, fd: string) {
      port.links++;
      const p = procs.get(pid);
      return p === undefined || typeof p.fds === 'number' ? undefined : p.fds[fd];
    },
  };
  return port;
}

describe('OwnerIndex', () => {
  it('walks once, then answers known inodes without touching /proc', () => {
    const procs = new Map<number, FakeProc>([
      [10, { start: '100', comm: 'nginx', fds: { '0': '/dev/null', '3': 'socket:[501]', '4': 'socket:[502]' } }],
      [11, { start: '200', comm: 'curl', fds: { '3': 'socket:[601]', '5': 'pipe:[9]' } }],
    ]);
    const port = fakeProc(procs);
    const index = new OwnerIndex(port);
    const first = index.lookup([501, 502, 601]);
    expect([...first.owners]).toEqual([
      [501, { pid: 10, name: 'nginx' }],
      [502, { pid: 10, name: 'nginx' }],
      [601, { pid: 11, name: 'curl' }],
    ]);
    expect(first).toMatchObject({ walked: true, linksRead: 5 });
    port.links = 0;
    port.listings = 0;
    const again = index.lookup([501, 601]);
    expect(again).toMatchObject({ walked: false, linksRead: 0, pidsListed: 0 });
    expect(again.owners.get(601)).toEqual({ pid: 11, name: 'curl' });
    expect(port.links + port.listings).toBe(0);
  });

  it('reads only the links of new fds and new processes when an unknown inode appears', () => {
    const nginx: FakeProc = { start: '100', comm: 'nginx', fds: { '3': 'socket:[501]' } };
    const procs = new Map<number, FakeProc>([[10, nginx]]);
    const port = fakeProc(procs);
    const index = new OwnerIndex(port);
    index.lookup([501]);
    (nginx.fds as Record<string, string>)['7'] = 'socket:[503]';
    procs.set(12, { start: '300', comm: 'sshd', fds: { '4': 'socket:[700]' } });
    port.links = 0;
    const r = index.lookup([501, 503, 700]);
    expect(port.links).toBe(2);
    expect(r.owners.get(503)).toEqual({ pid: 10, name: 'nginx' });
    expect(r.owners.get(700)).toEqual({ pid: 12, name: 'sshd' });
  });

  it('finds a socket on a reused fd number, and a new process behind a reused pid', () => {
    const procs = new Map<number, FakeProc>([[10, { start: '100', comm: 'old', fds: { '3': '/etc/hosts' } }]]);
    const index = new OwnerIndex(fakeProc(procs));
    expect(index.lookup([]).owners.size).toBe(0);
    index.lookup([999]);
    (procs.get(10) as FakeProc).fds = { '3': 'socket:[801]' };
    expect(index.lookup([801]).owners.get(801)).toEqual({ pid: 10, name: 'old' });
    procs.set(10, { start: '555', comm: 'new', fds: { '3': 'socket:[802]' } });
    const r = index.lookup([802]);
    expect(r.owners.get(802)).toEqual({ pid: 10, name: 'new' });
    expect(r.owners.has(801)).toBe(false);
  });

  it('says why an inode has no owner and does not search again for it', () => {
    const procs = new Map<number, FakeProc>([
      [1, { start: '1', comm: 'init', fds: -13 }],
      [20, { start: '9', comm: 'app', fds: { '3': 'socket:[42]' } }],
    ]);
    const port = fakeProc(procs);
    const index = new OwnerIndex(port);
    const r = index.lookup([42, 4242]);
    expect(r.owners.get(42)).toEqual({ pid: 20, name: 'app' });
    expect([...r.missing]).toEqual([[4242, 'not_permitted']]);
    port.listings = 0;
    expect(index.lookup([42, 4242])).toMatchObject({ walked: false });
    expect(port.listings).toBe(0);
    procs.delete(1);
    const open = new OwnerIndex(fakeProc(procs));
    expect([...open.lookup([4243]).missing]).toEqual([[4243, 'not_found']]);
  });

  it('forgets processes that exited', () => {
    const procs = new Map<number, FakeProc>([[30, { start: '1', comm: 'gone', fds: { '3': 'socket:[90]' } }]]);
    const index = new OwnerIndex(fakeProc(procs));
    index.lookup([90]);
    procs.delete(30);
    procs.set(31, { start: '2', comm: 'heir', fds: { '3': 'socket:[91]' } });
    expect(index.lookup([91]).owners.get(91)).toEqual({ pid: 31, name: 'heir' });
    expect(index.size).toEqual({ processes: 1, inodes: 1 });
  });
});
