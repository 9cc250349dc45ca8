import type { CollectionEvent } from '@daemoneye/core';
import { EventBatch } from '@daemoneye/proto';
import { describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch } from './encoding.ts';

const events: CollectionEvent[] = [
  {
    kind: 'process',
    subtype: 'exec',
    pid: 42,
    ppid: 1,
    name: 'curl',
    executablePath: '/usr/bin/curl',
    commandLine: ['curl', 'https://example.com'],
    startTime: 1_700_000_000_000,
    cpuUsage: 1.5,
    memoryUsage: 4096,
    userId: '1000',
    accessible: true,
    fileExists: true,
    cgroup: '/user.slice',
    timestamp: 1_700_000_000_001,
    platformMetadata: { tty: 'pts/0', nice: 0, kthread: false },
  },
  {
    kind: 'network',
    connectionId: 'tcp:1',
    sourceAddr: '127.0.0.1:5000',
    destAddr: '[::1]:80',
    protocol: 'tcp',
    state: 'ESTABLISHED',
    bytesSent: 10,
    bytesReceived: 20,
    timestamp: 1_700_000_000_002,
    subtype: 'state_change',
    previousState: 'SYN_SENT',
    family: 6,
    pidUnknownReason: 'not_found',
  },
  { kind: 'filesystem', path: '/etc/passwd', operation: 'modify', size: 1234, permissions: '0644', timestamp: 3 },
  {
    kind: 'performance',
    metricName: 'cpu_usage',
    value: 97.5,
    unit: 'percent',
    component: 'system',
    timestamp: 4,
    subtype: 'threshold_crossed',
    threshold: { bound: 'max', limit: 90, holdMs: 5000 },
  },
  {
    kind: 'trigger_request',
    triggerId: 't1',
    targetCollector: 'hasher',
    analysisType: 'BinaryHash',
    priority: 2,
    targetPid: 42,
    correlationId: 'c1',
    metadata: { root_id: 'r' },
    timestamp: 5,
  },
  {
    kind: 'analysis_result',
    analysisType: 'BinaryHash',
    triggerId: 't1',
    success: true,
    data: { sha256: 'ab', nested: { n: 1 } },
    timestamp: 6,
  },
];

describe('message encoding', () => {
  it('round-trips every event kind and its record through a daemoneye.v1.EventBatch', () => {
    const host = { hostname: 'web-1', machineId: 'f'.repeat(32) };
    const forwarded = events.map((event, i) => ({
      record: {
        seq: 100 + i,
        runId: 'run-1',
        source: 's',
        acceptedAt: 1000 + i,
        depth: i === 5 ? 1 : 0,
        ...(i === 5 ? { cause: 104 } : {}),
      },
      event,
    }));
    const data = encodeBatch(host, 'daemoneye-collector', forwarded);
    const back = decodeBatch(data);
    expect(back.host).toEqual(host);
    expect(back.collector).toBe('daemoneye-collector');
    expect(back.runId).toBe('run-1');
    expect(back.events).toEqual(forwarded);
    // Any protobuf reader of the schema sees the same batch.
    const raw = EventBatch.decode(data);
    expect(raw.records.map((r) => r.event?.$case)).toEqual([
      'process',
      'network',
      'filesystem',
      'performance',
      'triggerRequest',
      'analysisResult',
    ]);
  });

  it('rejects data that is not an EventBatch', () => {
    expect(() => decodeBatch(Uint8Array.from([0x0a, 0xff, 0xff]))).toThrow();
  });
});
