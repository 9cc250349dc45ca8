/**
 * Health vocabulary shared by the collector, its sources and sinks: a three-level `HealthStatus`
 * and the report shapes that carry a reason. Computing health is the collector's job; this module
 * only names the values and folds several statuses into one.
 */

/** Health levels, as the seed names them. */
export const HealthStatus = { Healthy: 'Healthy', Degraded: 'Degraded', Unhealthy: 'Unhealthy' } as const;
/** A {@link HealthStatus} value. */
export type HealthStatus = (typeof HealthStatus)[keyof typeof HealthStatus];

/** Where a source is in its lifecycle. */
export type SourceState = 'registered' | 'starting' | 'running' | 'restarting' | 'stopping' | 'stopped';

/** Health of one source. */
export interface SourceHealth {
  readonly name: string;
  readonly status: HealthStatus;
  readonly state: SourceState;
  readonly reason?: string;
  readonly restarts: number;
  readonly lastCheckAt?: number;
  readonly lastError?: string;
}

/** Health of one sink. */
export interface SinkHealth {
  readonly name: string;
  /** The sink's overflow policy: a failing `block` (lossless) sink makes the collector Unhealthy. */
  readonly overflow?: 'block' | 'drop-oldest' | 'drop-newest';
  readonly status: HealthStatus;
  readonly reason?: string;
  readonly consecutiveFailures: number;
}

/** Health of one processor. */
export interface ProcessorHealth {
  readonly name: string;
  readonly status: HealthStatus;
  readonly reason?: string;
  readonly errors: number;
}

/** Health of the whole collector: overall status, reasons, and each source, sink and processor. */
export interface CollectorHealth {
  readonly status: HealthStatus;
  readonly reasons: readonly string[];
  readonly sources: readonly SourceHealth[];
  readonly sinks: readonly SinkHealth[];
  readonly processors: readonly ProcessorHealth[];
}

const RANK: Readonly<Record<HealthStatus, number>> = { Healthy: 0, Degraded: 1, Unhealthy: 2 };

/** The worst of the given statuses (Healthy for none). */
export function worstHealth(statuses: Iterable<HealthStatus>): HealthStatus {
  let worst: HealthStatus = HealthStatus.Healthy;
  for (const s of statuses) if (RANK[s] > RANK[worst]) worst = s;
  return worst;
}
