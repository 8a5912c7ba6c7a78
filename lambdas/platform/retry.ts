import { setTimeout as sleep } from 'node:timers/promises';

export interface PartialRetryOptions<T> {
  /** Calls in all, the first included. */
  rounds: number;
  /** The wait before the second call; it doubles before each further one. */
  baseDelayMs: number;
  /** The error thrown when items are still left after the last round. */
  giveUp: (left: readonly T[]) => Error;
}

/**
 * For batch calls that can succeed while leaving some items undone (BatchWriteItem's UnprocessedItems,
 * BatchGetItem's UnprocessedKeys, SendMessageBatch's Failed), which the SDK's own retries never re-send:
 * calls `send` with what is left until nothing is, a bounded number of times with exponential backoff, and
 * throws when items remain, so no caller believes a partial batch worked.
 */
export async function retryPartial<T>(
  items: readonly T[],
  /** Sends the items and returns those it left undone. */
  send: (pending: readonly T[]) => Promise<readonly T[] | undefined>,
  options: PartialRetryOptions<T>,
): Promise<void> {
  let pending = items;
  for (let round = 1; pending.length > 0; round++) {
    if (round > options.rounds) throw options.giveUp(pending);
    if (round > 1) await sleep(options.baseDelayMs * 2 ** (round - 2));
    pending = (await send(pending)) ?? [];
  }
}
