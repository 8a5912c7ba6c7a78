import type { SQSClient } from '@aws-sdk/client-sqs';
import type { RouteKey } from '../../contract/api-routes.js';
import { anyFilterMatches } from '../../contract/event-types.js';
import { sendFanoutJob } from '../../fanout/jobs.js';
import { ValidationError } from '../../platform/errors.js';
import type { EventStore } from '../../storage/events.js';
import type { SubscriptionStore } from '../../storage/subscriptions.js';
import { jsonResponse, type RouteHandler } from '../handler.js';
import { findPathEvent, findSubscription, pathSubscriptionId, requireActive } from '../lookups.js';
import { replayEventSchema, replaySinceSchema, validate } from '../schemas.js';

export interface ReplayApiDependencies {
  subscriptions: SubscriptionStore;
  events: EventStore;
  sqs: SQSClient;
  fanoutQueueUrl: string;
}

/**
 * Replays re-deliver stored events. The API only checks the request and queues a fan-out job (202); the
 * fan-out function expands it into deliveries page by page, so a replay of any size answers at once.
 */
export function replayRoutes(deps: ReplayApiDependencies): Partial<Record<RouteKey, RouteHandler>> {
  return {
    /** Again to every active subscription the event matches today, or to the one named in the body. */
    'POST /events/{id}/replay': async (request) => {
      const { subscriptionId } = validate(replayEventSchema, request.optionalJsonBody());
      const event = await findPathEvent(deps.events, request);
      const { tenantId } = request;
      if (subscriptionId === undefined) {
        await sendFanoutJob(deps.sqs, deps.fanoutQueueUrl, {
          job: 'event',
          tenantId,
          eventId: event.id,
          eventType: event.type,
          replay: true,
        });
        return jsonResponse(202, { eventId: event.id });
      }
      const subscription = await findSubscription(deps.subscriptions, tenantId, subscriptionId);
      requireActive(subscription);
      // Delivery would skip it; saying so now beats a 202 that silently does nothing.
      if (!anyFilterMatches(subscription.eventTypes, event.type)) {
        throw new ValidationError(
          `subscriptionId: subscription ${subscriptionId} does not subscribe to events of type ${event.type}`,
        );
      }
      await sendFanoutJob(deps.sqs, deps.fanoutQueueUrl, {
        job: 'event-subscription',
        tenantId,
        eventId: event.id,
        subscriptionId,
      });
      return jsonResponse(202, { eventId: event.id, subscriptionId });
    },

    /** Every stored event since `since` that has not been delivered to this subscription successfully. */
    'POST /subscriptions/{id}/replay': async (request) => {
      const input = validate(replaySinceSchema, request.jsonBody());
      const subscription = await findSubscription(
        deps.subscriptions,
        request.tenantId,
        pathSubscriptionId(request),
      );
      requireActive(subscription);
      // Offsets are accepted on input; the job and the answer carry the same instant in UTC.
      const since = new Date(input.since).toISOString();
      await sendFanoutJob(deps.sqs, deps.fanoutQueueUrl, {
        job: 'subscription-since',
        tenantId: request.tenantId,
        subscriptionId: subscription.id,
        since,
      });
      return jsonResponse(202, { subscriptionId: subscription.id, since });
    },
  };
}
