import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AnalysisResultEvent,
  batchOf,
  CollectionEvent,
  type DerivedEventSender,
  type EventProcessor,
  isCollectorError,
  loadConfig,
  pluginSchema,
  sectionOptions,
  silentLogger,
  type TriggerRequestEvent,
} from '@daemoneye/core';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AnalysisChainCoordinator } from './analysis-chain.ts';
import { DEFAULT_RULES } from './default-rules.ts';
import { analysisChainsDefinition } from './definition.ts';
import { TriggerManager } from './trigger-manager.ts';

const schema = pluginSchema([analysisChainsDefinition]);
const dir = mkdtempSync(join(tmpdir(), 'de-chains-def-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Builds the coordinator as the command does, from a collector.toml holding `toml`. */
function build(toml: string): AnalysisChainCoordinator {
  const file = join(dir, `collector-${Math.random().toString(36).slice(2)}.toml`);
  writeFileSync(file, toml);
  const loaded = loadConfig({ schema, systemFile: null, userFile: file, env: {} });
  const options = sectionOptions(loaded, 'processors.analysis_chains', analysisChainsDefinition.schema);
  return analysisChainsDefinition.create(options, {
    logger: silentLogger,
    dataDir: dir,
    originOf: () => ({ layer: 'default', source: 'built-in default' }),
  }) as AnalysisChainCoordinator;
}

function lane() {
  const out: CollectionEvent[] = [];
  const tx: DerivedEventSender = {
    emit: (e) => {
      out.push(e);
      return true;
    },
  };
  const requests = () => out.filter((e): e is TriggerRequestEvent => e.kind === 'trigger_request');
  const results = () => out.filter((e): e is AnalysisResultEvent => e.kind === 'analysis_result');
  return { tx, out, requests, results };
}

const deletedExe = CollectionEvent.process({
  subtype: 'snapshot',
  pid: 4242,
  ppid: 1,
  name: 'sleep',
  executablePath: '/tmp/x/sleep',
  accessible: false,
  fileExists: false,
  platformMetadata: { executableDeleted: true },
  timestamp: 1000,
});

const request = (over: Partial<Parameters<typeof CollectionEvent.triggerRequest>[0]> = {}) =>
  CollectionEvent.triggerRequest({
    triggerId: 'manual',
    targetCollector: 'analysis-chains',
    analysisType: 'Custom',
    priority: 1,
    targetPid: 7,
    correlationId: `req-${Math.random()}`,
    metadata: { workflow: 'slow' },
    ...over,
  });

const SLOW = `
[[workflows]]
id = "slow"
[[workflows.stages]]
id = "scan"
analysis_type = "YaraScan"
target_collector = "yara"
`;

describe('[processors.analysis_chains]', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('with the defaults: the default deleted-executable rule runs deleted-executable-triage to completion', () => {
    const chains = build('');
    expect(chains.name()).toBe('analysis-chains');
    expect(chains.workflows().map((w) => w.id)).toEqual(['deleted-executable-triage']);
    // The default rule addresses the coordinator; the workflow names the rule in its triggers.
    const manager = new TriggerManager();
    for (const r of DEFAULT_RULES) manager.registerCondition(r);
    const fromRules = lane();
    manager.process(batchOf([deletedExe], { firstSeq: 10 }), fromRules.tx);
    const trigger = fromRules.requests().find((r) => r.triggerId === 'deleted-executable');
    expect(trigger).toMatchObject({ targetCollector: 'analysis-chains', targetPid: 4242, targetPath: '/tmp/x/sleep' });
    expect(trigger?.metadata.workflow).toBeUndefined();

    const l = lane();
    chains.process(batchOf([trigger as TriggerRequestEvent], { firstSeq: 11 }), l.tx);
    expect(l.requests()).toHaveLength(1);
    const hash = l.requests()[0] as TriggerRequestEvent;
    expect(hash).toMatchObject({
      triggerId: 'deleted-executable-triage/hash',
      targetCollector: 'binary-hasher',
      analysisType: 'BinaryHash',
      priority: 2,
      targetPid: 4242,
      metadata: {
        workflow_id: 'deleted-executable-triage',
        workflow_stage: 'hash',
        attempt: '1',
        max_execution_ms: '60000',
      },
    });
    // The running image only: a file now at the path may be a replacement.
    expect(hash.targetPath).toBeUndefined();
    const data = { sha256: 'ab'.repeat(32), algorithm: 'sha256', path: '/proc/4242/exe', size: 10 };
    const answer = CollectionEvent.analysisResult({
      analysisType: 'BinaryHash',
      triggerId: hash.triggerId,
      correlationId: hash.correlationId,
      success: true,
      data,
    });
    chains.process(batchOf([answer], { firstSeq: 12 }), l.tx);
    expect(l.results()).toHaveLength(1);
    // The run took the request's correlation id: its final result answers the rule's request.
    expect(l.results()[0]).toMatchObject({
      analysisType: 'Custom',
      workflowId: 'deleted-executable-triage',
      correlationId: trigger?.correlationId,
      success: true,
      data: { status: 'completed', stages: { hash: 'succeeded' }, results: { hash: data }, target_pid: 4242 },
    });
    expect(chains.stats()).toMatchObject({ started: 1, completed: 1, refused: 0 });
  });

  it('builds the coordinator from typed options: timeouts, attempts, backoff, limit and history', () => {
    const file = join(dir, 'slow.toml');
    writeFileSync(file, SLOW);
    const chains = build(`[processors.analysis_chains]
default_workflows = false
workflows_file = "${file}"
stage_timeout = "1s"
max_attempts = 2
backoff_base = "500ms"
backoff_max = "700ms"
max_concurrent_workflows = 1
history_size = 1
workflow_timeout = "1h"
`);
    expect(chains.workflows().map((w) => w.id)).toEqual(['slow']);
    const l = lane();
    const sentAt: number[] = [];
    const tx: DerivedEventSender = {
      emit: (e, c) => {
        if (e.kind === 'trigger_request') sentAt.push(Date.now());
        return l.tx.emit(e, c);
      },
    };
    const t0 = Date.now();
    chains.process(batchOf([request(), request()]), tx);
    // The second request finds the one allowed run active.
    expect(chains.stats()).toMatchObject({ started: 1, refused: 1, active: 1 });
    vi.advanceTimersByTime(1000 + 500 + 1000);
    expect(sentAt.map((t) => t - t0)).toEqual([0, 1500]);
    expect(l.results()).toHaveLength(1);
    expect(l.results()[0]).toMatchObject({ success: false, data: { status: 'failed', stages: { scan: 'timed_out' } } });
    expect(l.requests().map((r) => r.metadata.max_execution_ms)).toEqual(['1000', '1000']);
    // A third attempt would come after min(700, 500·2) = 700 ms; two attempts were allowed.
    vi.advanceTimersByTime(5000);
    expect(l.requests()).toHaveLength(2);

    chains.process(batchOf([request()]), tx);
    vi.advanceTimersByTime(1000 + 500 + 1000);
    expect(chains.history()).toHaveLength(1);
    expect(chains.stats()).toMatchObject({ started: 2, failed: 2, active: 0 });
  });

  it('caps the backoff at backoff_max and times a run out at workflow_timeout', () => {
    const file = join(dir, 'slow2.toml');
    writeFileSync(file, SLOW);
    const chains = build(`[processors.analysis_chains]
default_workflows = false
workflows_file = "${file}"
stage_timeout = "100ms"
max_attempts = 4
backoff_base = "200ms"
backoff_max = "300ms"
workflow_timeout = "2s"
`);
    const sentAt: number[] = [];
    const l = lane();
    const t0 = Date.now();
    const tx: DerivedEventSender = {
      emit: (e, c) => {
        if (e.kind === 'trigger_request') sentAt.push(Date.now() - t0);
        return l.tx.emit(e, c);
      },
    };
    chains.process(batchOf([request()]), tx);
    vi.advanceTimersByTime(10_000);
    // attempt 1 at 0, times out at 100, waits 200; attempt 2 at 300, waits min(300, 400); attempt 3 at 700, …
    expect(sentAt).toEqual([0, 300, 700, 1100]);
    const long = build(`[processors.analysis_chains]
default_workflows = false
workflows_file = "${file}"
workflow_timeout = "2s"
`);
    const l2 = lane();
    long.process(batchOf([request()]), l2.tx);
    vi.advanceTimersByTime(1999);
    expect(l2.results()).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(l2.results()[0]).toMatchObject({ data: { status: 'timed_out' }, error: 'workflow timeout' });
  });

  it('stops at construction with the file, the workflow and the problem for a bad workflows file', () => {
    const file = join(dir, 'cycle.toml');
    writeFileSync(
      file,
      `[[workflows]]\nid = "loop"\ndependencies = { a = ["a"] }\n[[workflows.stages]]\nid = "a"\nanalysis_type = "BinaryHash"\ntarget_collector = "binary-hasher"\n`,
    );
    let caught: unknown;
    try {
      build(`[processors.analysis_chains]\nworkflows_file = "${file}"\n`);
    } catch (e) {
      caught = e;
    }
    expect(isCollectorError(caught, 'ERR_WORKFLOW_INVALID')).toBe(true);
    expect((caught as Error).message).toBe(`${file}: workflows[0] (id "loop"): has a dependency cycle: a → a`);
  });

  it('is a processor the command can compose', () => {
    const p: EventProcessor = build('[processors.analysis_chains]\ndefault_workflows = false\n');
    expect(p.name()).toBe('analysis-chains');
    expect((p as AnalysisChainCoordinator).workflows()).toEqual([]);
  });
});
