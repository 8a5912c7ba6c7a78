import * as z from 'zod/mini';
import {
  EVENT_ID_PATTERN,
  hasSqsRefusedCharacter,
  jsonDepth,
  MAX_EVENT_DATA_DEPTH,
} from '../contract/bus-events.js';
import { isEventType, isEventTypeFilter } from '../contract/event-types.js';
import { MAX_SUBSCRIPTION_RATE_LIMIT } from '../contract/limits.js';
import { ValidationError } from '../platform/errors.js';
import { describeIssues, safeParse } from '../platform/validation.js';
import { hostnameProblem } from '../security/address-guard.js';

/**
 * Request schemas. Unknown fields are rejected (422) rather than ignored, so a typo such as "eventType"
 * never silently produces a subscription to nothing.
 */
const LIMITS = {
  urlLength: 2048,
  eventTypesPerSubscription: 50,
  descriptionLength: 512,
  metadataEntries: 50,
  metadataKeyLength: 64,
  metadataValueLength: 512,
  pageSizeDefault: 50,
  pageSizeMax: 100,
} as const;

export const SUBSCRIPTION_ID_PATTERN = /^sub_[0-9A-Z]{26}$/;

const eventTypeFilter = z
  .string()
  .check(
    z.refine(
      isEventTypeFilter,
      'must be an event type like "order.created", a prefix filter like "order.*", or "*"',
    ),
  );

/**
 * Free text that is stored and shown back: no control characters (CR/LF and friends), line or paragraph
 * separators, or bidirectional marks and overrides, so it can never forge a line in a log, a header or a
 * terminal, or display reordered.
 */
const CONTROL_CHARACTERS = /[\p{Cc}\u2028\u2029\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]/u;
/** Keys that mean something to JavaScript objects (and to the DynamoDB marshaller) are not metadata. */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const plainText = (max: number) =>
  z.string().check(
    z.maxLength(max, `must be at most ${max} characters`),
    z.refine((text) => !CONTROL_CHARACTERS.test(text), 'must not contain control characters'),
  );

/** What a check found wrong, optionally at a path inside the value it checked. */
type Problem = string | { path: PropertyKey[]; message: string } | undefined;

/**
 * Runs `check` on a value exactly as JSON.parse produced it, then `schema`. A record schema copies objects and
 * drops an own "__proto__" key on the way, so checks on keys and nesting must see the original.
 */
function asParsed<T extends z.ZodMiniType>(check: (value: unknown) => Problem, schema: T) {
  return z.pipe(
    z.unknown().check(
      z.superRefine((value, ctx) => {
        const problem = check(value);
        if (problem === undefined) return;
        const { path = [], message } = typeof problem === 'string' ? { message: problem } : problem;
        ctx.addIssue({ code: 'custom', message, path, abort: true });
      }),
    ),
    schema,
  );
}

/**
 * Where a JSON value holds a number too large for a double, as JSON.parse reads "1e400": Infinity, which
 * JSON.stringify would store and deliver as null. Iterative, like jsonDepth, so no stack to overflow.
 */
function nonFiniteNumberPath(value: unknown): PropertyKey[] | undefined {
  const pending: [unknown, PropertyKey[]][] = [[value, []]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [node, path] = next;
    if (typeof node === 'number' && !Number.isFinite(node)) return path;
    if (typeof node !== 'object' || node === null) continue;
    for (const [key, child] of Object.entries(node)) {
      pending.push([child, [...path, Array.isArray(node) ? Number(key) : key]]);
    }
  }
  return undefined;
}

function eventDataProblem(data: unknown): Problem {
  if (jsonDepth(data) > MAX_EVENT_DATA_DEPTH) {
    return `must not nest objects and arrays deeper than ${MAX_EVENT_DATA_DEPTH} levels`;
  }
  if (hasSqsRefusedCharacter(data)) {
    return 'must not contain the characters U+FFFE or U+FFFF, which SQS cannot carry';
  }
  const path = nonFiniteNumberPath(data);
  if (path) {
    return {
      path,
      message:
        'must be a number a double can hold (at most about 1.8e308 in size); send larger ones as strings',
    };
  }
  return undefined;
}

const isObject = (value: unknown): value is object => typeof value === 'object' && value !== null;

const metadata = asParsed(
  (value) =>
    isObject(value) && Object.keys(value).some((key) => RESERVED_KEYS.has(key))
      ? 'keys must not be __proto__, constructor or prototype'
      : undefined,
  z
    .record(
      z.pipe(plainText(LIMITS.metadataKeyLength), z.string().check(z.minLength(1))),
      plainText(LIMITS.metadataValueLength),
    )
    .check(
      z.refine((value) => Object.keys(value).length <= LIMITS.metadataEntries, {
        message: `must have at most ${LIMITS.metadataEntries} entries`,
      }),
    ),
);

