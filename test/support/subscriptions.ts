import { expect } from 'vitest';
import type { Subscription } from '../../lambdas/storage/subscription-model.js';
import type { ApiRequest, NormalizedResponse } from '../../local/emulators/api-gateway.js';
import { bearer } from './service.js';

/** The API as the tests call it: a test service's `api`, or functions a test built and invoked the same way. */
export type Api = (request: ApiRequest) => Promise<NormalizedResponse>;

/** A POST /subscriptions body. */
export interface SubscriptionInput {
  url: string;
  eventTypes: string[];
  description?: string;
  metadata?: Record<string, string>;
  /** Deliveries a second at most, or null for none. */
  rateLimit?: number | null;
}

/** What POST /subscriptions answers: the subscription, with the signing secret it shows only this once. */
export type CreatedSubscription = Subscription & { secret: string };

/** A subscription to every event type at a public https host; a test overrides what it is about. */
export function subscriptionInput(overrides: Partial<SubscriptionInput> = {}): SubscriptionInput {
  return { url: 'https://hooks.example.com', eventTypes: ['*'], ...overrides };
}

/** POST /subscriptions as the tenant of `apiKey`, the answer as it is: for the tests of what is refused. */
export function postSubscription(api: Api, apiKey: string, body: unknown) {
  return api({ method: 'POST', path: '/subscriptions', headers: bearer(apiKey), body: JSON.stringify(body) });
}

/** Creates `subscriptionInput(overrides)`, which must be answered 201, and returns what the API answered. */
export async function createSubscription(
  api: Api,
  apiKey: string,
  overrides: Partial<SubscriptionInput> = {},
): Promise<CreatedSubscription> {
  const response = await postSubscription(api, apiKey, subscriptionInput(overrides));
  expect(response.statusCode, response.body).toBe(201);
  return JSON.parse(response.body);
}

/** Subscribes a recording receiver and hands it the secret, so that it verifies every delivery. */
export async function subscribeReceiver(
  api: Api,
  apiKey: string,
  receiver: { url: string; useSecret(secret: string): void },
  overrides: Partial<SubscriptionInput> = {},
): Promise<CreatedSubscription> {
  const created = await createSubscription(api, apiKey, { url: receiver.url, ...overrides });
  receiver.useSecret(created.secret);
  return created;
}
