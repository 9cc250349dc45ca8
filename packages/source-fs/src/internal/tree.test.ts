import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Tree } from './tree.ts';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'de-tree-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const none = (): boolean => false;

describe('Tree', () => {
  it('walks a tree parents first, skipping excluded directories', async () => {
    mkdirSync(join(dir, 'a', 'b'), { recursive: true });
    mkdirSync(join(dir, 'skip'));
    writeFileSync(join(dir, 'a', 'b', 'f'), '');
    writeFileSync(join(dir, 'skip', 'g'), '');
    const tree = new Tree();
    const found: string[] = [];
    await tree.walk(dir, {
      excluded: (p) => p.endsWith('/skip'),
      onNew: (e) => found.push(`${e.path.slice(dir.length)}${e.isDir ? '/' : ''}`),
    });
    expect(found).toEqual(['/a/', '/a/b/', '/a/b/f']);
    expect(tree.has(join(dir, 'a', 'b', 'f'))).toBe(true);
    expect(tree.has(join(dir, 'skip'))).toBe(false);
    expect(tree.dirCount).toBe(3);
  });

  it('moves and removes subtrees', async () => {
    mkdirSync(join(dir, 'a', 'b'), { recursive: true });
    writeFileSync(join(dir, 'a', 'b', 'f'), '');
    const tree = new Tree();
    await tree.walk(dir, { excluded: none });
    expect(tree.move(join(dir, 'a'), join(dir, 'z'), true).sort()).toEqual([join(dir, 'z'), join(dir, 'z', 'b')]);
    expect(tree.has(join(dir, 'z', 'b', 'f'))).toBe(true);
    expect(tree.has(join(dir, 'a'))).toBe(false);
    expect(tree.remove(join(dir, 'z')).sort()).toEqual([join(dir, 'z'), join(dir, 'z', 'b')]);
    expect(tree.has(join(dir, 'z'))).toBe(false);
    expect(tree.dirCount).toBe(1);
  });

  it('rescan reports what appeared, what went and what changed since a time', async () => {
    mkdirSync(join(dir, 'keep'));
    writeFileSync(join(dir, 'keep', 'old'), '');
    writeFileSync(join(dir, 'keep', 'same'), '');
    writeFileSync(join(dir, 'gone'), '');
    const past = new Date(Date.now() - 60_000);
    utimesSync(join(dir, 'keep', 'same'), past, past);
    const tree = new Tree();
    await tree.walk(dir, { excluded: none });
    // File times come from the kernel's coarse clock (a tick behind): keep the changes well apart.
    await new Promise((r) => setTimeout(r, 100));
    const since = Date.now() - 20;
    rmSync(join(dir, 'gone'));
    mkdirSync(join(dir, 'new'));
    writeFileSync(join(dir, 'new', 'f'), '');
    writeFileSync(join(dir, 'keep', 'old'), 'changed');
    const r = await tree.rescan(dir, since, { excluded: none });
    expect(r.created).toEqual([
      { path: join(dir, 'new'), isDir: true },
      { path: join(dir, 'new', 'f'), isDir: false },
    ]);
    expect(r.deleted).toEqual([{ path: join(dir, 'gone'), isDir: false }]);
    expect(r.changed).toEqual([join(dir, 'keep', 'old')]);
    const again = await tree.rescan(dir, Date.now() + 1000, { excluded: none });
    expect(again).toEqual({ created: [], deleted: [], changed: [] });
  });

  it('keeps exact names in a walked listing: no prefix, suffix or substring matches, and changes after the walk', async () => {
    for (const n of ['a', 'ab', 'b.a', 'x y', 'ü']) writeFileSync(join(dir, n), '');
    const tree = new Tree();
    await tree.walk(dir, { excluded: none });
    expect(tree.entryCount()).toBe(5);
    for (const n of ['a', 'ab', 'b.a', 'x y', 'ü']) expect(tree.has(join(dir, n))).toBe(true);
    for (const n of ['b', 'a.b', '.a', 'x', 'y', 'u', 'a/b']) expect(tree.has(join(dir, n))).toBe(false);
    expect([...(tree.names(dir) ?? [])].sort()).toEqual(['a', 'ab', 'b.a', 'x y', 'ü']);

    tree.remove(join(dir, 'a'));
    tree.add(join(dir, 'b'), false);
    tree.add(join(dir, 'ab'), false);
    expect(tree.has(join(dir, 'a'))).toBe(false);
    expect(tree.has(join(dir, 'ab'))).toBe(true);
    expect(tree.has(join(dir, 'b'))).toBe(true);
    expect(tree.entryCount()).toBe(5);
    tree.move(join(dir, 'b'), join(dir, 'c'), false);
    expect([...(tree.names(dir) ?? [])].sort()).toEqual(['ab', 'b.a', 'c', 'x y', 'ü']);

    // A new empty directory and an empty walked one count nothing, and take entries later.
    mkdirSync(join(dir, 'empty'));
    await tree.walk(join(dir, 'empty'), { excluded: none });
    tree.add(join(dir, 'empty'), true);
    expect(tree.names(join(dir, 'empty'))).toEqual(new Set());
    tree.add(join(dir, 'empty', 'f'), false);
    expect(tree.has(join(dir, 'empty', 'f'))).toBe(true);
    expect(tree.entryCount()).toBe(7);

    // A rescan after all that still sees exactly the disk.
    const r = await tree.rescan(dir, Date.now() + 1000, { excluded: none });
    expect(r.created).toEqual([{ path: join(dir, 'a'), isDir: false }]);
    expect(r.deleted.map((e) => e.path).sort()).toEqual([join(dir, 'c'), join(dir, 'empty', 'f')]);
  });
});
