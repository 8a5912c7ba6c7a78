import { EVENT_ID_PATTERN } from '../contract/bus-events.js';
import { ConflictError, NotFoundError } from '../platform/errors.js';
import type { EventStore, StoredEvent } from '../storage/events.js';
import type { StoredSubscription } from '../storage/subscription-model.js';
import type { SubscriptionStore } from '../storage/subscriptions.js';
import type { ApiRequest } from './handler.js';
import { SUBSCRIPTION_ID_PATTERN } from './schemas.js';

/**
 * Ids from a request resolved to the caller's own resources. Every read is keyed by the caller's tenant, so
 * another tenant's id, a malformed id and one that never existed are the same 404.
 */
export function pathSubscriptionId(request: ApiRequest): string {
  const id = request.pathParameters.id ?? '';
  if (!SUBSCRIPTION_ID_PATTERN.test(id)) throw subscriptionNotFound(id);
  return id;
}

export async function findSubscription(
  store: SubscriptionStore,
  tenantId: string,
  id: string,
): Promise<StoredSubscription> {
  const subscription = await store.get(tenantId, id);
  if (!subscription) throw subscriptionNotFound(id);
  return subscription;
}

/** Deliveries go to active subscriptions only, so a replay to a disabled one would silently do nothing. */
export function requireActive(subscription: StoredSubscription): void {
  if (subscription.status !== 'active') {
    throw new ConflictError(
      `subscription ${subscription.id} is disabled; re-enable it with PATCH {"status":"active"} first`,
    );
  }
}

/** The caller's stored event named in the path; expired events are gone. */
export async function findPathEvent(events: EventStore, request: ApiRequest): Promise<StoredEvent> {
  const id = request.pathParameters.id ?? '';
  const event = EVENT_ID_PATTERN.test(id) ? await events.get(request.tenantId, id) : undefined;
  if (!event) throw new NotFoundError(`event ${id} does not exist or is past its retention period`);
  return event;
}

function subscriptionNotFound(id: string): NotFoundError {
  return new NotFoundError(`subscription ${id} does not exist`);
}
