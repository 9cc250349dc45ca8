/**
 * The network source tests' sender: core's `RecordingSender` with a shortcut for network events.
 * Test support only.
 */
import type { NetworkEvent } from '@daemoneye/core';
import { RecordingSender as CoreRecordingSender } from '@daemoneye/core/testing';

/** A sender that keeps every event. */
export class RecordingSender extends CoreRecordingSender {
  network(subtype?: NetworkEvent['subtype']): NetworkEvent[] {
    return this.ofKind('network', subtype);
  }
}
