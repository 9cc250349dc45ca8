/**
 * Lists the kernel and integration tests (`*.integration.test.ts`) that did not run, from vitest's
 * JSON report: one line per skipped, pending or todo test, `kernel test skipped on Linux as root:
 * <file> > <title>`. `.ci/run` calls it only on Linux as root, where every such test must run, and
 * counts each line as a failure. It prints nothing when the report is missing (the summary already
 * counts that as a failure) or when every integration test ran.
 *
 *   node .ci/kernel-skips.mjs [.vitest-report.json]
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const reportPath = process.argv[2] ?? '.vitest-report.json';
if (existsSync(reportPath)) {
  const report = JSON.parse(readFileSync(reportPath, 'utf8'));
  for (const file of report.testResults ?? []) {
    if (!file.name.endsWith('.integration.test.ts')) continue;
    const relative = path.relative(process.cwd(), file.name);
    for (const test of file.assertionResults ?? []) {
      if (test.status === 'passed' || test.status === 'failed') continue;
      const title = [...(test.ancestorTitles ?? []), test.title].join(' > ');
      console.log(`kernel test skipped on Linux as root: ${relative} > ${title}`);
    }
  }
}
