import {
  type AnalysisResultEvent,
  batchOf,
  CollectionEvent,
  type EventRecord,
  isCollectorError,
  type Logger,
  silentLogger,
  type TriggerRequestEvent,
} from '@daemoneye/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AnalysisChainCoordinator } from './analysis-chain.ts';
import type { AnalysisWorkflowDefinition } from './workflow.ts';

const cause: EventRecord = { seq: 77, runId: 'r', source: 'process', acceptedAt: 0, depth: 0 };
const threeStages: AnalysisWorkflowDefinition = {
  id: 'triage',
  stages: [
    { id: 'hash', analysisType: 'BinaryHash', targetCollector: 'binary-hasher' },
    { id: 'yara', analysisType: 'YaraScan', targetCollector: 'yara' },
    { id: 'behaviour', analysisType: 'BehavioralAnalysis', targetCollector: 'behaviour' },
  ],
  dependencies: { yara: ['hash'], behaviour: ['yara'] },
};

function harness(options: ConstructorParameters<typeof AnalysisChainCoordinator>[0] = {}) {
  const requests: TriggerRequestEvent[] = [];
  const finals: AnalysisResultEvent[] = [];
  const chain = new AnalysisChainCoordinator({
    ...options,
    dispatch: (e) => {
      if (e.kind === 'trigger_request') requests.push(e);
      else if (e.kind === 'analysis_result') finals.push(e);
      return true;
    },
  });
  const answer = (r: TriggerRequestEvent | undefined, success: boolean) =>
    chain.handleResult(
      CollectionEvent.analysisResult({
        analysisType: r?.analysisType ?? 'Custom',
        correlationId: r?.correlationId as string,
        success,
        ...(success ? { data: { ok: r?.metadata.workflow_stage } } : { error: 'scanner crashed' }),
      }),
    );
  return { chain, requests, finals, answer };
}

describe('AnalysisChainCoordinator', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs three stages in dependency order; a failing-then-succeeding stage completes via retry with backoff', async () => {
    const { chain, requests, finals, answer } = harness();
    chain.register(threeStages);
    const runId = chain.start('triage', { targetPid: 42, targetPath: '/tmp/x', cause });
    expect(requests.map((r) => r.metadata.workflow_stage)).toEqual(['hash']);
    expect(requests[0]).toMatchObject({
      kind: 'trigger_request',
      triggerId: 'triage/hash',
      targetCollector: 'binary-hasher',
      targetPid: 42,
      targetPath: '/tmp/x',
      metadata: { workflow_id: 'triage', root_id: runId, parent_id: '77', attempt: '1' },
    });
    expect(answer(requests[0], true)).toBe(true);
    expect(requests.map((r) => r.metadata.workflow_stage)).toEqual(['hash', 'yara']);
    expect(answer(requests[1], false)).toBe(true);
    expect(chain.status(runId)?.stages.yara).toMatchObject({
      status: 'retry_wait',
      attempts: 1,
      error: 'scanner crashed',
    });
    await vi.advanceTimersByTimeAsync(1999);
    expect(requests).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(requests.map((r) => r.metadata.attempt)).toEqual(['1', '1', '2']);
    expect(requests[2]?.correlationId).not.toBe(requests[1]?.correlationId);
    // An answer to the first, failed attempt no longer counts.
    expect(answer(requests[1], true)).toBe(false);
    answer(requests[2], true);
    expect(chain.status(runId)?.progress).toEqual({ done: 2, total: 3 });
    answer(requests[3], true);
    const done = await chain.finished(runId);
    expect(done.status).toBe('completed');
    expect(done.stages.yara).toMatchObject({ status: 'succeeded', attempts: 2, data: { ok: 'yara' } });
    expect(finals).toHaveLength(1);
    expect(finals[0]).toMatchObject({
      analysisType: 'Custom',
      workflowId: 'triage',
      correlationId: runId,
      success: true,
      data: { status: 'completed', stages: { hash: 'succeeded', yara: 'succeeded', behaviour: 'succeeded' } },
    });
    expect(chain.stats()).toMatchObject({ started: 1, completed: 1, retries: 1, active: 0 });
  });

  it('a stage that never answers times out after every attempt, with 2 s then 4 s between them', async () => {
    const { chain, requests } = harness({ stageTimeoutMs: 10_000 });
    chain.register(threeStages);
    const runId = chain.start('triage', { targetPid: 1, cause });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(chain.status(runId)?.stages.hash).toMatchObject({ status: 'retry_wait', attempts: 1 });
    await vi.advanceTimersByTimeAsync(2000 + 10_000 + 4000 - 1);
    expect(requests).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(requests).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(10_000);
    const s = await chain.finished(runId);
    expect(s.status).toBe('failed');
    expect(s.stages.hash).toMatchObject({ status: 'timed_out', attempts: 3 });
    expect(s.error).toContain('ERR_ANALYSIS_TIMEOUT');
    expect(s.stages.yara?.status).toBe('pending');
  });

  it('skips a failed optional stage and still runs the stages after it', async () => {
    const { chain, requests, answer } = harness({ maxAttempts: 1 });
    chain.register({
      ...threeStages,
      id: 'opt',
      stages: threeStages.stages.map((s) => (s.id === 'yara' ? { ...s, optional: true } : s)),
    });
    const runId = chain.start('opt', { targetPath: '/bin/x', cause });
    answer(requests[0], true);
    answer(requests[1], false);
    answer(requests[2], true);
    const s = await chain.finished(runId);
    expect(s.status).toBe('completed');
    expect(Object.fromEntries(Object.entries(s.stages).map(([k, v]) => [k, v.status]))).toEqual({
      hash: 'succeeded',
      yara: 'skipped',
      behaviour: 'succeeded',
    });
  });

  it('times the whole workflow out', async () => {
    const { chain } = harness({ stageTimeoutMs: 1_000_000 });
    chain.register({ ...threeStages, id: 'short', timeout: 5000 });
    const runId = chain.start('short', { targetPid: 1, cause });
    await vi.advanceTimersByTimeAsync(5000);
    expect((await chain.finished(runId)).status).toBe('timed_out');
    expect(chain.history().map((h) => h.runId)).toEqual([runId]);
  });

  it('refuses cycles, unknown dependencies and too many runs', () => {
    const { chain } = harness({ maxConcurrentWorkflows: 1 });
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return isCollectorError(e) ? `${e.code}: ${e.message}` : 'untyped';
      }
      return 'none';
    };
    expect(
      err(() =>
        chain.register({ ...threeStages, dependencies: { hash: ['behaviour'], yara: ['hash'], behaviour: ['yara'] } }),
      ),
    ).toBe('ERR_WORKFLOW_INVALID: workflow "triage": has a dependency cycle: hash → behaviour → yara → hash');
    expect(err(() => chain.register({ ...threeStages, dependencies: { yara: ['scan'] } }))).toBe(
      'ERR_WORKFLOW_INVALID: workflow "triage": stage "yara" depends on an unknown stage "scan"',
    );
    chain.register(threeStages);
    chain.start('triage', { targetPid: 1, cause });
    expect(err(() => chain.start('triage', { targetPid: 2, cause }))).toBe(
      'ERR_WORKFLOW_LIMIT: 1 workflow runs are active; "triage" not started',
    );
    expect(err(() => chain.start('nope', { targetPid: 2, cause }))).toBe(
      'ERR_WORKFLOW_INVALID: unknown workflow "nope"',
    );
  });
});

