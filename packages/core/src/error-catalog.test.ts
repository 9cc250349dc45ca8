import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from './errors.ts';

/** The codes in the first column of docs/errors.md's table (rows like "| `ERR_X` | … |"). */
function documentedCodes(markdown: string): string[] {
  const codes: string[] = [];
  for (const line of markdown.split('\n')) {
    const m = /^\|\s*`([A-Z0-9_]+)`\s*\|/.exec(line);
    if (m?.[1] !== undefined) codes.push(m[1]);
  }
  return codes;
}

describe('docs/errors.md', () => {
  const markdown = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const documented = documentedCodes(markdown);

  it('documents every code of ErrorCodes and no other, one row each', () => {
    expect([...documented].sort()).toEqual([...ErrorCodes].sort());
  });

  it('has no duplicate rows', () => {
    expect(documented.length).toBe(new Set(documented).size);
  });
});
