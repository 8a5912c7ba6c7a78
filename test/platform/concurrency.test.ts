import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { mapConcurrently } from '../../lambdas/platform/concurrency.js';

describe('mapConcurrently', () => {
  it('returns the results in the items’ order, with never more than `concurrency` under way', async () => {
    let running = 0;
    let most = 0;
    const results = await mapConcurrently([30, 10, 20, 5, 15, 1], 3, async (ms) => {
      most = Math.max(most, ++running);
      await sleep(ms);
      running--;
      return ms * 2;
    });
    expect(results).toEqual([60, 20, 40, 10, 30, 2]);
    expect(most).toBe(3);
  });

  it('starts nothing after a failure and throws the first error once the work under way has settled', async () => {
    const started: number[] = [];
    const settled: number[] = [];
    const done = mapConcurrently([1, 2, 3, 4, 5, 6], 2, async (item) => {
      started.push(item);
      await sleep(item === 1 ? 5 : 30);
      settled.push(item);
      if (item === 1) throw new Error('first');
      if (item === 2) throw new Error('second');
    });
    await expect(done).rejects.toThrow('first');
    expect(started).toEqual([1, 2]);
    expect(settled).toEqual([1, 2]);
  });

  it('calls nothing for no items', async () => {
    expect(await mapConcurrently([], 4, async () => 1)).toEqual([]);
  });
});
