import type { SQSClient } from '@aws-sdk/client-sqs';
import type { RouteKey } from '../../contract/api-routes.js';
import { ValidationError } from '../../platform/errors.js';
import { checkWebhookHost, type HostResolver } from '../../security/address-guard.js';
import type { AttemptLog } from '../../storage/attempts.js';
import type { EventStore } from '../../storage/events.js';
import { toPublic } from '../../storage/subscription-model.js';
import type { SubscriptionStore } from '../../storage/subscriptions.js';
import { decodeSubscriptionCursor, encodeSubscriptionCursor } from '../cursors.js';
import { emptyResponse, jsonResponse, type RouteHandler } from '../handler.js';
import { findSubscription, pathSubscriptionId } from '../lookups.js';
import {
  createSubscriptionSchema,
  emptyBodySchema,
  listQuerySchema,
  updateSubscriptionSchema,
  validate,
} from '../schemas.js';
import { attemptRoutes } from './attempts.js';
import { replayRoutes } from './replays.js';
import { storedEventRoutes } from './stored-events.js';

export interface SubscriptionApiDependencies {
  subscriptions: SubscriptionStore;
  events: EventStore;
  attempts: AttemptLog;
  /** Replays are fan-out jobs on the fan-out queue. */
  sqs: SQSClient;
  fanoutQueueUrl: string;
  /** False in AWS mode: a webhook URL's host must resolve to global addresses only (address-guard.ts). */
  allowPrivateUrls: boolean;
  /** The guard's resolver; the system's by default. */
  resolveHost?: HostResolver | undefined;
}

/**
 * Every route of the API function: subscriptions, their attempt logs, stored events and replays.
 * Every data access is keyed by the caller's tenant, so another tenant's id is a 404.
 */
export function subscriptionRoutes(
  deps: SubscriptionApiDependencies,
): Partial<Record<RouteKey, RouteHandler>> {
  const store = deps.subscriptions;
  const createSchema = createSubscriptionSchema(deps.allowPrivateUrls);
  const updateSchema = updateSubscriptionSchema(deps.allowPrivateUrls);
  /** The lookup the schema cannot do: every address of the host must be global. Deliveries check again. */
  const checkUrlHost = async (url: string) => {
    if (deps.allowPrivateUrls) return;
    const check = await checkWebhookHost(new URL(url).hostname, deps.resolveHost);
    if (!check.ok) throw new ValidationError(`url: ${check.reason}`);
  };

  return {
    'POST /subscriptions': async (request) => {
      const input = validate(createSchema, request.jsonBody());
      await checkUrlHost(input.url);
      const created = await store.create(request.tenantId, input);
      // One of the two responses that carry a signing secret; the other is a rotation's.
      return jsonResponse(201, { ...toPublic(created), secret: created.secret });
    },

    'GET /subscriptions': async (request) => {
      const query = validate(listQuerySchema, request.query, 'query');
      const page = await store.list(request.tenantId, {
        limit: query.limit,
        afterId: decodeSubscriptionCursor(query.cursor),
      });
      return jsonResponse(200, {
        items: page.items,
        ...(page.lastId ? { nextCursor: encodeSubscriptionCursor(page.lastId) } : {}),
      });
    },

    'GET /subscriptions/{id}': async (request) => {
      const subscription = await findSubscription(store, request.tenantId, pathSubscriptionId(request));
      return jsonResponse(200, toPublic(subscription));
    },

    'PATCH /subscriptions/{id}': async (request) => {
      const id = pathSubscriptionId(request);
      const changes = validate(updateSchema, request.jsonBody());
      if (changes.url !== undefined) await checkUrlHost(changes.url);
      return jsonResponse(200, toPublic(await store.update(request.tenantId, id, changes)));
    },

    'DELETE /subscriptions/{id}': async (request) => {
      await store.delete(request.tenantId, pathSubscriptionId(request));
      return emptyResponse(204);
    },

    /**
     * A new signing secret, returned once, here. For 24 h (SECRET_ROTATION_GRACE_SECONDS) the old secret
     * keeps signing beside it, so each delivery carries two signatures and a receiver can switch secrets
     * without rejecting anything; after that only the new one signs.
     */
    'POST /subscriptions/{id}/secret/rotate': async (request) => {
      const id = pathSubscriptionId(request);
      validate(emptyBodySchema, request.optionalJsonBody());
      const rotated = await store.rotateSecret(request.tenantId, id);
      return jsonResponse(200, { ...toPublic(rotated), secret: rotated.secret });
    },

    ...attemptRoutes(deps),
    ...storedEventRoutes(deps.events),
    ...replayRoutes(deps),
  };
}
