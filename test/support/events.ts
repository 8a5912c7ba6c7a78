import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import {
  type AcceptedEvent,
  toPutEventsEntry,
  type WebhookEvent,
} from '../../lambdas/contract/bus-events.js';
import { toBusEvent } from '../../local/emulators/event-bus.js';
import { bearer } from './service.js';
import type { Api } from './subscriptions.js';

/** A POST /events body: without an id the API generates one. */
export interface PublishedEvent {
  type: string;
  data: Record<string, unknown>;
  id?: string;
}

/** An order.created event with a little data; a test overrides what it is about. */
export function publishedEvent(overrides: Partial<PublishedEvent> = {}): PublishedEvent {
  return { type: 'order.created', data: { n: 1 }, ...overrides };
}

/**
 * POST /events as the tenant of `apiKey`, the answer as it is: for the tests of what is refused. A string is
 * sent as it is (malformed JSON, say), anything else as JSON.
 */
export function postEvent(api: Api, apiKey: string, body: unknown) {
  return api({
    method: 'POST',
    path: '/events',
    headers: bearer(apiKey),
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Publishes `publishedEvent(overrides)`, which must be accepted (202), and returns the event's id. */
export async function publishEvent(
  api: Api,
  apiKey: string,
  overrides: Partial<PublishedEvent> = {},
): Promise<string> {
  const response = await postEvent(api, apiKey, publishedEvent(overrides));
  expect(response.statusCode, response.body).toBe(202);
  return JSON.parse(response.body).id;
}

/**
 * The body of the message the bus rule puts on the fan-out queue when `tenantId` publishes `event` on
 * `busName`: the fan-out function's input. `fields` replace the bus event's own, to spoil it.
 */
export function busEventBody(
  busName: string,
  tenantId: string,
  event: Pick<WebhookEvent, 'id' | 'type' | 'data'>,
  fields: Record<string, unknown> = {},
): string {
  const entry = toPutEventsEntry(busName, tenantId, event);
  return JSON.stringify({
    ...toBusEvent(entry, { account: '000000000000', region: 'us-east-1' }),
    ...fields,
  });
}

/** An event as fan-out stores it (what EventStore.claim takes), accepted now, for tests that skip publishing. */
export function storedEvent(
  event: Pick<AcceptedEvent, 'tenantId' | 'id'> & Partial<AcceptedEvent>,
): AcceptedEvent {
  return {
    busEventId: randomUUID(),
    type: 'order.created',
    timestamp: new Date().toISOString(),
    data: {},
    ...event,
  };
}