function webhookUrl(allowPrivateUrls: boolean) {
  return z.string().check(
    z.maxLength(LIMITS.urlLength),
    z.superRefine((value, ctx) => {
      const problem = urlProblem(value, allowPrivateUrls);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  );
}

function urlProblem(value: string, allowPrivateUrls: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL such as https://example.com/webhooks';
  }
  if (url.protocol !== 'https:' && !(allowPrivateUrls && url.protocol === 'http:')) {
    return allowPrivateUrls ? 'must use http or https' : 'must use https';
  }
  // Credentials are refused in every mode: `https://good@127.0.0.1` reads as a trusted name to people.
  if (url.username || url.password) return 'must not contain credentials';
  // Checks that need no lookup; the host's addresses are checked after the schema (api/routes/subscriptions.ts).
  return allowPrivateUrls ? undefined : hostnameProblem(url.hostname);
}

const RATE_LIMIT_PROBLEM = `must be a whole number of deliveries per second from 1 to ${MAX_SUBSCRIPTION_RATE_LIMIT}, or null for none`;
/** Deliveries a second, or null for no limit; one check, so that every wrong value gets one message. */
const rateLimit = z.nullable(
  z
    .number(RATE_LIMIT_PROBLEM)
    .check(
      z.refine(
        (value) => Number.isInteger(value) && value >= 1 && value <= MAX_SUBSCRIPTION_RATE_LIMIT,
        RATE_LIMIT_PROBLEM,
      ),
    ),
);

/** A subscription's writable fields, each as it is checked on create and on update. */
function subscriptionFields(allowPrivateUrls: boolean) {
  return {
    url: webhookUrl(allowPrivateUrls),
    eventTypes: z.array(eventTypeFilter).check(z.minLength(1), z.maxLength(LIMITS.eventTypesPerSubscription)),
    description: plainText(LIMITS.descriptionLength),
    metadata,
    rateLimit,
  };
}

export function createSubscriptionSchema(allowPrivateUrls: boolean) {
  const fields = subscriptionFields(allowPrivateUrls);
  return z.strictObject({
    url: fields.url,
    eventTypes: fields.eventTypes,
    description: z.optional(fields.description),
    metadata: z.optional(fields.metadata),
    rateLimit: z.optional(fields.rateLimit),
  });
}

/** Every field may be left out (exactOptional: a field is either given or absent, never set to undefined). */
export function updateSubscriptionSchema(allowPrivateUrls: boolean) {
  const fields = subscriptionFields(allowPrivateUrls);
  return z
    .strictObject({
      url: z.exactOptional(fields.url),
      eventTypes: z.exactOptional(fields.eventTypes),
      description: z.exactOptional(fields.description),
      metadata: z.exactOptional(fields.metadata),
      rateLimit: z.exactOptional(fields.rateLimit),
      status: z.exactOptional(z.enum(['active', 'disabled'])),
    })
    .check(
      z.refine((value) => Object.keys(value).length > 0, {
        message: 'must change at least one of url, eventTypes, description, metadata, rateLimit, status',
      }),
    );
}

export const publishEventSchema = z.strictObject({
  type: z
    .string()
    .check(
      z.refine(
        isEventType,
        'must be dot-separated segments of letters, digits, "_" and "-", at most 128 characters',
      ),
    ),
  data: asParsed(eventDataProblem, z.record(z.string(), z.unknown(), 'must be a JSON object')),
  id: z.optional(
    z
      .string()
      .check(
        z.regex(EVENT_ID_PATTERN, 'must be 1 to 128 characters of letters, digits, "_", "-", "." and ":"'),
      ),
  ),
});

export const listQuerySchema = z.strictObject({
  cursor: z.optional(z.string().check(z.maxLength(256))),
  limit: z._default(
    z.coerce.number().check(z.int(), z.minimum(1), z.maximum(LIMITS.pageSizeMax)),
    LIMITS.pageSizeDefault,
  ),
});

/** For POST routes that take no input: an absent body or `{}`, and nothing else. */
export const emptyBodySchema = z.strictObject({});

export const subscriptionIdField = z
  .string()
  .check(
    z.regex(
      SUBSCRIPTION_ID_PATTERN,
      'must be a subscription id such as "sub_01J…" (26 characters after "sub_")',
    ),
  );

export const replayEventSchema = z.strictObject({ subscriptionId: z.optional(subscriptionIdField) });

export const replaySinceSchema = z.strictObject({
  since: z.iso
    .datetime({
      offset: true,
      error: 'must be an ISO 8601 date-time such as "2026-03-01T12:00:00Z"',
    })
    .check(z.refine((value) => Date.parse(value) <= Date.now(), 'must not be in the future')),
});

/** Validates with a schema, turning every issue into one 422 message that names the field. */
export function validate<T extends z.ZodMiniType>(schema: T, input: unknown, where = 'body'): z.output<T> {
  const result = safeParse(schema, input);
  if (result.success) return result.data;
  throw new ValidationError(describeIssues(result.error.issues, where));
}
