/**
 * `AnalysisChainCoordinator`: runs analysis workflows. Each run dispatches the stages whose
 * dependencies are done as trigger requests (validated by core, sent through the derived-event lane),
 * matches `analysis_result` events back by correlation id, retries a failed or unanswered attempt with
 * exponential backoff (3 attempts, 2 s base, 60 s cap by default), skips a failed optional stage, and
 * ends the run as completed, failed or timed out — reported as a final `analysis_result` (analysis
 * type `Custom`, `data.status`) and kept in a bounded history. As a processor it also starts a
 * workflow for every trigger request addressed to it (`targetCollector` = its name, `metadata.workflow`
 * = the workflow id). It does not analyse anything itself.
 */
import { randomUUID } from 'node:crypto';
import {
  type AnalysisResultEvent,
  CollectionEvent,
  type DerivedEventSender,
  describeError,
  type EventBatch,
  type EventProcessor,
  type EventRecord,
  isCollectorError,
  type Logger,
  silentLogger,
  type TriggerRequestEvent,
} from '@daemoneye/core';
import { triggerErrors } from './errors.ts';
import {
  type AnalysisStage,
  type AnalysisWorkflowDefinition,
  checkWorkflow,
  DEFAULT_STAGE_PRIORITY,
} from './workflow.ts';

/** Options of the coordinator. */
export interface AnalysisChainOptions {
  readonly name?: string;
  /** Runs at once (default 50). */
  readonly maxConcurrentWorkflows?: number;
  /** Default per-attempt stage timeout (default 300,000 ms). */
  readonly stageTimeoutMs?: number;
  /** Default workflow timeout (default 1,800,000 ms). */
  readonly workflowTimeoutMs?: number;
  /** Attempts per stage (default 3). */
  readonly maxAttempts?: number;
  /** First retry delay (default 2,000 ms), doubling, capped at `backoffMaxMs` (default 60,000 ms). */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** Finished runs kept (default 100). */
  readonly historySize?: number;
  /**
   * Where requests and final results go instead of the processor's derived-event lane (a program
   * that drives the coordinator itself). Returns false when refused.
   */
  readonly dispatch?: (event: CollectionEvent, cause: EventRecord) => boolean;
  /** Where a refused request is logged, once per reason (default silent). */
  readonly logger?: Logger;
}

/** Counters of the coordinator. */
export interface AnalysisChainStats {
  readonly started: number;
  readonly completed: number;
  readonly failed: number;
  readonly timedOut: number;
  readonly retries: number;
  readonly refused: number;
  readonly lateResults: number;
  readonly active: number;
  readonly workflows: number;
}

/** The state of one stage in a run. */
export type StageStatus = 'pending' | 'running' | 'retry_wait' | 'succeeded' | 'failed' | 'skipped' | 'timed_out';

/** What a run looks like at any moment. */
export interface WorkflowRunStatus {
  readonly runId: string;
  readonly workflowId: string;
  readonly status: 'running' | 'completed' | 'failed' | 'timed_out';
  readonly startedAt: number;
  readonly finishedAt?: number;
  /** Stages that reached an end state, of all. */
  readonly progress: { readonly done: number; readonly total: number };
  readonly stages: Readonly<
    Record<string, { status: StageStatus; attempts: number; error?: string; data?: Readonly<Record<string, unknown>> }>
  >;
  readonly error?: string;
}

interface StageRun {
  readonly stage: AnalysisStage;
  status: StageStatus;
  attempts: number;
  correlationId?: string;
  timer?: ReturnType<typeof setTimeout>;
  error?: string;
  data?: Readonly<Record<string, unknown>>;
}

interface Run {
  readonly runId: string;
  readonly workflow: AnalysisWorkflowDefinition;
  readonly targetPid?: number;
  readonly targetPath?: string;
  readonly cause: EventRecord;
  readonly stages: Map<string, StageRun>;
  status: WorkflowRunStatus['status'];
  readonly startedAt: number;
  finishedAt?: number;
  error?: string;
  timer?: ReturnType<typeof setTimeout>;
  readonly waiters: ((s: WorkflowRunStatus) => void)[];
}

const TERMINAL: readonly StageStatus[] = ['succeeded', 'failed', 'skipped', 'timed_out'];

