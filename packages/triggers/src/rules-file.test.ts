import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCollectorError, TriggerPriority } from '@daemoneye/core';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RULES } from './default-rules.ts';
import { loadRulesFile, parseRules, registerRules } from './rules-file.ts';
import { TriggerManager } from './trigger-manager.ts';

const dir = mkdtempSync(join(tmpdir(), 'de-rules-'));
const write = (name: string, text: string) => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};
const message = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return isCollectorError(e, 'ERR_RULES_FILE') ? e.message : `other: ${String(e)}`;
  }
  return 'none';
};

describe('rules files', () => {
  it('loads [[triggers]] and [[sequences]] from TOML and registers them', () => {
    const file = write(
      'ok.toml',
      `[[triggers]]
id = "nc-from-tmp"
description = "netcat run from /tmp"
sql_condition = "name = 'nc' AND executable_path LIKE '/tmp/%'"
priority = "critical"
target_collector = "binary-hasher"
resource_limits = { max_execution_ms = 5000 }

[[sequences]]
id = "connect-then-shell"
steps = ["kind = 'network'", "name IN ('sh', 'bash')"]
join = "same_pid"
within = "30s"
`,
    );
    const m = new TriggerManager();
    registerRules(m, loadRulesFile(file));
    expect(m.triggers()).toMatchObject([
      {
        id: 'nc-from-tmp',
        priority: TriggerPriority.Critical,
        resourceLimits: { maxExecutionMs: 5000, maxInputBytes: 268435456 },
        sqlCondition: "name = 'nc' AND executable_path LIKE '/tmp/%'",
      },
      { id: 'connect-then-shell', join: 'same_pid', withinMs: 30_000, priority: TriggerPriority.Normal },
    ]);
  });

  it('loads the same from JSON', () => {
    const file = write(
      'ok.json',
      JSON.stringify({ triggers: [{ id: 'a', sql_condition: 'uid = 0', priority: 'low' }] }),
    );
    expect(loadRulesFile(file).triggers).toEqual([{ id: 'a', sqlCondition: 'uid = 0', priority: TriggerPriority.Low }]);
  });

  it('names the file, the rule and the position of a bad condition', () => {
    const file = write(
      'bad-sql.toml',
      `[[triggers]]\nid = "ok"\nsql_condition = "pid = 1"\n\n[[triggers]]\nid = "broken"\nsql_condition = "pid = 1 AND secret > 2"\n`,
    );
    const m = new TriggerManager();
    expect(message(() => registerRules(m, loadRulesFile(file)))).toBe(
      `${file}: triggers[1] (id "broken"): ERR_TRIGGER_SQL: unknown column "secret" at line 1, column 13 in condition "pid = 1 AND secret > 2"`,
    );
    expect(m.triggers().map((t) => t.id)).toEqual(['ok']);
  });

  it.each([
    ['syntax.toml', '[[triggers]\nid = 1', 'not valid TOML at line 1'],
    ['key.toml', '[[triggers]]\nid = "a"\nsql = "pid = 1"\n', 'triggers[0] (id "a"): unknown key "sql"'],
    ['top.toml', '[[rules]]\nid = "a"\n', 'unknown key "rules" (expected [[triggers]] or [[sequences]])'],
    [
      'prio.toml',
      '[[triggers]]\nid = "a"\nsql_condition = "pid = 1"\npriority = "urgent"\n',
      'triggers[0] (id "a"): priority "urgent" must be low, normal, high or critical',
    ],
    [
      'within.toml',
      '[[sequences]]\nid = "s"\nsteps = ["pid = 1", "pid = 2"]\nwithin = "soon"\n',
      'sequences[0] (id "s"): within "soon" must be a duration',
    ],
    ['bad.json', '{"triggers": [', 'not valid JSON'],
  ])('refuses %s', (name, text, expected) => {
    const file = write(name, text);
    expect(message(() => registerRules(new TriggerManager(), loadRulesFile(file)))).toContain(expected);
    expect(message(() => registerRules(new TriggerManager(), loadRulesFile(file)))).toContain(file);
  });

  it('says when a file cannot be read', () => {
    expect(message(() => loadRulesFile(join(dir, 'missing.toml')))).toContain('missing.toml: cannot be read');
  });

  it('the default rules all compile', () => {
    const m = new TriggerManager();
    registerRules(m, { file: 'defaults', triggers: DEFAULT_RULES, sequences: [] });
    expect(m.triggers().map((t) => t.id)).toEqual([
      'exec-from-temp-dir',
      'deleted-executable',
      'interpreter-from-network-service',
      'new-setuid-file',
    ]);
    expect(parseRules('x.toml', '').triggers).toEqual([]);
  });
});
