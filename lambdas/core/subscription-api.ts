import type { RouteKey } from './api-routes.js';
import { BadRequestError, NotFoundError } from './errors.js';
import { type ApiRequest, emptyResponse, jsonResponse, type RouteHandler } from './http.js';
import { createSubscriptionSchema, listQuerySchema, updateSubscriptionSchema, validate } from './schemas.js';
import { type SubscriptionStore, toPublic } from './subscriptions.js';

const SUBSCRIPTION_ID_PATTERN = /^sub_[0-9A-Z]{26}$/;

/** The subscription routes. Every data access is keyed by the caller's tenant, so another tenant's id is a 404. */
export function subscriptionRoutes(
  store: SubscriptionStore,
  options: { allowPrivateUrls: boolean },
): Partial<Record<RouteKey, RouteHandler>> {
  const createSchema = createSubscriptionSchema(options.allowPrivateUrls);
  const updateSchema = updateSubscriptionSchema(options.allowPrivateUrls);

  return {
    'POST /subscriptions': async (request) => {
      const input = validate(createSchema, request.jsonBody());
      const created = await store.create(request.tenantId, input);
      // The only response that ever carries the signing secret.
      return jsonResponse(201, { ...toPublic(created), secret: created.secret });
    },

    'GET /subscriptions': async (request) => {
      const query = validate(listQuerySchema, request.query, 'query');
      const page = await store.list(request.tenantId, {
        limit: query.limit,
        afterId: decodeCursor(query.cursor),
      });
      return jsonResponse(200, {
        items: page.items,
        ...(page.lastId ? { nextCursor: Buffer.from(page.lastId).toString('base64url') } : {}),
      });
    },

    'GET /subscriptions/{id}': async (request) => {
      const id = subscriptionId(request);
      const subscription = await store.get(request.tenantId, id);
      if (!subscription) throw new NotFoundError(`subscription ${id} does not exist`);
      return jsonResponse(200, toPublic(subscription));
    },

    'PATCH /subscriptions/{id}': async (request) => {
      const id = subscriptionId(request);
      const changes = validate(updateSchema, request.jsonBody());
      return jsonResponse(200, toPublic(await store.update(request.tenantId, id, changes)));
    },

    'DELETE /subscriptions/{id}': async (request) => {
      await store.delete(request.tenantId, subscriptionId(request));
      return emptyResponse(204);
    },
  };
}

function subscriptionId(request: ApiRequest): string {
  const id = request.pathParameters.id ?? '';
  if (!SUBSCRIPTION_ID_PATTERN.test(id)) throw new NotFoundError(`subscription ${id} does not exist`);
  return id;
}

/** Cursors are opaque to clients; inside is the last id seen, always combined with the caller's own tenant. */
function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!SUBSCRIPTION_ID_PATTERN.test(id))
    throw new BadRequestError('invalid_cursor', 'query.cursor is not a cursor this API returned');
  return id;
}
