import { describe, expect, it } from 'vitest';
import { KeyedLocks } from './locks.ts';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('KeyedLocks', () => {
  it('different keys run concurrently; the same key is FIFO', async () => {
    const locks = new KeyedLocks();
    const order: string[] = [];
    const gate = deferred();
    const a = locks.with(['p1,iqnA'], async () => {
      order.push('a start');
      await gate.promise;
      order.push('a end');
    });
    const b = locks.with(['p2,iqnB'], async () => {
      order.push('b');
    });
    const c = locks.with(['p1,iqnA'], async () => {
      order.push('c');
    });
    await b;
    expect(order).toEqual(['a start', 'b']);
    gate.resolve();
    await Promise.all([a, c]);
    expect(order).toEqual(['a start', 'b', 'a end', 'c']);
    expect(locks.busyKeys).toEqual([]);
  });

  it('overlapping key sets in opposite order do not deadlock', async () => {
    const locks = new KeyedLocks();
    const done: string[] = [];
    await Promise.all([
      locks.with(['x', 'y'], async () => void done.push('xy')),
      locks.with(['y', 'x'], async () => void done.push('yx')),
    ]);
    expect(done.sort()).toEqual(['xy', 'yx']);
  });

  it('a throwing holder releases the key', async () => {
    const locks = new KeyedLocks();
    await expect(locks.with(['k'], () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(locks.with(['k'], async () => 1)).resolves.toBe(1);
  });
});
