/**
 * Bounded calls into a sink's or processor's optional lifecycle methods: ask its own health (a slow
 * or throwing `health()` becomes an unhealthy report, never a hang or a crash), close it within a time
 * limit, and fold a report into a `HealthStatus`. The queue and runner that own the plug-in decide
 * what to do with the answers.
 */
import { describeError } from './errors.ts';
import { HealthStatus } from './health.ts';
import type { Logger } from './logger.ts';
import type { HealthReport } from './source.ts';

type HealthFn = () => HealthReport | undefined | Promise<HealthReport | undefined>;

/** Folds a plug-in's own health report into a status (nothing is healthy). */
export function reportStatus(r: HealthReport | undefined): HealthStatus {
  const s = String(r?.status ?? 'healthy').toLowerCase();
  return s === 'degraded' ? HealthStatus.Degraded : s === 'unhealthy' ? HealthStatus.Unhealthy : HealthStatus.Healthy;
}

/** Calls `health` (bound to its plug-in), answering unhealthy when it throws or takes over `timeoutMs`. */
export async function askHealth(health: HealthFn, timeoutMs: number): Promise<HealthReport | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      Promise.resolve(health()),
      new Promise<HealthReport>((resolve) => {
        timer = setTimeout(
          () => resolve({ status: 'unhealthy', reason: `health() took longer than ${timeoutMs} ms` }),
          timeoutMs,
        );
        timer.unref();
      }),
    ]);
  } catch (e) {
    return { status: 'unhealthy', reason: describeError(e) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Calls `close` (when the plug-in has one), waiting at most `timeoutMs`; logs `<what> closed` at
 * debug with `fields`, or the failure at error. Never rejects.
 */
export async function closeWithin(
  close: (() => Promise<void>) | undefined,
  options: { timeoutMs: number; log: Logger; what: string; fields?: Record<string, unknown> },
): Promise<void> {
  try {
    if (close !== undefined) {
      await Promise.race([close(), new Promise((r) => setTimeout(r, options.timeoutMs).unref())]);
    }
    options.log.debug(options.fields ?? {}, `${options.what} closed`);
  } catch (e) {
    options.log.error({ err: describeError(e) }, `${options.what} close failed`);
  }
}
