import type { DeliveryMessage } from './delivery-message.js';
import { anyFilterMatches } from './event-types.js';
import { signatureHeaders } from './signing.js';
import type { SubscriptionStore } from './subscriptions.js';

export interface DeliveryDependencies {
  subscriptions: SubscriptionStore;
  attemptTimeoutMs: number;
  /** Injectable for tests of transport edge cases; the real global fetch otherwise. */
  fetch?: typeof fetch;
}

/** The explicit result of one attempt; the handler turns it into SQS actions. */
export type DeliveryOutcome =
  | { result: 'delivered'; statusCode: number; latencyMs: number }
  | { result: 'failed'; statusCode?: number; errorClass?: 'timeout' | 'connection_error'; latencyMs: number }
  | {
      result: 'skipped';
      reason: 'subscription_deleted' | 'subscription_disabled' | 'event_type_unsubscribed';
    };

export const USER_AGENT = 'webhook-fanout/0.1 (+https://www.standardwebhooks.com)';

/**
 * One signed POST of one event to one subscription, read afresh so that a disabled, deleted or re-filtered
 * subscription is honoured even for messages queued before the change. Redirects are never followed.
 */
export async function attemptDelivery(
  deps: DeliveryDependencies,
  message: DeliveryMessage,
  now: Date = new Date(),
): Promise<DeliveryOutcome> {
  const subscription = await deps.subscriptions.get(message.tenantId, message.subscriptionId, false);
  if (!subscription) return { result: 'skipped', reason: 'subscription_deleted' };
  if (subscription.status !== 'active') return { result: 'skipped', reason: 'subscription_disabled' };
  if (!anyFilterMatches(subscription.eventTypes, message.event.type)) {
    return { result: 'skipped', reason: 'event_type_unsubscribed' };
  }

  const { id, type, timestamp, data } = message.event;
  const body = JSON.stringify({ type, timestamp, data });
  const started = performance.now();
  try {
    const response = await (deps.fetch ?? fetch)(subscription.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        ...signatureHeaders(subscription.secret, id, now, body),
      },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(deps.attemptTimeoutMs),
    });
    // The body is not needed; cancelling it frees the connection for reuse.
    await response.body?.cancel();
    const latencyMs = Math.round(performance.now() - started);
    return response.status >= 200 && response.status < 300
      ? { result: 'delivered', statusCode: response.status, latencyMs }
      : { result: 'failed', statusCode: response.status, latencyMs };
  } catch (error) {
    const latencyMs = Math.round(performance.now() - started);
    const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
    return { result: 'failed', errorClass: timedOut ? 'timeout' : 'connection_error', latencyMs };
  }
}
