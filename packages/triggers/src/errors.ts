/**
 * The error codes of `@daemoneye/triggers`, declared through core's catalog so no other package can
 * reuse them and docs/errors.md lists them. Registration problems (bad SQL, bad rules, bad workflows)
 * are thrown; what happens at run time (a refused request, a failed hash, a stage that timed out) is
 * a counter or an `analysis_result` carrying one of these codes in its `error`.
 */
import { defineErrorCatalog } from '@daemoneye/core';

/** The triggers package's error catalog. */
export const triggerErrors = defineErrorCatalog('@daemoneye/triggers', [
  'ERR_TRIGGER_SQL',
  'ERR_TRIGGER_INVALID',
  'ERR_TRIGGER_DUPLICATE',
  'ERR_RULES_FILE',
  'ERR_WORKFLOW_INVALID',
  'ERR_WORKFLOW_LIMIT',
  'ERR_ANALYSIS_TIMEOUT',
  'ERR_ANALYSIS_FAILED',
]);

/** A code of the triggers package. */
export type TriggerErrorCode = (typeof triggerErrors.codes)[number];