/** The coordinator. */
export class AnalysisChainCoordinator implements EventProcessor {
  readonly #name: string;
  readonly #maxRuns: number;
  readonly #stageTimeout: number;
  readonly #workflowTimeout: number;
  readonly #maxAttempts: number;
  readonly #base: number;
  readonly #cap: number;
  readonly #historySize: number;
  readonly #dispatch: ((event: CollectionEvent, cause: EventRecord) => boolean) | undefined;
  #tx: DerivedEventSender | undefined;
  readonly #log: Logger;
  readonly #loggedRefusals = new Set<string>();
  readonly #workflows = new Map<string, AnalysisWorkflowDefinition>();
  readonly #byTrigger = new Map<string, string>();
  readonly #runs = new Map<string, Run>();
  readonly #byCorrelation = new Map<string, { run: Run; stage: StageRun }>();
  readonly #history: WorkflowRunStatus[] = [];
  readonly #counts = { started: 0, completed: 0, failed: 0, timedOut: 0, retries: 0, refused: 0, lateResults: 0 };

  constructor(options: AnalysisChainOptions = {}) {
    this.#name = options.name ?? 'analysis-chains';
    this.#maxRuns = options.maxConcurrentWorkflows ?? 50;
    this.#stageTimeout = options.stageTimeoutMs ?? 300_000;
    this.#workflowTimeout = options.workflowTimeoutMs ?? 1_800_000;
    this.#maxAttempts = options.maxAttempts ?? 3;
    this.#base = options.backoffBaseMs ?? 2000;
    this.#cap = options.backoffMaxMs ?? 60_000;
    this.#historySize = options.historySize ?? 100;
    this.#dispatch = options.dispatch;
    this.#log = options.logger ?? silentLogger;
  }

  name(): string {
    return this.#name;
  }

  /**
   * Registers a workflow; `ERR_WORKFLOW_INVALID` for a bad one (a cycle is named), a duplicate id, or
   * a trigger id that another workflow already claims.
   */
  register(workflow: AnalysisWorkflowDefinition): void {
    checkWorkflow(workflow);
    if (this.#workflows.has(workflow.id)) {
      throw triggerErrors.error('ERR_WORKFLOW_INVALID', `workflow "${workflow.id}" is already registered`);
    }
    for (const t of workflow.triggers ?? []) {
      const owner = this.#byTrigger.get(t);
      if (owner !== undefined) {
        throw triggerErrors.error(
          'ERR_WORKFLOW_INVALID',
          `workflow "${workflow.id}": trigger "${t}" already starts workflow "${owner}"`,
        );
      }
    }
    this.#workflows.set(workflow.id, workflow);
    for (const t of workflow.triggers ?? []) this.#byTrigger.set(t, workflow.id);
  }

  /** The registered workflows, in registration order. */
  workflows(): readonly AnalysisWorkflowDefinition[] {
    return [...this.#workflows.values()];
  }

  /**
   * The workflow a request addressed to the coordinator starts: `metadata.workflow` when set, else
   * the workflow whose `triggers` name the request's `triggerId`.
   */
  workflowFor(request: TriggerRequestEvent): string | undefined {
    const named = request.metadata.workflow;
    if (named !== undefined && named !== '') return named;
    return this.#byTrigger.get(request.triggerId);
  }

  /**
   * Starts a run of `workflowId` against a pid and/or path, caused by the event of `cause`. Returns the
   * run id: `runId` when given and not in use (a run started by a request takes the request's
   * correlation id, so its final result answers that request), else a fresh UUID. Throws
   * `ERR_WORKFLOW_INVALID` for an unknown workflow or no target, `ERR_WORKFLOW_LIMIT` when
   * `maxConcurrentWorkflows` runs are active.
   */
  start(
    workflowId: string,
    target: { targetPid?: number; targetPath?: string; cause: EventRecord; runId?: string },
  ): string {
    const workflow = this.#workflows.get(workflowId);
    if (workflow === undefined) throw triggerErrors.error('ERR_WORKFLOW_INVALID', `unknown workflow "${workflowId}"`);
    if (target.targetPid === undefined && (target.targetPath === undefined || target.targetPath === '')) {
      throw triggerErrors.error('ERR_WORKFLOW_INVALID', `a run of "${workflowId}" needs a target pid or path`);
    }
    if (this.#runs.size >= this.#maxRuns) {
      throw triggerErrors.error(
        'ERR_WORKFLOW_LIMIT',
        `${this.#maxRuns} workflow runs are active; "${workflowId}" not started`,
      );
    }
    const runId =
      target.runId !== undefined && target.runId !== '' && !this.#runs.has(target.runId) ? target.runId : randomUUID();
    const run: Run = {
      runId,
      workflow,
      ...(target.targetPid !== undefined ? { targetPid: target.targetPid } : {}),
      ...(target.targetPath !== undefined ? { targetPath: target.targetPath } : {}),
      cause: target.cause,
      stages: new Map(workflow.stages.map((s) => [s.id, { stage: s, status: 'pending', attempts: 0 }])),
      status: 'running',
      startedAt: Date.now(),
      waiters: [],
    };
    this.#runs.set(runId, run);
    this.#counts.started++;
    run.timer = setTimeout(
      () => this.#finish(run, 'timed_out', 'workflow timeout'),
      workflow.timeout ?? this.#workflowTimeout,
    );
    run.timer.unref?.();
    this.#advance(run);
    return runId;
  }

  #send(event: CollectionEvent, cause: EventRecord): boolean {
    if (this.#dispatch !== undefined) return this.#dispatch(event, cause);
    return this.#tx?.emit(event, cause) ?? false;
  }

  #ready(run: Run, s: StageRun): boolean {
    const deps = run.workflow.dependencies[s.stage.id] ?? [];
    return deps.every((d) => {
      const st = run.stages.get(d)?.status;
      return st === 'succeeded' || st === 'skipped';
    });
  }

