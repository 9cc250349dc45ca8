import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startWorkerHost } from './worker-host.ts';

/** A worker script as a data: URL (ES module). */
const script = (source: string): URL => new URL(`data:text/javascript,${encodeURIComponent(source)}`);

/** Echoes every message back; ends on `stop` by closing its port. */
const ECHO = script(`
  import { parentPort } from 'node:worker_threads';
  parentPort.on('message', (m) => {
    if (m.type === 'stop') parentPort.close();
    else parentPort.postMessage({ echo: m.n });
  });
`);

/** Ignores `stop` and keeps running. */
const STUBBORN = script(`
  import { parentPort } from 'node:worker_threads';
  parentPort.on('message', () => {});
  setInterval(() => {}, 1000);
`);

afterEach(() => {
  vi.restoreAllMocks();
});

describe('startWorkerHost', () => {
  it('delivers messages until a callback unsubscribes, then stops gently on close', async () => {
    const terminate = vi.spyOn(Worker.prototype, 'terminate');
    const host = startWorkerHost<{ type: string; n?: number }, { echo: number }>({ script: ECHO });
    const kept: number[] = [];
    const dropped: number[] = [];
    host.onMessage((m) => kept.push(m.echo));
    const off = host.onMessage((m) => dropped.push(m.echo));
    const exits: number[] = [];
    host.onExit((code) => exits.push(code));
    host.post({ type: 'n', n: 1 });
    await vi.waitFor(() => expect(kept).toEqual([1]));
    off();
    host.post({ type: 'n', n: 2 });
    await vi.waitFor(() => expect(kept).toEqual([1, 2]));
    expect(dropped).toEqual([1]);
    const closing = host.close();
    expect(host.close()).toBe(closing);
    await closing;
    expect([host.exited(), host.closing(), exits]).toEqual([true, true, [0]]);
    expect(terminate).not.toHaveBeenCalled();
    host.post({ type: 'n', n: 3 }); // after exit: ignored, no throw
  });

  it('terminates a worker that has not ended within the grace period', async () => {
    const terminate = vi.spyOn(Worker.prototype, 'terminate');
    const host = startWorkerHost({ script: STUBBORN, stopGraceMs: 100 });
    let stopped = 0;
    const h2 = startWorkerHost({ script: ECHO, onStop: () => stopped++ });
    await Promise.all([host.close(), h2.close()]);
    expect(terminate).toHaveBeenCalledTimes(1);
    expect([host.exited(), h2.exited(), stopped]).toEqual([true, true, 1]);
  });

  it('reports an uncaught error in the worker through onError and onExit', async () => {
    const host = startWorkerHost({ script: script(`throw new Error('worker broke');`) });
    const errors: string[] = [];
    host.onError((e) => errors.push(e.message));
    await new Promise<void>((resolve) => host.onExit(() => resolve()));
    expect(errors).toEqual(['worker broke']);
  });

  it('starts the worker without the parent process options', () => {
    const probe = script(`
      import { parentPort } from 'node:worker_threads';
      parentPort.postMessage(process.execArgv);
      parentPort.close();
    `);
    const host = startWorkerHost<never, string[]>({ script: probe });
    return new Promise<void>((resolve) => {
      host.onMessage((argv) => {
        expect(argv).toEqual([]);
        resolve();
      });
    });
  });

  it('with keepAlive false an idle worker does not keep the process alive', () => {
    const entry = new URL('../dist/worker-host.js', import.meta.url).href;
    const code = `
      const { startWorkerHost } = await import(${JSON.stringify(entry)});
      startWorkerHost({ script: new URL(${JSON.stringify(STUBBORN.href)}), keepAlive: false });
      process.on('exit', () => process.stdout.write('exited'));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 10_000 });
    expect([r.status, r.stdout]).toEqual([0, 'exited']);
  });
});
