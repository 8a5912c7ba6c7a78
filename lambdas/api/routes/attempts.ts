import type { RouteKey } from '../../contract/api-routes.js';
import type { AttemptLog, AttemptPage } from '../../storage/attempts.js';
import type { EventStore } from '../../storage/events.js';
import type { SubscriptionStore } from '../../storage/subscriptions.js';
import { decodeAttemptCursor, encodeAttemptCursor, invalidCursor } from '../cursors.js';
import { jsonResponse, type RouteHandler } from '../handler.js';
import { findPathEvent, findSubscription, pathSubscriptionId } from '../lookups.js';
import { listQuerySchema, validate } from '../schemas.js';

export interface AttemptApiDependencies {
  subscriptions: SubscriptionStore;
  events: EventStore;
  attempts: AttemptLog;
}

/** The attempt log, newest first, a page at a time: `?limit=` (1–100, default 50) and `?cursor=`. */
export function attemptRoutes(deps: AttemptApiDependencies): Partial<Record<RouteKey, RouteHandler>> {
  return {
    'GET /subscriptions/{id}/attempts': async (request) => {
      const query = validate(listQuerySchema, request.query, 'query');
      const after = decodeAttemptCursor(query.cursor);
      const subscription = await findSubscription(
        deps.subscriptions,
        request.tenantId,
        pathSubscriptionId(request),
      );
      // This listing's cursors always name its own subscription; another one would be a different query.
      if (after && after.subscriptionId !== subscription.id) throw invalidCursor();
      const page = await deps.attempts.listBySubscription(request.tenantId, subscription.id, {
        limit: query.limit,
        after,
      });
      return jsonResponse(200, pageBody(page));
    },

    'GET /events/{id}/attempts': async (request) => {
      const query = validate(listQuerySchema, request.query, 'query');
      const after = decodeAttemptCursor(query.cursor);
      const event = await findPathEvent(deps.events, request);
      const page = await deps.attempts.listByEvent(request.tenantId, event.id, { limit: query.limit, after });
      return jsonResponse(200, pageBody(page));
    },
  };
}

function pageBody(page: AttemptPage) {
  return { items: page.items, ...(page.last ? { nextCursor: encodeAttemptCursor(page.last) } : {}) };
}
