/**
 * An index of compiled conditions by their hints (`CompiledCondition.hints`, a disjunction of tests a
 * condition cannot be true without). A condition that needs `name = 'nc'` (or `name IN (...)`,
 * `lower(name) = 'nc'`) sits in the buckets of those values; one that needs `executable_path LIKE
 * '/tmp/%'` in a character trie of prefixes; one that needs `command_line LIKE '%--evil%'` in a list of
 * texts searched with one combined regular expression first; an OR sits under every operand's hint;
 * conditions without hints are always evaluated. For one event only the conditions whose hint can hold
 * are returned, each at most once, so a large rule set costs a few lookups per event instead of one
 * evaluation per rule. The index never decides a match: every candidate is still evaluated in full,
 * and every lookup here lets through at least what its hint admits.
 */
import type { CollectionEvent } from '@daemoneye/core';
import { COLUMNS, type EvalContext, type SqlValue } from './columns.ts';
import type { CompiledCondition, IndexHint } from './sql-condition.ts';
import { asciiLower } from './sql-runtime.ts';

type Read = (e: CollectionEvent, ctx: EvalContext) => SqlValue;

interface Entry<T> {
  readonly item: T;
  /** The event number this entry was last returned for: an entry under several hints is visited once. */
  stamp: number;
}

interface EqualLookup<T> {
  readonly read: Read;
  readonly fold: boolean;
  readonly buckets: Map<string | number, Entry<T>[]>;
}

interface TrieNode<T> {
  readonly entries: Entry<T>[];
  readonly next: Map<number, TrieNode<T>>;
}

interface PrefixLookup<T> {
  readonly read: Read;
  readonly fold: boolean;
  readonly root: TrieNode<T>;
}

interface ContainsLookup<T> {
  readonly read: Read;
  readonly fold: boolean;
  readonly texts: Map<string, Entry<T>[]>;
  /** Matches when any of `texts` occurs (case-insensitively when `fold`): a filter before the exact tests. */
  any: RegExp;
}

const REGEXP_SPECIAL = /[\\^$.*+?()[\]{}|/-]/g;
const lowerCode = (c: number): number => (c >= 65 && c <= 90 ? c + 32 : c);

/** Conditions indexed by what they need. */
export class ConditionIndex<T> {
  readonly #always: Entry<T>[] = [];
  readonly #equal = new Map<string, EqualLookup<T>>();
  readonly #prefix = new Map<string, PrefixLookup<T>>();
  readonly #contains = new Map<string, ContainsLookup<T>>();
  #equalList: EqualLookup<T>[] = [];
  #prefixList: PrefixLookup<T>[] = [];
  #containsList: ContainsLookup<T>[] = [];
  #stamp = 0;

  /** Adds an item whose condition is `compiled`. */
  add(item: T, compiled: CompiledCondition): void {
    const entry: Entry<T> = { item, stamp: 0 };
    const hints = compiled.hints;
    if (hints.length === 0 || hints.some((h) => COLUMNS[h.column] === undefined)) {
      this.#always.push(entry);
      return;
    }
    for (const h of hints) this.#addHint(entry, h);
  }

  #addHint(entry: Entry<T>, h: IndexHint): void {
    const read = (COLUMNS[h.column] as { read: Read }).read;
    const fold = h.kind === 'equal' ? h.fold === true : h.fold;
    const id = `${fold ? 'i' : 's'}${h.column}`;
    if (h.kind === 'equal') {
      let l = this.#equal.get(id);
      if (l === undefined) {
        l = { read, fold, buckets: new Map() };
        this.#equal.set(id, l);
        this.#equalList = [...this.#equal.values()];
      }
      for (const v of new Set(h.values)) push(l.buckets, v, entry);
    } else if (h.kind === 'prefix') {
      let l = this.#prefix.get(id);
      if (l === undefined) {
        l = { read, fold, root: { entries: [], next: new Map() } };
        this.#prefix.set(id, l);
        this.#prefixList = [...this.#prefix.values()];
      }
      let node = l.root;
      for (let i = 0; i < h.prefix.length; i++) {
        const c = fold ? lowerCode(h.prefix.charCodeAt(i)) : h.prefix.charCodeAt(i);
        let child = node.next.get(c);
        if (child === undefined) {
          child = { entries: [], next: new Map() };
          node.next.set(c, child);
        }
        node = child;
      }
      node.entries.push(entry);
    } else {
      let l = this.#contains.get(id);
      if (l === undefined) {
        l = { read, fold, texts: new Map(), any: /(?!)/ };
        this.#contains.set(id, l);
        this.#containsList = [...this.#contains.values()];
      }
      push(l.texts, fold ? asciiLower(h.text) : h.text, entry);
      const alternatives = [...l.texts.keys()].map((t) => t.replace(REGEXP_SPECIAL, '\\$&'));
      // Without the u flag, i folds ASCII letters only as far as these texts go (they are ASCII when
      // folded); the exact test below decides.
      l.any = new RegExp(alternatives.join('|'), fold ? 'i' : '');
    }
  }

  /** Calls `visit` once for every item whose condition could be true for `e`; returns how many. */
  candidates(e: CollectionEvent, ctx: EvalContext, visit: (item: T) => void): number {
    const stamp = ++this.#stamp;
    let n = 0;
    const always = this.#always;
    for (let i = 0; i < always.length; i++) visit((always[i] as Entry<T>).item);
    n += always.length;
    const equal = this.#equalList;
    for (let i = 0; i < equal.length; i++) {
      const l = equal[i] as EqualLookup<T>;
      let v = l.read(e, ctx);
      if (v === null) continue;
      if (l.fold) {
        if (typeof v !== 'string') continue;
        v = asciiLower(v);
      }
      const bucket = l.buckets.get(v);
      if (bucket !== undefined) n += visitAll(bucket, stamp, visit);
    }
    const prefix = this.#prefixList;
    for (let i = 0; i < prefix.length; i++) {
      const l = prefix[i] as PrefixLookup<T>;
      const v = l.read(e, ctx);
      if (typeof v !== 'string') continue;
      let node: TrieNode<T> | undefined = l.root;
      for (let j = 0; node !== undefined; j++) {
        if (node.entries.length > 0) n += visitAll(node.entries, stamp, visit);
        if (j >= v.length) break;
        const c = v.charCodeAt(j);
        node = node.next.get(l.fold ? lowerCode(c) : c);
      }
    }
    const contains = this.#containsList;
    for (let i = 0; i < contains.length; i++) {
      const l = contains[i] as ContainsLookup<T>;
      const v = l.read(e, ctx);
      if (typeof v !== 'string' || !l.any.test(v)) continue;
      const hay = l.fold ? asciiLower(v) : v;
      for (const [text, entries] of l.texts) if (hay.includes(text)) n += visitAll(entries, stamp, visit);
    }
    return n;
  }
}

function visitAll<T>(entries: readonly Entry<T>[], stamp: number, visit: (item: T) => void): number {
  let n = 0;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as Entry<T>;
    if (entry.stamp === stamp) continue;
    entry.stamp = stamp;
    visit(entry.item);
    n++;
  }
  return n;
}

function push<K, T>(map: Map<K, T[]>, key: K, item: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [item]);
  else list.push(item);
}
