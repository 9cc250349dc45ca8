/**
 * Topics and topic patterns. Every event has one topic, a dotted path: `events.process.<subtype>`,
 * `events.network.<state>`, `events.filesystem.<operation>`, `events.performance.<component>`,
 * `control.trigger.request` and `events.analysis.result`. A pattern matches topics segment by segment;
 * `+` matches exactly one segment and `#`, allowed only as the last segment, matches one or more
 * remaining segments. This module names and matches; it does not deliver anything.
 */
import type { CollectionEvent } from '@daemoneye/core';
import { busErrors } from './errors.ts';

const SEGMENT = /^[A-Za-z0-9_-]+$/;

/** A topic segment made from free text (a network state, a component name): lowercase, safe characters. */
function segment(text: string): string {
  const s = text.toLowerCase().replace(/[^a-z0-9_-]/g, '_');
  return s === '' ? 'unknown' : s;
}

const cache = new Map<string, string>();
function cached(prefix: string, part: string): string {
  const key = `${prefix}\u0000${part}`;
  let topic = cache.get(key);
  if (topic === undefined) {
    topic = `${prefix}.${segment(part)}`;
    if (cache.size < 4096) cache.set(key, topic);
  }
  return topic;
}

/** The topic an event is published on. */
export function topicOf(event: CollectionEvent): string {
  switch (event.kind) {
    case 'process':
      return cached('events.process', event.subtype);
    case 'network':
      return cached('events.network', event.state);
    case 'filesystem':
      return cached('events.filesystem', event.operation);
    case 'performance':
      return cached('events.performance', event.component);
    case 'trigger_request':
      return 'control.trigger.request';
    case 'analysis_result':
      return 'events.analysis.result';
  }
}

/** A compiled topic pattern. */
export interface TopicPattern {
  readonly pattern: string;
  matches(topic: string): boolean;
}

/**
 * Checks and compiles a pattern. Throws `ERR_BUS_TOPIC_INVALID` for an empty pattern or segment, a
 * `#` that is not the last segment, a wildcard mixed with other characters in one segment, or a
 * character outside letters, digits, `_` and `-`.
 */
export function compileTopicPattern(pattern: string): TopicPattern {
  if (typeof pattern !== 'string' || pattern === '') {
    throw busErrors.error(
      'ERR_BUS_TOPIC_INVALID',
      `a topic pattern must be a non-empty string, got ${JSON.stringify(pattern)}`,
    );
  }
  const parts = pattern.split('.');
  parts.forEach((p, i) => {
    const where = `segment ${i + 1} of topic pattern "${pattern}"`;
    if (p === '#') {
      if (i !== parts.length - 1)
        throw busErrors.error('ERR_BUS_TOPIC_INVALID', `${where}: "#" must be the last segment`);
      return;
    }
    if (p === '+') return;
    if (p === '') throw busErrors.error('ERR_BUS_TOPIC_INVALID', `${where} is empty`);
    if (p.includes('#') || p.includes('+')) {
      throw busErrors.error('ERR_BUS_TOPIC_INVALID', `${where}: a wildcard must be a whole segment, got "${p}"`);
    }
    if (!SEGMENT.test(p)) {
      throw busErrors.error('ERR_BUS_TOPIC_INVALID', `${where}: "${p}" may hold only letters, digits, "_" and "-"`);
    }
  });
  const multi = parts[parts.length - 1] === '#';
  const fixed = multi ? parts.slice(0, -1) : parts;
  const matches = (topic: string): boolean => {
    const t = topic.split('.');
    if (multi ? t.length <= fixed.length : t.length !== fixed.length) return false;
    for (let i = 0; i < fixed.length; i++) {
      if (fixed[i] !== '+' && fixed[i] !== t[i]) return false;
    }
    return true;
  };
  return { pattern, matches };
}
