/**
 * Live reconfiguration of a composed collector: given newly loaded configuration, only the sources,
 * processors and sinks whose options changed are replaced (stopped and started again with the new
 * options); those whose options did not change keep running untouched, newly enabled ones start and
 * disabled ones stop. Nothing changes unless the whole new configuration is valid: the collector's
 * settings are validated and every changed plug-in is created first, and the first error refuses the
 * reload with its reason while the old configuration keeps running. Settings of the collector runtime
 * itself (buffer sizes, timeouts, `data_dir`) cannot change while it runs; they are reported as
 * needing a restart. Loading the files is the caller's job.
 */
import type { Collector } from './collector.ts';
import { CollectorConfig } from './config.ts';
import type { LoadedConfig } from './config-loader.ts';
import { collectorConfigSchema } from './config-schema.ts';
import { CollectorError, describeError, isCollectorError } from './errors.ts';
import {
  type ComposedPart,
  type CreatedPart,
  compositionOf,
  compositionOrder,
  createPart,
  definitionValues,
  type PluginDefinition,
  pluginContext,
  recordComposition,
} from './plugin.ts';

/** What a reload did. Ids are `sources.<key>`, `sinks.<key>`, `processors.<key>`. */
export interface ReloadReport {
  /** Replaced because their options changed. */
  readonly restarted: readonly string[];
  /** Newly enabled. */
  readonly started: readonly string[];
  /** Disabled. */
  readonly stopped: readonly string[];
  /** Kept running, untouched. */
  readonly unchanged: readonly string[];
  /** Collector settings that changed but only take effect after a restart. */
  readonly needsRestart: readonly string[];
}

interface Change {
  readonly id: string;
  readonly old: ComposedPart | undefined;
  readonly next: CreatedPart | undefined;
}

/**
 * Applies `next` to `collector`, which `composeCollector` built from the same `definitions`. Throws
 * (before changing anything) `ERR_CONFIG_INVALID` for invalid settings or plug-in options, whatever a
 * factory throws for its options, and `ERR_COLLECTOR_STATE` for a collector that was not composed or is
 * stopping. Changes are applied in composition order; resolves with what was done.
 */
export async function reloadCollector(
  collector: Collector,
  next: LoadedConfig,
  definitions: readonly PluginDefinition[],
): Promise<ReloadReport> {
  const composition = compositionOf(collector);
  if (composition === undefined) {
    throw new CollectorError('ERR_COLLECTOR_STATE', 'only a collector built by composeCollector can be reloaded');
  }
  const state = collector.stats().state;
  if (state === 'stopping' || state === 'stopped') {
    throw new CollectorError('ERR_COLLECTOR_STATE', `cannot reload: the collector is ${state}`);
  }
  // Throws ERR_CONFIG_INVALID naming the field and its layer.
  CollectorConfig.fromLoaded(next).validate();
  const previous = composition.loaded;
  const needsRestart = Object.keys(collectorConfigSchema).filter(
    (k) => JSON.stringify(previous.get(k)) !== JSON.stringify(next.get(k)),
  );
  const context = pluginContext(collector, next, composition.logger);
  const changes: Change[] = [];
  const unchanged: string[] = [];
  for (const d of compositionOrder(definitions)) {
    const { id, enabled, fingerprint } = definitionValues(next, d);
    const old = composition.parts.get(id);
    if (!enabled && old === undefined) continue;
    if (enabled && old?.fingerprint === fingerprint) {
      unchanged.push(id);
      continue;
    }
    let created: CreatedPart | undefined;
    if (enabled) {
      try {
        created = createPart(next, d, context, collector.settings.maxBatchSize);
      } catch (e) {
        const why = e instanceof Error && !isCollectorError(e) ? e.message : describeError(e);
        throw new CollectorError('ERR_CONFIG_INVALID', `${id}: ${why}`, { cause: e });
      }
    }
    changes.push({ id, old, next: created });
  }
  const parts = new Map(composition.parts);
  const report = { restarted: [] as string[], started: [] as string[], stopped: [] as string[] };
  for (const c of changes) {
    await applyChange(collector, c);
    if (c.next === undefined) parts.delete(c.id);
    else parts.set(c.id, c.next.meta);
    (c.old === undefined ? report.started : c.next === undefined ? report.stopped : report.restarted).push(c.id);
  }
  recordComposition(collector, { loaded: next, parts, logger: composition.logger });
  return { ...report, unchanged, needsRestart };
}

async function applyChange(collector: Collector, c: Change): Promise<void> {
  const kind = c.next?.kind ?? c.old?.kind;
  const name = c.old?.name ?? c.next?.meta.name ?? '';
  if (kind === 'source') {
    await collector.replaceSource(name, c.next?.kind === 'source' ? c.next.part : null);
  } else if (kind === 'processor') {
    await collector.replaceProcessor(name, c.next?.kind === 'processor' ? c.next.part : null);
  } else if (kind === 'sink') {
    const next = c.next?.kind === 'sink' ? c.next : undefined;
    await collector.replaceSink(name, next?.part ?? null, next?.options ?? {});
  }
}