describe('stage targets', () => {
  it('names the pid and path by default, only the pid with target "pid", only the path with target "path"', async () => {
    const requests: TriggerRequestEvent[] = [];
    const chain = new AnalysisChainCoordinator({
      dispatch: (e) => {
        if (e.kind === 'trigger_request') requests.push(e);
        return true;
      },
    });
    chain.register({
      id: 'targets',
      stages: [
        { id: 'both', analysisType: 'BinaryHash', targetCollector: 'a' },
        { id: 'pid', analysisType: 'MemoryAnalysis', targetCollector: 'b', target: 'pid' },
        { id: 'path', analysisType: 'YaraScan', targetCollector: 'c', target: 'path' },
      ],
      dependencies: {},
    });
    chain.start('targets', { targetPid: 9, targetPath: '/usr/bin/x', cause });
    expect(requests.map((r) => [r.metadata.workflow_stage, r.targetPid, r.targetPath])).toEqual([
      ['both', 9, '/usr/bin/x'],
      ['pid', 9, undefined],
      ['path', undefined, '/usr/bin/x'],
    ]);
    await chain.close();
  });
});

describe('requests addressed to the coordinator', () => {
  it('counts a request for an unknown workflow as refused and logs it once per reason', () => {
    const warnings: unknown[] = [];
    const logger: Logger = { ...silentLogger, warn: (o: unknown) => void warnings.push(o), child: () => logger };
    const chain = new AnalysisChainCoordinator({ logger, dispatch: () => true });
    const req = (workflow: string) =>
      CollectionEvent.triggerRequest({
        triggerId: 'rule',
        targetCollector: 'analysis-chains',
        analysisType: 'Custom',
        priority: 1,
        targetPid: 3,
        correlationId: `c-${workflow}`,
        metadata: { workflow },
      });
    chain.process(batchOf([req('nope'), req('nada')]), { emit: () => true });
    expect(chain.stats()).toMatchObject({ started: 0, refused: 2 });
    expect(warnings).toEqual([
      { reason: 'ERR_WORKFLOW_INVALID', err: 'ERR_WORKFLOW_INVALID: unknown workflow "nope"', triggerId: 'rule' },
    ]);
  });
});
