/**
 * The performance source tests' sender: core's `RecordingSender` with a shortcut for samples.
 * Test support only.
 */
import type { PerformanceEvent } from '@daemoneye/core';
import { RecordingSender as CoreRecordingSender } from '@daemoneye/core/testing';

/** A sender that keeps every event. */
export class RecordingSender extends CoreRecordingSender {
  perf(subtype: PerformanceEvent['subtype'] = 'sample'): PerformanceEvent[] {
    return this.ofKind('performance', subtype);
  }
}
