import { describe, expect, it } from 'vitest';
import { retryPartial } from '../../lambdas/platform/retry.js';

describe('retryPartial', () => {
  it('re-sends only what each call left undone, until nothing is', async () => {
    const calls: number[][] = [];
    await retryPartial(
      [1, 2, 3, 4, 5],
      async (pending) => {
        calls.push([...pending]);
        return pending.filter((item) => item > 3 && calls.length < 3);
      },
      { rounds: 6, baseDelayMs: 1, giveUp: () => new Error('gave up') },
    );
    expect(calls).toEqual([
      [1, 2, 3, 4, 5],
      [4, 5],
      [4, 5],
    ]);
  });

  it('makes `rounds` calls at most, waiting longer before each, then throws with what is left', async () => {
    const startedAt: number[] = [];
    const done = retryPartial(
      ['a', 'b'],
      async (pending) => {
        startedAt.push(performance.now());
        return pending.slice(0, 1);
      },
      { rounds: 3, baseDelayMs: 20, giveUp: (left) => new Error(`${left.length} left`) },
    );
    await expect(done).rejects.toThrow('1 left');
    expect(startedAt).toHaveLength(3);
    const [first = 0, second = 0, third = 0] = startedAt;
    // Timers may fire a little late, never early (a millisecond of rounding aside).
    expect(second - first).toBeGreaterThanOrEqual(19);
    expect(third - second).toBeGreaterThanOrEqual(39);
  });

  it('calls nothing for no items, and takes an undefined answer as nothing left', async () => {
    let calls = 0;
    const send = async () => {
      calls++;
      return undefined;
    };
    const options = { rounds: 1, baseDelayMs: 1, giveUp: () => new Error('gave up') };
    await retryPartial([], send, options);
    expect(calls).toBe(0);
    await retryPartial(['x'], send, options);
    expect(calls).toBe(1);
  });
});
