import * as z from 'zod/mini';
import { BadRequestError } from '../platform/errors.js';
import { safeParse } from '../platform/validation.js';
import { ATTEMPT_ID_PATTERN, type AttemptCursor } from '../storage/attempts.js';
import { SUBSCRIPTION_ID_PATTERN, subscriptionIdField } from './schemas.js';

/**
 * Cursors are opaque to clients: base64url of where the last page ended, ids only, which the stores always
 * combine with the caller's own tenant, never take as a key on their own. Anything else is refused alike.
 */
export function invalidCursor(): BadRequestError {
  return new BadRequestError('invalid_cursor', 'query.cursor is not a cursor this API returned');
}

function encode(text: string): string {
  return Buffer.from(text).toString('base64url');
}

/** undefined for no cursor; what `read` makes of the decoded text, or invalid_cursor when it makes nothing. */
function decode<T>(cursor: string | undefined, read: (text: string) => T | undefined): T | undefined {
  if (cursor === undefined) return undefined;
  const position = read(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (position === undefined) throw invalidCursor();
  return position;
}

/** A subscription list's cursor: the last subscription id returned. */
export function encodeSubscriptionCursor(lastId: string): string {
  return encode(lastId);
}

export function decodeSubscriptionCursor(cursor: string | undefined): string | undefined {
  return decode(cursor, (text) => (SUBSCRIPTION_ID_PATTERN.test(text) ? text : undefined));
}

const attemptCursorSchema = z.strictObject({
  id: z.string().check(z.regex(ATTEMPT_ID_PATTERN)),
  subscriptionId: subscriptionIdField,
});

/** An attempt listing's cursor (a subscription's or an event's): JSON of the last attempt returned. */
export function encodeAttemptCursor(cursor: AttemptCursor): string {
  return encode(JSON.stringify({ id: cursor.id, subscriptionId: cursor.subscriptionId }));
}

export function decodeAttemptCursor(cursor: string | undefined): AttemptCursor | undefined {
  return decode(cursor, (text) => {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return undefined;
    }
    const result = safeParse(attemptCursorSchema, json);
    return result.success ? result.data : undefined;
  });
}
