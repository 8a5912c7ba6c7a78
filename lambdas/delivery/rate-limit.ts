import { delaySeconds, MAX_DELAY_SECONDS } from '../contract/delivery-message.js';
import { logger } from '../platform/logger.js';
import { attemptCounterKey } from '../storage/keys.js';
import type { RateCounters } from '../storage/rate-counters.js';
import type { StoredSubscription } from '../storage/subscription-model.js';

/**
 * A subscription's rate limit: at most `rateLimit` attempts in each epoch second, counted in one item per
 * subscription and second that every deliver instance shares (storage/rate-counters.ts). A delivery refused
 * its slot waits as a waiting copy, like one behind an open circuit: no request, no attempt spent.
 *
 * What it guarantees: any 10-second interval overlaps at most 11 of the one-second windows (10 when it begins
 * on a second), so it holds at most 11 × rateLimit attempts, 10 × rateLimit + 10%, however many instances
 * deliver at once. The window is read from the clock just before the slot is taken, and Lambda's clocks are
 * kept in sync (Amazon Time Sync), so instances share the same windows. The bound is on slots; each request
 * follows its slot by milliseconds, so at the receiver a window's edge can move by that much.
 *
 * A subscription without a limit makes no call at all: the limit is on the subscription item the delivery
 * reads anyway.
 */
export type RateGate = { go: true } | { go: false; reason: 'rate_limited'; waitSeconds: number };

export interface RateLimitDependencies {
  /** The attempt counters, in the attempts table (which expires them by TTL). */
  attemptCounters: RateCounters;
  now?: (() => Date) | undefined;
  random?: (() => number) | undefined;
}

export async function rateGate(
  deps: RateLimitDependencies,
  subscription: StoredSubscription,
): Promise<RateGate> {
  const limit = subscription.rateLimit;
  if (limit === undefined) return { go: true };
  const random = deps.random ?? Math.random;
  const second = Math.floor((deps.now?.() ?? new Date()).getTime() / 1000);
  const { tenantId, id } = subscription;
  let count: number;
  try {
    count = await deps.attemptCounters.take(attemptCounterKey(tenantId, id, second), second);
  } catch (error) {
    // Fail closed: without its count the limit cannot be kept, and waiting costs the delivery no attempt.
    logger.error('rate limit counter unavailable; delivery waits', {
      subscriptionId: id,
      error: (error as Error).message,
    });
    return { go: false, reason: 'rate_limited', waitSeconds: delaySeconds(1 + random()) };
  }
  if (count <= limit) return { go: true };
  return { go: false, reason: 'rate_limited', waitSeconds: waitForTurn(count - limit, limit, random) };
}

/**
 * When the `over`th delivery refused in a second comes back: `(over - 1) / limit` seconds of slots are taken
 * by those refused before it, so the refused of one second return spread over the seconds they need, about
 * `limit` in each, rather than all in the next. A random second on top mixes those of different seconds (a
 * delay is whole seconds). Past SQS's longest delay a delivery cannot wait for its turn: it comes back
 * within the last half of that delay, spread.
 */
function waitForTurn(over: number, limit: number, random: () => number): number {
  const turn = (over - 1) / limit + random();
  return delaySeconds(turn <= MAX_DELAY_SECONDS ? turn : MAX_DELAY_SECONDS * (1 - random() / 2));
}
