import { describe, expect, it } from 'vitest';
import { createListeners } from './listeners.ts';

describe('listeners', () => {
  it('unsubscribing stops delivery to that callback only, and is idempotent', () => {
    const l = createListeners<number>();
    const a: number[] = [];
    const b: number[] = [];
    const offA = l.add((v) => a.push(v));
    l.add((v) => b.push(v));
    l.emit(1);
    offA();
    offA();
    l.emit(2);
    expect([a, b, l.size()]).toEqual([[1], [1, 2], 1]);
  });

  it('isolates a throwing callback and reports it', () => {
    const thrown: string[] = [];
    const l = createListeners<number>({ onThrow: (e) => thrown.push(e.message) });
    const got: number[] = [];
    l.add(() => {
      throw new Error('boom');
    });
    l.add((v) => got.push(v));
    l.emit(7);
    expect([thrown, got]).toEqual([['boom'], [7]]);
  });

  it('queues values until the first callback, dropping the oldest beyond the bound', async () => {
    const dropped: number[] = [];
    const l = createListeners<number>({ bufferUntilFirst: 2, onDrop: (v) => dropped.push(v) });
    l.emit(1);
    l.emit(2);
    l.emit(3);
    const got: number[] = [];
    l.add((v) => got.push(v));
    expect(got).toEqual([]);
    await Promise.resolve();
    l.emit(4);
    expect([got, dropped]).toEqual([[2, 3, 4], [1]]);
  });
});
