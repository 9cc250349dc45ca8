/**
 * The DaemonEye-mode listener: bare DetectionTask frames in, bare DetectionResult frames out, as
 * DaemonEye's agent speaks. The results are decoded with protobufjs from the `.proto` files, as an
 * independent implementation would.
 */
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { batchOf } from '@daemoneye/core';
import { DetectionTask, PROTO_DIR, TaskType } from '@daemoneye/proto';
import protobuf from 'protobufjs';
import { afterEach, describe, expect, it } from 'vitest';
import { idleCollector, processEvents, tempDir } from './__test__/helpers.ts';
import { encodeFrame, FrameDecoder } from './framing.ts';
import { CollectorIpcServer } from './server.ts';

const root = new protobuf.Root();
root.resolvePath = (_o, target) => `${PROTO_DIR}${target}`;
root.loadSync(['common.proto', 'ipc.proto']);
const Result = root.lookupType('DetectionResult');

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

interface PlainResult {
  taskId: string;
  success: boolean;
  errorMessage?: string;
  processes: { pid: number; name: string; startTime?: number }[];
}

function exchange(path: string, frames: Buffer[], expect: number): Promise<PlainResult[]> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect(path, () => {
      for (const f of frames) s.write(f);
    });
    const decoder = new FrameDecoder();
    const out: PlainResult[] = [];
    s.on('data', (d) => {
      for (const p of decoder.push(d)) {
        out.push(Result.toObject(Result.decode(p), { longs: Number, arrays: true, defaults: true }) as PlainResult);
      }
      if (out.length >= expect) {
        s.destroy();
        resolve(out);
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve(out));
  });
}

describe('DaemonEye mode', () => {
  it('answers bare DetectionTasks in order, errors inside the result, and closes on a malformed frame', async () => {
    const t = tempDir();
    cleanups.push(() => t.remove());
    const socketPath = join(t.dir, 'ipc', 'collector.sock');
    const daemoneyeSocketPath = join(t.dir, 'procmond', 'procmond.sock');
    const server = new CollectorIpcServer({ socketPath, daemoneyeSocketPath, collector: idleCollector() });
    await server.start();
    cleanups.push(() => server.close());
    await server.write(batchOf(processEvents(4), { firstSeq: 1, source: 'process' }));
    const task = (taskId: string, taskType: number, pids: number[] = []) =>
      encodeFrame(
        DetectionTask.encode(
          DetectionTask.fromPartial({ taskId, taskType: taskType as never, processFilter: { pids } }),
        ).finish(),
      );
    const results = await exchange(
      daemoneyeSocketPath,
      [task('a', TaskType.ENUMERATE_PROCESSES, [1001, 1003]), task('b', TaskType.TRACK_FILE_OPERATIONS)],
      2,
    );
    expect(results.map((r) => [r.taskId, r.success])).toEqual([
      ['a', true],
      ['b', false],
    ]);
    expect(results[0]?.processes.map((p) => [p.pid, p.name])).toEqual([
      [1001, 'sh'],
      [1003, 'sh'],
    ]);
    expect(results[1]?.errorMessage).toBe('ERR_IPC_UNSUPPORTED: no running source of this collector watches files');
    const bad = await exchange(daemoneyeSocketPath, [encodeFrame(Buffer.from([0x12, 0x05, 0x01]))], 1);
    expect(bad).toHaveLength(1);
    expect(bad[0]?.success).toBe(false);
    expect(bad[0]?.errorMessage).toMatch(/^ERR_IPC_DECODE: /);
    expect(server.stats().errors.ERR_IPC_DECODE).toBe(1);
  });
});
