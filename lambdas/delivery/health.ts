import { logger } from '../platform/logger.js';
import type { DisabledReason, StoredSubscription } from '../storage/subscription-model.js';
import type { SubscriptionStore } from '../storage/subscriptions.js';
import { endpointOrigin, type OperationalEventDetail, type OperationalEvents } from './operational-events.js';

/**
 * Endpoint health: what one attempt's result changes about its subscription.
 *   a 410 Gone                                   → disabled (endpoint_gone)
 *   a failure, not failing yet                   → failing since now
 *   a failure, failing for autoDisableAfterSeconds → disabled (failing_too_long)
 *   a success while failing                      → recovered
 * Each change is a conditional write that only one concurrent attempt wins, and only the winner puts the
 * operational event, so a burst of failures reports each change once. The subscription is an eventually
 * consistent read, so a failing_too_long disable also requires the stored failingSince to be the one it was
 * decided on: a run that another attempt has ended (or ended and restarted) since is not disabled.
 */
export type HealthChange =
  | { kind: 'none' }
  | { kind: 'failing' }
  | { kind: 'recovered' }
  | { kind: 'disable'; reason: Extract<DisabledReason, 'endpoint_gone' | 'failing_too_long'> };

export function healthChange(
  subscription: Pick<StoredSubscription, 'failingSince'>,
  attempt: { result: 'delivered' | 'failed'; statusCode?: number | undefined },
  now: Date,
  autoDisableAfterSeconds: number,
): HealthChange {
  if (attempt.result === 'delivered')
    return subscription.failingSince ? { kind: 'recovered' } : { kind: 'none' };
  if (attempt.statusCode === 410) return { kind: 'disable', reason: 'endpoint_gone' };
  if (!subscription.failingSince) return { kind: 'failing' };
  const failingForMs = now.getTime() - Date.parse(subscription.failingSince);
  return failingForMs >= autoDisableAfterSeconds * 1000
    ? { kind: 'disable', reason: 'failing_too_long' }
    : { kind: 'none' };
}

export interface HealthDependencies {
  subscriptions: SubscriptionStore;
  operationalEvents: OperationalEvents;
}

/** Records a change and, if this call made it, puts its operational event. */
export async function applyHealthChange(
  deps: HealthDependencies,
  subscription: StoredSubscription,
  change: HealthChange,
  context: { eventId: string; now: Date },
): Promise<void> {
  const { tenantId, id } = subscription;
  const detail = (failingSince: string | undefined, reason?: string): OperationalEventDetail => ({
    tenantId,
    subscriptionId: id,
    endpoint: endpointOrigin(subscription.url),
    ...(reason ? { reason } : {}),
    ...(failingSince ? { failingSince } : {}),
    eventId: context.eventId,
    at: context.now.toISOString(),
  });
  switch (change.kind) {
    case 'none':
      return;
    case 'failing':
      if (await deps.subscriptions.markFailing(tenantId, id, context.now)) {
        await deps.operationalEvents('webhook.subscription.failing', detail(context.now.toISOString()));
      }
      return;
    case 'recovered':
      if (await deps.subscriptions.markRecovered(tenantId, id)) {
        await deps.operationalEvents('webhook.subscription.recovered', detail(subscription.failingSince));
      }
      return;
    case 'disable':
      // Conditional on the failure run the decision was based on: `subscription` is an eventually
      // consistent read, and another delivery may have ended that run (recovered) since.
      if (
        await deps.subscriptions.disable(tenantId, id, change.reason, {
          failingSince: subscription.failingSince,
        })
      ) {
        logger.warn('subscription disabled', { tenantId, subscriptionId: id, reason: change.reason });
        await deps.operationalEvents(
          'webhook.subscription.disabled',
          detail(subscription.failingSince, change.reason),
        );
      }
  }
}