  #advance(run: Run): void {
    if (run.status !== 'running') return;
    // A required stage that failed for good fails the run: the stages after it can never start.
    const broken = [...run.stages.values()].find((s) => s.status === 'failed' || s.status === 'timed_out');
    if (broken !== undefined) {
      this.#finish(run, 'failed', `stage "${broken.stage.id}": ${broken.error}`);
      return;
    }
    for (const s of run.stages.values()) {
      if (s.status === 'pending' && this.#ready(run, s)) this.#attempt(run, s);
    }
    if ([...run.stages.values()].every((s) => TERMINAL.includes(s.status))) this.#finish(run, 'completed');
  }

  #attempt(run: Run, s: StageRun): void {
    s.attempts++;
    s.status = 'running';
    const correlationId = randomUUID();
    s.correlationId = correlationId;
    const target = s.stage.target ?? 'both';
    let request: TriggerRequestEvent;
    try {
      request = CollectionEvent.triggerRequest({
        triggerId: `${run.workflow.id}/${s.stage.id}`,
        targetCollector: s.stage.targetCollector,
        analysisType: s.stage.analysisType,
        priority: s.stage.priority ?? DEFAULT_STAGE_PRIORITY,
        ...(run.targetPid !== undefined && target !== 'path' ? { targetPid: run.targetPid } : {}),
        ...(run.targetPath !== undefined && target !== 'pid' ? { targetPath: run.targetPath } : {}),
        correlationId,
        metadata: {
          workflow_id: run.workflow.id,
          workflow_stage: s.stage.id,
          root_id: run.runId,
          parent_id: String(run.cause.seq),
          attempt: String(s.attempts),
          max_execution_ms: String(s.stage.timeoutMs ?? this.#stageTimeout),
        },
      });
    } catch (e) {
      this.#failed(run, s, describeError(e));
      return;
    }
    this.#byCorrelation.set(correlationId, { run, stage: s });
    s.timer = setTimeout(() => {
      this.#byCorrelation.delete(correlationId);
      this.#failed(run, s, 'ERR_ANALYSIS_TIMEOUT: no result within the stage timeout', true);
    }, s.stage.timeoutMs ?? this.#stageTimeout);
    s.timer.unref?.();
    if (!this.#send(request, run.cause)) {
      this.#counts.refused++;
      clearTimeout(s.timer);
      this.#byCorrelation.delete(correlationId);
      this.#failed(run, s, 'the request was refused by the derived-event lane');
    }
  }

  #failed(run: Run, s: StageRun, error: string, timedOut = false): void {
    if (run.status !== 'running') return;
    s.error = error;
    if (s.attempts < this.#maxAttempts) {
      s.status = 'retry_wait';
      this.#counts.retries++;
      const delay = Math.min(this.#cap, this.#base * 2 ** (s.attempts - 1));
      s.timer = setTimeout(() => this.#attempt(run, s), delay);
      s.timer.unref?.();
      return;
    }
    s.status = s.stage.optional === true ? 'skipped' : timedOut ? 'timed_out' : 'failed';
    this.#advance(run);
  }

  /** Feeds one analysis result; returns true when it answered a stage of a run. */
  handleResult(result: AnalysisResultEvent): boolean {
    const id = result.correlationId;
    if (id === undefined) return false;
    const hit = this.#byCorrelation.get(id);
    if (hit === undefined) return false;
    this.#byCorrelation.delete(id);
    const { run, stage } = hit;
    clearTimeout(stage.timer);
    if (run.status !== 'running' || stage.status !== 'running' || stage.correlationId !== id) {
      this.#counts.lateResults++;
      return false;
    }
    if (result.success) {
      stage.status = 'succeeded';
      stage.data = result.data;
      delete stage.error;
      this.#advance(run);
    } else {
      this.#failed(run, stage, result.error ?? 'ERR_ANALYSIS_FAILED: the analysis failed');
    }
    return true;
  }

  #finish(run: Run, status: WorkflowRunStatus['status'], error?: string): void {
    if (run.status !== 'running') return;
    run.status = status;
    run.finishedAt = Date.now();
    if (error !== undefined) run.error = error;
    clearTimeout(run.timer);
    for (const s of run.stages.values()) {
      clearTimeout(s.timer);
      if (s.correlationId !== undefined) this.#byCorrelation.delete(s.correlationId);
      if (!TERMINAL.includes(s.status) && status === 'timed_out') s.status = 'timed_out';
    }
    this.#runs.delete(run.runId);
    if (status === 'completed') this.#counts.completed++;
    else if (status === 'failed') this.#counts.failed++;
    else this.#counts.timedOut++;
    const snapshot = this.#snapshot(run);
    this.#history.push(snapshot);
    if (this.#history.length > this.#historySize) this.#history.shift();
    const final = CollectionEvent.analysisResult({
      analysisType: 'Custom',
      workflowId: run.workflow.id,
      correlationId: run.runId,
      success: status === 'completed',
      ...(error !== undefined ? { error } : {}),
      data: {
        status,
        stages: Object.fromEntries(Object.entries(snapshot.stages).map(([k, v]) => [k, v.status])),
        results: Object.fromEntries(
          Object.entries(snapshot.stages).flatMap(([k, v]) => (v.data !== undefined ? [[k, v.data]] : [])),
        ),
        ...(run.targetPid !== undefined ? { target_pid: run.targetPid } : {}),
        ...(run.targetPath !== undefined ? { target_path: run.targetPath } : {}),
      },
    });
    if (!this.#send(final, run.cause)) this.#counts.refused++;
    for (const w of run.waiters.splice(0)) w(snapshot);
  }

  #snapshot(run: Run): WorkflowRunStatus {
    const stages = Object.fromEntries(
      [...run.stages].map(([id, s]) => [
        id,
        {
          status: s.status,
          attempts: s.attempts,
          ...(s.error !== undefined ? { error: s.error } : {}),
          ...(s.data !== undefined ? { data: s.data } : {}),
        },
      ]),
    );
    const done = [...run.stages.values()].filter((s) => TERMINAL.includes(s.status)).length;
    return {
      runId: run.runId,
      workflowId: run.workflow.id,
      status: run.status,
      startedAt: run.startedAt,
      ...(run.finishedAt !== undefined ? { finishedAt: run.finishedAt } : {}),
      progress: { done, total: run.stages.size },
      stages,
      ...(run.error !== undefined ? { error: run.error } : {}),
    };
  }

  /** The status of an active or remembered run. */
  status(runId: string): WorkflowRunStatus | undefined {
    const run = this.#runs.get(runId);
    return run !== undefined ? this.#snapshot(run) : this.#history.find((h) => h.runId === runId);
  }

  /** Resolves with the final status of a run. */
  finished(runId: string): Promise<WorkflowRunStatus> {
    const run = this.#runs.get(runId);
    if (run !== undefined) return new Promise((r) => run.waiters.push(r));
    const done = this.#history.find((h) => h.runId === runId);
    return done !== undefined
      ? Promise.resolve(done)
      : Promise.reject(triggerErrors.error('ERR_WORKFLOW_INVALID', `no run "${runId}"`));
  }

  /** Finished runs, oldest first (at most `historySize`). */
  history(): readonly WorkflowRunStatus[] {
    return [...this.#history];
  }

  /** The processor side: starts runs for requests addressed to it, matches results back. */
  process(batch: EventBatch, tx: DerivedEventSender): void {
    this.#tx = tx;
    for (let i = 0; i < batch.length; i++) {
      const e = batch[i] as CollectionEvent;
      if (e.kind === 'analysis_result') this.handleResult(e);
      else if (e.kind === 'trigger_request' && e.targetCollector === this.#name) {
        const wf = this.workflowFor(e) ?? '';
        try {
          this.start(wf, {
            ...(e.targetPid !== undefined ? { targetPid: e.targetPid } : {}),
            ...(e.targetPath !== undefined ? { targetPath: e.targetPath } : {}),
            cause: batch.records.at(i),
            runId: e.correlationId,
          });
        } catch (err) {
          this.#counts.refused++;
          const reason = isCollectorError(err) ? err.code : 'invalid';
          if (!this.#loggedRefusals.has(reason)) {
            this.#loggedRefusals.add(reason);
            this.#log.warn(
              { reason, err: describeError(err), triggerId: e.triggerId },
              'workflow request refused (logged once per reason; counted in refused)',
            );
          }
        }
      }
    }
  }

  /** Ends every active run as failed (`shutdown`) and clears their timers. */
  async close(): Promise<void> {
    for (const run of [...this.#runs.values()]) this.#finish(run, 'failed', 'shutdown');
  }

  stats(): AnalysisChainStats {
    return { ...this.#counts, active: this.#runs.size, workflows: this.#workflows.size };
  }
}
