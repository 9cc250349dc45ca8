/**
 * The stdout sink of the `run` command and its definition (`[sinks.stdout]`): `jsonl` writes one JSON
 * object per event per line (for piping into jq or a log shipper), `pretty` one readable line per
 * event, `auto` (the default) pretty on a terminal and JSON lines otherwise. Writes honour the stream's backpressure (await `drain`), so a slow terminal or pipe slows the
 * sink's queue instead of growing memory. A stream whose reader went away (EPIPE, as with `| head`)
 * makes `write` reject with `ERR_SINK_CLOSED`: the collector counts the rest as `sink_closed` and,
 * with no other sink, stops normally.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { type CollectionEvent, CollectorError, defineSink, type EventSink, field } from '@daemoneye/core';

/** The output formats of the `run` command (`none` turns the stdout sink off). */
export type OutputFormat = 'auto' | 'jsonl' | 'pretty' | 'none';

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
    case 'filesystem': {
      const extra = [
        e.oldPath !== undefined ? `from=${e.oldPath}` : '',
        e.pid !== undefined ? `pid=${e.pid}` : '',
        e.processName !== undefined ? `comm=${e.processName}` : '',
        e.uid !== undefined ? `uid=${e.uid}` : '',
        e.permissions !== undefined && e.operation === 'attrib' ? `mode=${e.permissions}` : '',
        e.modifyCount !== undefined && e.modifyCount > 1 ? `x${e.modifyCount}` : '',
      ].filter((s) => s !== '');
      return `${t} filesystem ${e.operation} ${e.path}${extra.length > 0 ? ` ${extra.join(' ')}` : ''}`;
    }
    case 'performance':
      return `${t} performance ${e.component}.${e.metricName}=${e.value}${e.unit}`;
    case 'trigger_request':
      return `${t} trigger ${e.triggerId} ${e.analysisType} -> ${e.targetCollector}`;
    case 'analysis_result':
      return `${t} analysis ${e.analysisType} ${e.success ? 'ok' : `failed: ${e.error ?? ''}`}`;
  }
}

/** EPIPE (the reader went away) as `ERR_SINK_CLOSED`; any other stream error as it is. */
function asClosed(e: NodeJS.ErrnoException): Error {
  return e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED'
    ? new CollectorError('ERR_SINK_CLOSED', `output stream closed by its reader (${e.code})`, { cause: e })
    : e;
}

/** A sink that writes events to a stream as JSON lines or pretty lines. */
export class StreamSink implements EventSink {
  readonly #stream: Writable;
  readonly #format: 'jsonl' | 'pretty';
  #error: Error | undefined;

  constructor(stream: Writable, format: 'jsonl' | 'pretty') {
    this.#stream = stream;
    this.#format = format;
    stream.on('error', (e: NodeJS.ErrnoException) => {
      this.#error = asClosed(e);
    });
  }

  name(): string {
    return `stdout-${this.#format}`;
  }

  async write(batch: readonly CollectionEvent[]): Promise<void> {
    if (this.#error !== undefined) throw this.#error;
    if (this.#stream.destroyed) throw new CollectorError('ERR_SINK_CLOSED', 'output stream closed');
    let text = '';
    for (const e of batch) text += `${this.#format === 'jsonl' ? JSON.stringify(e) : formatPretty(e)}\n`;
    if (!this.#stream.write(text)) {
      try {
        await Promise.race([
          once(this.#stream, 'drain'),
          once(this.#stream, 'close').then(() => {
            throw this.#error ?? new CollectorError('ERR_SINK_CLOSED', 'output stream closed');
          }),
        ]);
      } catch (e) {
        // `once` rejects with the stream's own 'error' (EPIPE): say it the collector's way.
        throw this.#error ?? asClosed(e as NodeJS.ErrnoException);
      }
    }
    if (this.#error !== undefined) throw this.#error;
  }
}

/** `[sinks.stdout]`: events on a stream (the command's stdout), as JSON lines or pretty lines. */
export function stdoutSinkDefinition(stream: Writable) {
  return defineSink({
    key: 'stdout',
    description: 'Events on stdout, one per line',
    schema: {
      format: field('enum', 'auto', 'How `run` prints events on stdout (auto: pretty on a terminal, else jsonl)', {
        values: ['auto', 'jsonl', 'pretty'],
      }),
    },
    create: (o) =>
      new StreamSink(
        stream,
        o.format === 'auto' ? ((stream as { isTTY?: boolean }).isTTY === true ? 'pretty' : 'jsonl') : o.format,
      ),
  });
}
