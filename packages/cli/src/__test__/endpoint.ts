/**
 * Helpers for tests of the command's metrics endpoint: find its address in the log, parse the
 * Prometheus text format into samples, read the command's JSON log lines, and wait for a condition.
 * Not shipped (the build leaves `__test__` out).
 */

/** One sample of the exposition format: name, labels, value. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses Prometheus text format (the subset prom-client writes: no timestamps, escaped label values). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] as string] = (l[2] as string).replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample of `name` whose labels include `labels`; throws when there is not exactly one. */
export function value(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length !== 1) throw new Error(`${hits.length} samples of ${name} ${JSON.stringify(labels)}`);
  return (hits[0] as Sample).value;
}

/** The sum of every sample of `name` (0 when there is none). */
export const total = (samples: readonly Sample[], name: string): number =>
  samples.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);

/** The command's pino log lines (JSON) in `stderr`. */
export function logLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Polls `cond` every 25 ms for up to `ms`; resolves with its last answer. */
export async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return cond();
}

/** The base URL of the metrics endpoint once the command logged it. */
export async function endpointOf(stderr: () => string, ms = 15_000): Promise<string> {
  let url: string | undefined;
  await until(() => {
    const line = logLines(stderr()).find((l) => typeof l.metrics === 'string');
    url = (line?.metrics as string | undefined)?.replace(/\/metrics$/, '');
    return url !== undefined;
  }, ms);
  if (url === undefined) throw new Error(`the command logged no metrics address:\n${stderr()}`);
  return url;
}

/** GET `url`; the status and body. */
export async function get(url: string): Promise<{ status: number; body: string; type: string }> {
  const r = await fetch(url);
  return { status: r.status, body: await r.text(), type: r.headers.get('content-type') ?? '' };
}
