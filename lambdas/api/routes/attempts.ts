import * as z from 'zod/mini';
import type { RouteKey } from '../../contract/api-routes.js';
import { BadRequestError } from '../../platform/errors.js';
import { safeParse } from '../../platform/validation.js';
import {
  ATTEMPT_ID_PATTERN,
  type AttemptCursor,
  type AttemptLog,
  type AttemptPage,
} from '../../storage/attempts.js';
import type { EventStore } from '../../storage/events.js';
import type { SubscriptionStore } from '../../storage/subscriptions.js';
import { jsonResponse, type RouteHandler } from '../handler.js';
import { findPathEvent, findSubscription, pathSubscriptionId } from '../lookups.js';
import { listQuerySchema, subscriptionIdField, validate } from '../schemas.js';

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

const attemptCursorSchema = z.strictObject({
  id: z.string().check(z.regex(ATTEMPT_ID_PATTERN)),
  subscriptionId: subscriptionIdField,
});

/** Cursors are opaque to clients: base64url JSON of the last attempt returned, read back within the tenant. */
export function encodeAttemptCursor(cursor: AttemptCursor): string {
  return Buffer.from(JSON.stringify({ id: cursor.id, subscriptionId: cursor.subscriptionId })).toString(
    'base64url',
  );
}

function decodeAttemptCursor(cursor: string | undefined): AttemptCursor | undefined {
  if (cursor === undefined) return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  const result = safeParse(attemptCursorSchema, decoded);
  if (!result.success) throw invalidCursor();
  return result.data;
}

function invalidCursor(): BadRequestError {
  return new BadRequestError('invalid_cursor', 'query.cursor is not a cursor this API returned');
}

function pageBody(page: AttemptPage) {
  return { items: page.items, ...(page.last ? { nextCursor: encodeAttemptCursor(page.last) } : {}) };
}
