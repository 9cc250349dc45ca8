/**
 * Subscription filters. An `EventFilter` selects by event kind, pid, minimum trigger priority, field
 * equality and the name of the source that sent the event; a `CorrelationFilter` selects analysis
 * traffic by correlation id, parent and root id, workflow stage and tags. Every criterion that is set
 * must hold; an unset one does not restrict. This module only decides; it keeps no state.
 */
import type { CollectionEvent, EventKind, TriggerPriority } from '@daemoneye/core';
import { EVENT_KINDS } from '@daemoneye/core';
import { busErrors } from './errors.ts';

/** Which events a subscription receives. */
export interface EventFilter {
  /** Only these kinds. */
  readonly kinds?: readonly EventKind[];
  /** Only events about these process ids (`CollectionEvent.pid`). */
  readonly pids?: readonly number[];
  /** Only events with a priority (trigger requests) at or above this one. */
  readonly minPriority?: TriggerPriority;
  /** Only events whose top-level fields (camelCase, as in the event) equal these values. */
  readonly fields?: Readonly<Record<string, string | number | boolean>>;
  /** Only events sent by these sources (the record's source: a source's or processor's name). */
  readonly sourceNames?: readonly string[];
}

/**
 * Which analysis traffic a subscription receives. Trigger requests carry these in their metadata
 * (`parent_id`, `root_id`, `workflow_stage`, `tags` as a comma-separated list); analysis results in
 * `correlationId`, `workflowId` (the root), `stageId` and `data.parent_id` / `data.tags`. Other events
 * carry none, so a correlation filter with any criterion excludes them.
 */
export interface CorrelationFilter {
  readonly correlationId?: string;
  readonly parentId?: string;
  readonly rootId?: string;
  readonly workflowStage?: string;
  /** Every one of these tags must be present. */
  readonly requiredTags?: readonly string[];
}

/** The correlation facts of an event, as a correlation filter sees them. */
export interface CorrelationFacts {
  readonly correlationId?: string;
  readonly parentId?: string;
  readonly rootId?: string;
  readonly workflowStage?: string;
  readonly tags: readonly string[];
}

function tagList(value: unknown): string[] {
  if (typeof value === 'string')
    return value
      .split(',')
      .map((t) => t.trim())
      .filter((t) => t !== '');
  if (Array.isArray(value)) return value.filter((t): t is string => typeof t === 'string');
  return [];
}

function opt<K extends string>(key: K, value: unknown): { [P in K]?: string } {
  return (typeof value === 'string' ? { [key]: value } : {}) as { [P in K]?: string };
}

/** The correlation facts of `event` (none for source events). */
export function correlationOf(event: CollectionEvent): CorrelationFacts | undefined {
  if (event.kind === 'trigger_request') {
    const m = event.metadata;
    return {
      correlationId: event.correlationId,
      ...opt('parentId', m.parent_id),
      ...opt('rootId', m.root_id),
      ...opt('workflowStage', m.workflow_stage),
      tags: tagList(m.tags),
    };
  }
  if (event.kind === 'analysis_result') {
    return {
      ...opt('correlationId', event.correlationId),
      ...opt('parentId', event.data.parent_id),
      ...opt('rootId', event.workflowId),
      ...opt('workflowStage', event.stageId),
      tags: tagList(event.data.tags),
    };
  }
  return undefined;
}

/** A compiled filter: true when the event (sent by `source`) passes. */
export type EventPredicate = (event: CollectionEvent, source: string) => boolean;

function checkList<T>(name: string, list: readonly T[] | undefined, ok: (x: T) => boolean): void {
  if (list === undefined) return;
  if (!Array.isArray(list) || !list.every(ok)) {
    throw busErrors.error(
      'ERR_BUS_SUBSCRIPTION_INVALID',
      `filter.${name} must be a list of valid values, got ${JSON.stringify(list)}`,
    );
  }
}

/**
 * Compiles the two filters into one predicate; `undefined` when neither restricts anything. Throws
 * `ERR_BUS_SUBSCRIPTION_INVALID` for an unknown kind, a pid that is not a non-negative integer, a
 * priority outside 0–3, or a field value that is not a string, number or boolean.
 */
export function compileFilters(filter?: EventFilter, correlation?: CorrelationFilter): EventPredicate | undefined {
  const tests: EventPredicate[] = [];
  if (filter !== undefined) {
    checkList('kinds', filter.kinds, (k) => EVENT_KINDS.includes(k));
    checkList('pids', filter.pids, (p) => Number.isInteger(p) && p >= 0);
    checkList('sourceNames', filter.sourceNames, (s) => typeof s === 'string');
    if (filter.kinds !== undefined) {
      const kinds = new Set(filter.kinds);
      tests.push((e) => kinds.has(e.kind));
    }
    if (filter.pids !== undefined) {
      const pids = new Set(filter.pids);
      tests.push((e) => {
        const pid = e.kind === 'trigger_request' ? e.targetPid : e.kind === 'analysis_result' ? undefined : e.pid;
        return pid !== undefined && pids.has(pid);
      });
    }
    if (filter.minPriority !== undefined) {
      const min = filter.minPriority;
      if (!Number.isInteger(min) || min < 0 || min > 3) {
        throw busErrors.error(
          'ERR_BUS_SUBSCRIPTION_INVALID',
          `filter.minPriority must be 0–3 (TriggerPriority), got ${min}`,
        );
      }
      tests.push((e) => e.kind === 'trigger_request' && e.priority >= min);
    }
    if (filter.fields !== undefined) {
      const entries = Object.entries(filter.fields);
      for (const [k, v] of entries) {
        if (!['string', 'number', 'boolean'].includes(typeof v)) {
          throw busErrors.error(
            'ERR_BUS_SUBSCRIPTION_INVALID',
            `filter.fields.${k} must be a string, number or boolean`,
          );
        }
      }
      tests.push((e) => {
        const rec = e as unknown as Record<string, unknown>;
        for (const [k, v] of entries) if (rec[k] !== v) return false;
        return true;
      });
    }
    if (filter.sourceNames !== undefined) {
      const names = new Set(filter.sourceNames);
      tests.push((_, source) => names.has(source));
    }
  }
  if (correlation !== undefined) {
    const c = correlation;
    const wanted = c.requiredTags ?? [];
    checkList('requiredTags', c.requiredTags, (t) => typeof t === 'string');
    const any =
      c.correlationId !== undefined ||
      c.parentId !== undefined ||
      c.rootId !== undefined ||
      c.workflowStage !== undefined ||
      wanted.length > 0;
    if (any) {
      tests.push((e) => {
        const f = correlationOf(e);
        if (f === undefined) return false;
        if (c.correlationId !== undefined && f.correlationId !== c.correlationId) return false;
        if (c.parentId !== undefined && f.parentId !== c.parentId) return false;
        if (c.rootId !== undefined && f.rootId !== c.rootId) return false;
        if (c.workflowStage !== undefined && f.workflowStage !== c.workflowStage) return false;
        for (const t of wanted) if (!f.tags.includes(t)) return false;
        return true;
      });
    }
  }
  if (tests.length === 0) return undefined;
  if (tests.length === 1) return tests[0];
  return (e, s) => {
    for (const t of tests) if (!t(e, s)) return false;
    return true;
  };
}
