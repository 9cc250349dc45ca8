import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCollectorError, TriggerPriority } from '@daemoneye/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalysisChainCoordinator } from './analysis-chain.ts';
import { DEFAULT_WORKFLOWS } from './default-workflows.ts';
import { loadWorkflowsFile, parseWorkflows, registerWorkflows } from './workflows-file.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'de-workflows-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function refusal(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (e) {
    if (isCollectorError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('not refused');
}

const TRIAGE = `
[[workflows]]
id = "triage"
description = "hash, then scan"
timeout = "10m"
triggers = ["nc-from-tmp"]
dependencies = { yara = ["hash"] }

[[workflows.stages]]
id = "hash"
analysis_type = "BinaryHash"
target_collector = "binary-hasher"
timeout = "30s"
priority = "high"

[[workflows.stages]]
id = "yara"
analysis_type = "YaraScan"
target_collector = "yara"
optional = true
target = "path"
`;

describe('workflows files', () => {
  it('loads a TOML file into workflow definitions with durations in ms and priorities as numbers', () => {
    const file = join(dir, 'workflows.toml');
    writeFileSync(file, TRIAGE);
    expect(loadWorkflowsFile(file)).toEqual({
      file,
      workflows: [
        {
          id: 'triage',
          description: 'hash, then scan',
          timeout: 600_000,
          triggers: ['nc-from-tmp'],
          dependencies: { yara: ['hash'] },
          stages: [
            {
              id: 'hash',
              analysisType: 'BinaryHash',
              targetCollector: 'binary-hasher',
              timeoutMs: 30_000,
              priority: TriggerPriority.High,
            },
            { id: 'yara', analysisType: 'YaraScan', targetCollector: 'yara', optional: true, target: 'path' },
          ],
        },
      ],
    });
  });

  it('loads the same from JSON and registers it', () => {
    const file = join(dir, 'workflows.json');
    writeFileSync(
      file,
      JSON.stringify({
        workflows: [
          {
            id: 'one',
            timeout: 5000,
            stages: [{ id: 'hash', analysis_type: 'BinaryHash', target_collector: 'binary-hasher' }],
          },
        ],
      }),
    );
    const chains = new AnalysisChainCoordinator();
    registerWorkflows(chains, loadWorkflowsFile(file));
    expect(chains.workflows()).toEqual([
      {
        id: 'one',
        timeout: 5000,
        dependencies: {},
        stages: [{ id: 'hash', analysisType: 'BinaryHash', targetCollector: 'binary-hasher' }],
      },
    ]);
    expect(parseWorkflows('empty.toml', '').workflows).toEqual([]);
  });

  const stage = '[[workflows.stages]]\nid = "hash"\nanalysis_type = "BinaryHash"\ntarget_collector = "binary-hasher"\n';
  const bad: [string, string, string][] = [
    [
      'a cycle',
      `[[workflows]]\nid = "loop"\ndependencies = { a = ["b"], b = ["a"] }\n${stage.replace('"hash"', '"a"')}${stage.replace('"hash"', '"b"')}`,
      'workflows[0] (id "loop"): has a dependency cycle: a → b → a',
    ],
    ['no stages', '[[workflows]]\nid = "empty"\n', 'workflows[0] (id "empty"): has no stages'],
    [
      'an unknown dependency',
      `[[workflows]]\nid = "w"\ndependencies = { hash = ["nope"] }\n${stage}`,
      'workflows[0] (id "w"): stage "hash" depends on an unknown stage "nope"',
    ],
    [
      'an unknown analysis type',
      `[[workflows]]\nid = "w"\n${stage.replace('BinaryHash', 'Md5')}`,
      'workflows[0] (id "w"): stage "hash" has an unknown analysisType',
    ],
    [
      'an unknown workflow key',
      `[[workflows]]\nid = "w"\nretries = 3\n${stage}`,
      'workflows[0] (id "w"): unknown key "retries" (known: id, description, timeout, triggers, stages, dependencies)',
    ],
    [
      'an unknown stage key',
      `[[workflows]]\nid = "w"\n${stage}collector = "x"\n`,
      'workflows[0] (id "w"): stages[0] (id "hash"): unknown key "collector"',
    ],
    [
      'a bad duration',
      `[[workflows]]\nid = "w"\ntimeout = "soon"\n${stage}`,
      'workflows[0] (id "w"): timeout "soon" must be a duration such as "30s"',
    ],
    [
      'a bad priority',
      `[[workflows]]\nid = "w"\n${stage}priority = "urgent"\n`,
      'workflows[0] (id "w"): stages[0] (id "hash"): priority "urgent" must be low, normal, high or critical',
    ],
    [
      'a non-boolean optional',
      `[[workflows]]\nid = "w"\n${stage}optional = "yes"\n`,
      'workflows[0] (id "w"): stages[0] (id "hash"): optional must be true or false',
    ],
    [
      'an unknown stage target',
      `[[workflows]]\nid = "w"\n${stage}target = "inode"\n`,
      'workflows[0] (id "w"): stage "hash" target must be both, pid, path',
    ],
    [
      'a duplicate workflow id',
      `[[workflows]]\nid = "w"\n${stage}[[workflows]]\nid = "w"\n${stage}`,
      'workflows[1] (id "w"): the id is already used by workflows[0]',
    ],
    ['an unknown top-level key', `[[rules]]\nid = "w"\n`, 'unknown key "rules" (expected [[workflows]])'],
    ['a TOML syntax error', '[[workflows]\nid = 1\n', 'not valid TOML at line 1'],
  ];
  for (const [what, text, problem] of bad) {
    it(`refuses ${what}, naming the file, the workflow and the problem`, () => {
      const file = join(dir, `${what.replaceAll(' ', '-')}.toml`);
      writeFileSync(file, text);
      const r = refusal(() => loadWorkflowsFile(file));
      expect(r.code).toBe('ERR_WORKFLOW_INVALID');
      expect(r.message).toContain(`${file}: ${problem}`);
    });
  }

  it('says when a file cannot be read', () => {
    const file = join(dir, 'missing.toml');
    expect(refusal(() => loadWorkflowsFile(file)).message).toContain(`${file}: cannot be read`);
  });

  it('refuses a workflow that clashes with one already registered, naming the file and the workflow', () => {
    const chains = new AnalysisChainCoordinator();
    for (const w of DEFAULT_WORKFLOWS) chains.register(w);
    const file = join(dir, 'clash.toml');
    writeFileSync(file, `[[workflows]]\nid = "mine"\ntriggers = ["deleted-executable"]\n${stage}`);
    expect(refusal(() => registerWorkflows(chains, loadWorkflowsFile(file)))).toEqual({
      code: 'ERR_WORKFLOW_INVALID',
      message: `${file}: workflows[0] (id "mine"): workflow "mine": trigger "deleted-executable" already starts workflow "deleted-executable-triage"`,
    });
  });
});
