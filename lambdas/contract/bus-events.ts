import type { PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { EventBridgeEvent } from 'aws-lambda';
import { PoisonMessageError } from '../platform/errors.js';
import { isEventType } from './event-types.js';

/**
 * How an event travels on the bus, for our API and for any publisher the bus policy allows alike:
 *   Source      "fanout.tenant.<tenantId>"   (the stack's rule matches this prefix)
 *   DetailType  the event type, e.g. "order.created"
 *   Detail      the payload (a JSON object)
 *   Resources   may hold "fanout:event-id/<id>" to set the event id (and idempotency key); without it the
 *               EventBridge event id is used
 */
export const TENANT_SOURCE_PREFIX = 'fanout.tenant.';
const EVENT_ID_RESOURCE_PREFIX = 'fanout:event-id/';

const TENANT_ID_PATTERN = /^ten_[0-9A-Z]{26}$/;
export const EVENT_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * The largest PutEvents entry the API publishes for an event, counted as EventBridge counts it
 * (putEventsEntryBytes); it answers 413 above it. EventBridge itself takes more (PUT_EVENTS_MAX_BYTES); the
 * service keeps 256 KB because fan-out stores the whole event in one DynamoDB item (at most 400 KB).
 */
export const MAX_EVENT_ENTRY_BYTES = 262_144;

/**
 * The largest data (Detail) fan-out takes from a bus event; a larger one is poison (too_large). An event the
 * API published has no more data than entry, so its bound is the same number.
 */
export const MAX_EVENT_DATA_BYTES = MAX_EVENT_ENTRY_BYTES;

/**
 * EventBridge's own limit since January 2026: the entries of one PutEvents request together, each sized as
 * putEventsEntryBytes; over it the whole request is refused (ValidationException). The local bus enforces it.
 */
export const PUT_EVENTS_MAX_BYTES = 1_048_576;

/** An event payload's size: its JSON in UTF-8, which is the entry's Detail. */
function eventDataBytes(data: unknown): number {
  return Buffer.byteLength(JSON.stringify(data), 'utf8');
}

/**
 * A PutEvents entry's size as EventBridge computes it ("Calculating PutEvents entry size"): 14 bytes for
 * Time if present, and the UTF-8 bytes of Source, DetailType, Detail and each of Resources.
 */
export function putEventsEntryBytes(entry: PutEventsRequestEntry): number {
  const utf8 = (text: string | undefined) => (text === undefined ? 0 : Buffer.byteLength(text, 'utf8'));
  return (
    (entry.Time === undefined ? 0 : 14) +
    utf8(entry.Source) +
    utf8(entry.DetailType) +
    utf8(entry.Detail) +
    (entry.Resources ?? []).reduce((sum, resource) => sum + utf8(resource), 0)
  );
}

/**
 * Characters SQS refuses in a message body that JSON text can still hold raw: JSON.stringify escapes control
 * characters and lone surrogates, but not the noncharacters U+FFFE and U+FFFF. A payload holding one could
 * never reach the fan-out queue (EventBridge's delivery to it would fail) nor ride in a delivery message.
 */
const SQS_REFUSED_CHARACTERS = /[\uFFFE\uFFFF]/;

export function hasSqsRefusedCharacter(data: unknown): boolean {
  return SQS_REFUSED_CHARACTERS.test(JSON.stringify(data));
}

/**
 * The deepest nesting of objects and arrays accepted in a payload: far beyond real events, and well within
 * what receivers' JSON parsers accept, so a payload cannot be built to crash the parser at the other end.
 */
export const MAX_EVENT_DATA_DEPTH = 30;

/** How deeply objects and arrays nest in a JSON value (a flat object is 1); iterative, so no stack to overflow. */
export function jsonDepth(value: unknown): number {
  let deepest = 0;
  const pending: [unknown, number][] = [[value, 1]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [node, depth] = next;
    if (typeof node !== 'object' || node === null) continue;
    deepest = Math.max(deepest, depth);
    for (const child of Object.values(node)) pending.push([child, depth + 1]);
  }
  return deepest;
}

export interface WebhookEvent {
  id: string;
  type: string;
  /** ISO 8601 time the bus accepted the event. */
  timestamp: string;
  data: Record<string, unknown>;
}

export interface AcceptedEvent extends WebhookEvent {
  tenantId: string;
  /** EventBridge's own id: the same for every copy of one PutEvents entry, new for a second publish. */
  busEventId: string;
}

export function toPutEventsEntry(
  busName: string,
  tenantId: string,
  event: Pick<WebhookEvent, 'id' | 'type' | 'data'>,
): PutEventsRequestEntry {
  return {
    EventBusName: busName,
    Source: `${TENANT_SOURCE_PREFIX}${tenantId}`,
    DetailType: event.type,
    Detail: JSON.stringify(event.data),
    Resources: [`${EVENT_ID_RESOURCE_PREFIX}${event.id}`],
  };
}

/** Only the bus rule and fan-out jobs belong on the fan-out queue. */
const NOT_AN_EVENT = {
  reason: 'not_an_event',
  action:
    'only the bus rule and the service itself send to the fan-out queue: find who sent this message; it can be deleted',
} as const;
const INVALID_DETAIL = {
  reason: 'invalid_detail',
  action: `publish a Detail that is a JSON object nesting at most ${MAX_EVENT_DATA_DEPTH} levels`,
} as const;

/**
 * Reads an event as EventBridge hands it to the fan-out queue (the message body, parsed); anything malformed
 * or too large to store can never succeed.
 */
export function fromBusEvent(body: unknown): AcceptedEvent {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new PoisonMessageError('fan-out message is not an object', NOT_AN_EVENT);
  }
  const raw = body as Partial<EventBridgeEvent<string, unknown>>;
  const tenantId = typeof raw.source === 'string' ? raw.source.slice(TENANT_SOURCE_PREFIX.length) : '';
  if (!raw.source?.startsWith(TENANT_SOURCE_PREFIX) || !TENANT_ID_PATTERN.test(tenantId)) {
    throw new PoisonMessageError(`event source "${String(raw.source)}" does not name a tenant`, {
      reason: 'no_tenant',
      action: `publish with Source "${TENANT_SOURCE_PREFIX}<tenantId>", the id of an existing tenant`,
    });
  }
  if (typeof raw['detail-type'] !== 'string' || !isEventType(raw['detail-type'])) {
    throw new PoisonMessageError(`event type "${String(raw['detail-type'])}" is not a valid event type`, {
      reason: 'invalid_event_type',
      action: 'publish with a DetailType of dot-separated [A-Za-z0-9_-] segments, e.g. "order.created"',
    });
  }
  if (typeof raw.detail !== 'object' || raw.detail === null || Array.isArray(raw.detail)) {
    throw new PoisonMessageError('event detail must be a JSON object', INVALID_DETAIL);
  }
  if (jsonDepth(raw.detail) > MAX_EVENT_DATA_DEPTH) {
    throw new PoisonMessageError(
      `event detail nests deeper than ${MAX_EVENT_DATA_DEPTH} levels`,
      INVALID_DETAIL,
    );
  }
  const bytes = eventDataBytes(raw.detail);
  if (bytes > MAX_EVENT_DATA_BYTES) {
    throw new PoisonMessageError(`event detail is ${bytes} bytes; the limit is ${MAX_EVENT_DATA_BYTES}`, {
      reason: 'too_large',
      action: `publish a Detail of at most ${MAX_EVENT_DATA_BYTES} bytes; larger data belongs in your own store, referred to by the event`,
    });
  }
  if (typeof raw.id !== 'string' || typeof raw.time !== 'string' || Number.isNaN(Date.parse(raw.time))) {
    throw new PoisonMessageError('event lacks the EventBridge id or time', NOT_AN_EVENT);
  }
  const resources: unknown[] = Array.isArray(raw.resources) ? raw.resources : [];
  const idResource = resources.find(
    (resource): resource is string =>
      typeof resource === 'string' && resource.startsWith(EVENT_ID_RESOURCE_PREFIX),
  );
  const id = idResource ? idResource.slice(EVENT_ID_RESOURCE_PREFIX.length) : raw.id;
  if (!EVENT_ID_PATTERN.test(id)) {
    throw new PoisonMessageError(`event id "${id}" is not a valid id`, {
      reason: 'invalid_event_id',
      action: `set Resources ["${EVENT_ID_RESOURCE_PREFIX}<id>"] with an id of 1 to 128 characters [A-Za-z0-9_.:-]`,
    });
  }
  return {
    tenantId,
    id,
    busEventId: raw.id,
    type: raw['detail-type'],
    timestamp: new Date(raw.time).toISOString(),
    data: raw.detail as Record<string, unknown>,
  };
}
