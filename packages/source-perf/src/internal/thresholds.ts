/**
 * Thresholds: a bound on a metric (`max`: crossed above the limit, `min`: below it) that must be
 * exceeded for a hold time before a `threshold_crossed` event, and be back within the bound for the
 * same hold time before a `recovered` event, so a value hovering at the limit does not flap. Rules are
 * written `METRIC[@INSTANCE] > LIMIT [for DURATION]` (or `<`) in configuration. Pure: samples and a
 * clock in, transitions out.
 */
import { parseDuration } from '@daemoneye/core';
import { perfErrors } from '../errors.ts';
import type { PerfSample } from './proc-sampler.ts';

/** One rule. Without `instance` it applies to every instance of the metric separately. */
export interface ThresholdRule {
  readonly metric: string;
  readonly instance?: string;
  readonly bound: 'min' | 'max';
  readonly limit: number;
  readonly holdMs: number;
}

/** A rule changing state on one sample. */
export interface ThresholdTransition {
  readonly subtype: 'threshold_crossed' | 'recovered';
  readonly rule: ThresholdRule;
  readonly sample: PerfSample;
}

const RULE = /^\s*([a-z0-9_.]+)(?:@([A-Za-z0-9_.:-]+))?\s*(<|>)\s*(-?\d+(?:\.\d+)?)\s*(?:for\s+(\S+))?\s*$/;

/** Parses `cpu.usage > 90 for 30s`; throws `ERR_PERF_THRESHOLD_INVALID` naming the text. */
export function parseThresholdRule(text: string): ThresholdRule {
  const m = RULE.exec(text);
  if (m === null) {
    throw perfErrors.error(
      'ERR_PERF_THRESHOLD_INVALID',
      `threshold ${JSON.stringify(text)} must look like "METRIC[@INSTANCE] > LIMIT [for DURATION]" or use "<"`,
      { details: { value: text } },
    );
  }
  const holdMs = m[5] === undefined ? 0 : parseDuration(m[5]);
  if (holdMs === undefined) {
    throw perfErrors.error(
      'ERR_PERF_THRESHOLD_INVALID',
      `threshold ${JSON.stringify(text)} has a bad hold time ${JSON.stringify(m[5])}`,
      {
        details: { value: text },
      },
    );
  }
  return {
    metric: m[1] ?? '',
    ...(m[2] === undefined ? {} : { instance: m[2] }),
    bound: m[3] === '>' ? 'max' : 'min',
    limit: Number(m[4]),
    holdMs,
  };
}

/** Checks a rule given in code; throws `ERR_PERF_THRESHOLD_INVALID`. */
export function checkThresholdRule(rule: ThresholdRule): ThresholdRule {
  const ok =
    typeof rule.metric === 'string' &&
    rule.metric !== '' &&
    (rule.bound === 'min' || rule.bound === 'max') &&
    Number.isFinite(rule.limit) &&
    Number.isInteger(rule.holdMs) &&
    rule.holdMs >= 0;
  if (!ok) {
    throw perfErrors.error(
      'ERR_PERF_THRESHOLD_INVALID',
      `threshold rule ${JSON.stringify(rule)} needs a metric, min or max, a finite limit and a hold >= 0 ms`,
      {
        details: { value: JSON.stringify(rule) },
      },
    );
  }
  return rule;
}

interface State {
  readonly metric: string;
  readonly instance: string | undefined;
  /** Whether the bound is currently reported crossed. */
  active: boolean;
  /** Since when the value has been on the other side (undefined: it is not). */
  since: number | undefined;
}

/** Evaluates rules against successive samples. */
export class ThresholdEvaluator {
  readonly #rules: readonly ThresholdRule[];
  readonly #state = new Map<string, State>();

  constructor(rules: readonly ThresholdRule[]) {
    this.#rules = rules;
  }

  /** The transitions the samples taken at `nowMs` cause. */
  evaluate(samples: readonly PerfSample[], nowMs: number): ThresholdTransition[] {
    const out: ThresholdTransition[] = [];
    if (this.#rules.length === 0) return out;
    const seen = new Set<string>();
    const metrics = new Set(samples.map((s) => s.metricName));
    for (const sample of samples) {
      this.#rules.forEach((rule, i) => {
        if (rule.metric !== sample.metricName) return;
        if (rule.instance !== undefined && rule.instance !== sample.instance) return;
        const key = `${i}\u0000${sample.instance ?? ''}`;
        seen.add(key);
        let st = this.#state.get(key);
        if (st === undefined) {
          st = { metric: sample.metricName, instance: sample.instance, active: false, since: undefined };
          this.#state.set(key, st);
        }
        const beyond = rule.bound === 'max' ? sample.value > rule.limit : sample.value < rule.limit;
        // "Other side": beyond the bound while not active, within it while active.
        if (beyond !== st.active) {
          st.since ??= nowMs;
          if (nowMs - st.since >= rule.holdMs) {
            st.active = beyond;
            st.since = undefined;
            out.push({ subtype: beyond ? 'threshold_crossed' : 'recovered', rule, sample });
          }
        } else {
          st.since = undefined;
        }
      });
    }
    // An instance of a sampled metric that is gone (a process that exited) is forgotten, silently.
    for (const [key, st] of this.#state) if (metrics.has(st.metric) && !seen.has(key)) this.#state.delete(key);
    return out;
  }

  /** The instances of `metric` currently reported crossed (pids, for the per-process metrics). */
  crossed(metric: string): string[] {
    const out: string[] = [];
    for (const st of this.#state.values())
      if (st.active && st.metric === metric && st.instance !== undefined) out.push(st.instance);
    return out;
  }
}
