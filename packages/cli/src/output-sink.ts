/**
 * The stdout sinks of the `run` command: `jsonl` writes one JSON object per event per line (for
 * piping into jq or a log shipper), `pretty` one readable line per event. Writes honour the stream's
 * backpressure (await `drain`), so a slow terminal or pipe slows the sink's queue instead of growing
 * memory. A closed stream (EPIPE) makes `write` reject, which the collector counts as `sink_error`.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { CollectionEvent, EventSink } from '@daemoneye/core';

/** The output formats of the `run` command. */
export type OutputFormat = 'jsonl' | 'pretty' | 'none';

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** One readable line for an event. */
export function formatPretty(e: CollectionEvent): string {
  const t = iso(e.timestamp);
  switch (e.kind) {
    case 'process': {
      const argv = e.commandLine.length > 0 ? e.commandLine.join(' ') : `[${e.name}]`;
      const extra = [
        e.ppid !== undefined ? `ppid=${e.ppid}` : '',
        e.userName !== undefined ? `user=${e.userName}` : e.userId !== undefined ? `uid=${e.userId}` : '',
        e.executablePath !== undefined ? `exe=${e.executablePath}` : '',
        e.exitCode !== undefined ? `exit=${e.exitCode}` : '',
      ].filter((s) => s !== '');
      return `${t} process.${e.subtype.padEnd(8)} pid=${e.pid} ${extra.join(' ')} ${argv}`;
    }
    case 'network':
      return `${t} network ${e.protocol} ${e.sourceAddr} -> ${e.destAddr} ${e.state}${e.pid !== undefined ? ` pid=${e.pid}` : ''}`;
    case 'filesystem':
      return `${t} filesystem ${e.operation} ${e.path}${e.pid !== undefined ? ` pid=${e.pid}` : ''}`;
    case 'performance':
      return `${t} performance ${e.component}.${e.metricName}=${e.value}${e.unit}`;
    case 'trigger_request':
      return `${t} trigger ${e.triggerId} ${e.analysisType} -> ${e.targetCollector}`;
    case 'analysis_result':
      return `${t} analysis ${e.analysisType} ${e.success ? 'ok' : `failed: ${e.error ?? ''}`}`;
  }
}

/** A sink that writes events to a stream as JSON lines or pretty lines. */
export class StreamSink implements EventSink {
  readonly #stream: Writable;
  readonly #format: Exclude<OutputFormat, 'none'>;
  #error: Error | undefined;

  constructor(stream: Writable, format: Exclude<OutputFormat, 'none'>) {
    this.#stream = stream;
    this.#format = format;
    stream.on('error', (e: Error) => {
      this.#error = e;
    });
  }

  name(): string {
    return `stdout-${this.#format}`;
  }

  async write(batch: readonly CollectionEvent[]): Promise<void> {
    if (this.#error !== undefined) throw this.#error;
    let text = '';
    for (const e of batch) text += `${this.#format === 'jsonl' ? JSON.stringify(e) : formatPretty(e)}\n`;
    if (!this.#stream.write(text)) {
      await Promise.race([
        once(this.#stream, 'drain'),
        once(this.#stream, 'close').then(() => {
          throw this.#error ?? new Error('output stream closed');
        }),
      ]);
    }
    if (this.#error !== undefined) throw this.#error;
  }
}
