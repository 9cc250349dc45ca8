/**
 * An index of compiled conditions by their necessary tests (`CompiledCondition.hints`): a condition
 * that needs `name = 'nc'` (or `name IN (...)`) sits in the bucket of those values, one that needs
 * `executable_path GLOB '/tmp/*'` in the bucket of its first three characters; the rest are always
 * evaluated. For one event only the conditions that could be true are returned, so a large rule set
 * costs a few map lookups per event instead of one evaluation per rule. The index never decides a
 * match; every candidate is still evaluated in full.
 */
import type { CollectionEvent } from '@daemoneye/core';
import { COLUMNS, type EvalContext, type SqlValue } from './columns.ts';
import type { CompiledCondition } from './sql-condition.ts';
import { asciiLower } from './sql-runtime.ts';

const PREFIX_KEY = 3;

interface Lookup<T> {
  readonly read: (e: CollectionEvent, ctx: EvalContext) => SqlValue;
  readonly key: (v: SqlValue) => string | number | undefined;
  readonly buckets: Map<string | number, T[]>;
}

/** Conditions indexed by what they need. */
export class ConditionIndex<T> {
  readonly #always: T[] = [];
  readonly #lookups = new Map<string, Lookup<T>>();

  /** Adds an item whose condition is `compiled`. */
  add(item: T, compiled: CompiledCondition): void {
    const equal = compiled.hints.find((h) => h.kind === 'equal');
    const prefix = compiled.hints.find((h) => h.kind === 'prefix' && h.prefix.length >= PREFIX_KEY);
    const hint = equal ?? prefix;
    const column = hint === undefined ? undefined : COLUMNS[hint.column];
    if (hint === undefined || column === undefined) {
      this.#always.push(item);
      return;
    }
    if (hint.kind === 'equal') {
      const lookup = this.#lookup(`=${hint.column}`, column.read, (v) => (v === null ? undefined : v));
      for (const v of new Set(hint.values)) push(lookup.buckets, v, item);
      return;
    }
    const fold = hint.fold;
    const lookup = this.#lookup(`^${fold ? 'i' : 's'}${hint.column}`, column.read, (v) =>
      typeof v === 'string' && v.length >= PREFIX_KEY
        ? fold
          ? asciiLower(v.slice(0, PREFIX_KEY))
          : v.slice(0, PREFIX_KEY)
        : undefined,
    );
    push(lookup.buckets, hint.prefix.slice(0, PREFIX_KEY), item);
  }

  #lookup(id: string, read: Lookup<T>['read'], key: Lookup<T>['key']): Lookup<T> {
    let l = this.#lookups.get(id);
    if (l === undefined) {
      l = { read, key, buckets: new Map() };
      this.#lookups.set(id, l);
    }
    return l;
  }

  /** Calls `visit` for every item whose condition could be true for `e`. */
  candidates(e: CollectionEvent, ctx: EvalContext, visit: (item: T) => void): number {
    let n = 0;
    for (const item of this.#always) {
      visit(item);
      n++;
    }
    for (const l of this.#lookups.values()) {
      const k = l.key(l.read(e, ctx));
      if (k === undefined) continue;
      const bucket = l.buckets.get(k);
      if (bucket === undefined) continue;
      for (const item of bucket) {
        visit(item);
        n++;
      }
    }
    return n;
  }
}

function push<K, T>(map: Map<K, T[]>, key: K, item: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [item]);
  else list.push(item);
}
