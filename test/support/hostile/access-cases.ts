import { createHash } from 'node:crypto';
import { encodeAttemptCursor } from '../../../lambdas/api/cursors.js';
import type { ApiRequest } from '../../../local/emulators/api-gateway.js';
import {
  b64,
  bare,
  by,
  get,
  type HostileCase,
  RECENT,
  VALID_EVENT,
  VALID_SUBSCRIPTION,
  type World,
} from './requests.js';

/**
 * Hostile access: cursors and paths that try to reach past the caller's own resources, bad or missing keys,
 * another tenant's resources, a subscription's state, and the per-tenant limits.
 */

export const CURSORS: HostileCase[] = [
  get('cursor: not base64url', () => '/subscriptions?cursor=!!!!', 400, 'invalid_cursor'),
  get('cursor: empty', () => '/subscriptions?cursor=', 400, 'invalid_cursor'),
  get('cursor: NUL', () => '/subscriptions?cursor=%00', 400, 'invalid_cursor'),
  get(
    'cursor: path traversal inside',
    () => `/subscriptions?cursor=${b64('sub_../../../etc/passwd')}`,
    400,
    'invalid_cursor',
  ),
  get(
    'cursor: another tenant key inside',
    (w) => `/subscriptions?cursor=${b64(`${w.bob.tenantId}#sub#${w.bobSub}`)}`,
    400,
    'invalid_cursor',
  ),
  get(
    'cursor: id with a trailing NUL',
    (w) => `/subscriptions?cursor=${b64(`${w.bobSub}\u0000`)}`,
    400,
    'invalid_cursor',
  ),
  get(
    'cursor: an attempt cursor',
    (w) =>
      `/subscriptions?cursor=${encodeAttemptCursor({ id: 'att_01AAAAAAAAAAAAAAAAAAAAAAAA', subscriptionId: w.aliceSub })}`,
    400,
    'invalid_cursor',
  ),
  ...['0', '101', '-1', 'abc', '1.5', '1e9', ''].map((limit) =>
    get(
      `cursor: limit=${JSON.stringify(limit)}`,
      () => `/subscriptions?limit=${limit}`,
      422,
      'validation_error',
    ),
  ),
  get(
    'cursor: attempts cursor that is garbage',
    (w) => `/subscriptions/${w.aliceSub}/attempts?cursor=garbage`,
    400,
    'invalid_cursor',
  ),
  get(
    'cursor: attempts cursor of another subscription',
    (w) =>
      `/subscriptions/${w.aliceSub}/attempts?cursor=${encodeAttemptCursor({ id: 'att_01AAAAAAAAAAAAAAAAAAAAAAAA', subscriptionId: w.aliceDisabled })}`,
    400,
    'invalid_cursor',
  ),
  get(
    'cursor: attempts cursor with a bad attempt id',
    (w) =>
      `/subscriptions/${w.aliceSub}/attempts?cursor=${b64(JSON.stringify({ id: '../x', subscriptionId: w.aliceSub }))}`,
    400,
    'invalid_cursor',
  ),
  get(
    'cursor: attempts cursor that is a JSON array',
    (w) => `/subscriptions/${w.aliceSub}/attempts?cursor=${b64('[]')}`,
    400,
    'invalid_cursor',
  ),
  get(
    'cursor: event attempts cursor that is garbage',
    (w) => `/events/${w.aliceEvent}/attempts?cursor=xyz`,
    400,
    'invalid_cursor',
  ),
  get(
    'cursor: event attempts limit 1000',
    (w) => `/events/${w.aliceEvent}/attempts?limit=1000`,
    422,
    'validation_error',
  ),
  get(
    'cursor: event attempts unknown parameter',
    (w) => `/events/${w.aliceEvent}/attempts?order=asc`,
    422,
    'validation_error',
  ),
];

export const PATHS: HostileCase[] = [
  get(
    'path: encoded traversal out of /subscriptions',
    () => '/subscriptions/..%2F..%2Fevents',
    404,
    'not_found',
  ),
  get('path: encoded slash in an id', (w) => `/subscriptions/${w.aliceSub}%2Fattempts`, 404, 'not_found'),
  get('path: dot-dot segments', () => '/subscriptions/%2e%2e/%2e%2e', 404, 'not_found'),
  get('path: overlong subscription id', () => `/subscriptions/sub_${'A'.repeat(5_000)}`, 404, 'not_found'),
  get('path: NUL in a subscription id', (w) => `/subscriptions/${w.aliceSub}%00`, 404, 'not_found'),
  get(
    'path: lower-cased subscription id',
    (w) => `/subscriptions/${w.aliceSub.toLowerCase()}`,
    404,
    'not_found',
  ),
  get('path: malformed escape', () => '/subscriptions/%E0%A4', 404, 'not_found'),
  get('path: trailing slash', () => '/subscriptions/', 404, 'not_found'),
  get('path: empty id segment', () => '/subscriptions//attempts', 404, 'not_found'),
  get('path: event id traversal', () => '/events/..%2F..%2Fsubscriptions', 404, 'not_found'),
  get('path: overlong event id', () => `/events/${'e'.repeat(129)}`, 404, 'not_found'),
  get('path: CR/LF in an event id', () => '/events/evt%0D%0AX-Injected:%201', 404, 'not_found'),
  get('path: unknown route', () => '/admin/tenants', 404, 'not_found'),
  get('path: local-only status through the API', () => '/_local/status', 404, 'not_found'),
  {
    name: 'path: delete through an encoded traversal',
    status: 404,
    code: 'not_found',
    request: (w) => by(w.alice, 'DELETE', `/subscriptions/..%2F${w.aliceSub}`),
  },
  {
    name: 'path: PATCH with CR/LF after the id',
    status: 404,
    code: 'not_found',
    request: (w) => by(w.alice, 'PATCH', `/subscriptions/${w.aliceSub}%0D%0A`, '{"description":"x"}'),
  },
  {
    name: 'path: replay with an encoded slash in the event id',
    status: 404,
    code: 'not_found',
    request: (w) => by(w.alice, 'POST', `/events/${w.aliceEvent}%2Freplay/replay`),
  },
  {
    name: 'path: replay of an event that never existed',
    status: 404,
    code: 'not_found',
    request: (w) => by(w.alice, 'POST', '/events/evt-never-published/replay'),
  },
  {
    name: 'path: PUT on the collection',
    status: 405,
    code: 'method_not_allowed',
    request: (w) => by(w.alice, 'PUT', '/subscriptions', JSON.stringify(VALID_SUBSCRIPTION)),
  },
  {
    name: 'path: DELETE on an event',
    status: 405,
    code: 'method_not_allowed',
    request: (w) => by(w.alice, 'DELETE', `/events/${w.aliceEvent}`),
  },
  {
    name: 'path: POST on a subscription',
    status: 405,
    code: 'method_not_allowed',
    request: (w) => by(w.alice, 'POST', `/subscriptions/${w.aliceSub}`, JSON.stringify(VALID_SUBSCRIPTION)),
  },
];

const unauthorized = (name: string, request: (w: World) => ApiRequest): HostileCase => ({
  name,
  status: 401,
  code: 'unauthorized',
  request,
});
/** A create with exactly this authorization header. */
const createWithAuth = (name: string, authorization: (w: World) => string) =>
  unauthorized(name, (w) =>
    bare(
      'POST',
      '/subscriptions',
      { authorization: authorization(w), 'content-type': 'application/json' },
      VALID_SUBSCRIPTION,
    ),
  );
const flipLast = (key: string) => `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;
const JSON_ONLY = { 'content-type': 'application/json' };

export const AUTH: HostileCase[] = [
  unauthorized('auth: no authorization header', () =>
    bare('POST', '/subscriptions', JSON_ONLY, VALID_SUBSCRIPTION),
  ),
  createWithAuth('auth: scheme without a key', () => 'Bearer'),
  createWithAuth('auth: scheme and a space', () => 'Bearer '),
  createWithAuth(
    'auth: Basic scheme',
    (w) => `Basic ${Buffer.from(`alice:${w.alice.apiKey}`).toString('base64')}`,
  ),
  createWithAuth('auth: Token scheme', (w) => `Token ${w.alice.apiKey}`),
  createWithAuth('auth: key without a scheme', (w) => w.alice.apiKey),
  createWithAuth('auth: key missing its last character', (w) => `Bearer ${w.alice.apiKey.slice(0, -1)}`),
  createWithAuth('auth: key with one character more', (w) => `Bearer ${w.alice.apiKey}A`),
  createWithAuth('auth: key with its last character changed', (w) => `Bearer ${flipLast(w.alice.apiKey)}`),
  createWithAuth('auth: key upper-cased', (w) => `Bearer ${w.alice.apiKey.toUpperCase()}`),
  createWithAuth('auth: two keys', (w) => `Bearer ${w.alice.apiKey} ${w.bob.apiKey}`),
  createWithAuth(
    'auth: key followed by CR/LF and a forged header',
    (w) => `Bearer ${w.alice.apiKey}\r\nX-Tenant-Id: ${w.bob.tenantId}`,
  ),
  createWithAuth('auth: key followed by NUL', (w) => `Bearer ${w.alice.apiKey}\u0000`),
  createWithAuth('auth: key of 10,000 characters', () => `Bearer fk_${'A'.repeat(10_000)}`),
  createWithAuth('auth: a tenant id as the key', (w) => `Bearer ${w.alice.tenantId}`),
  createWithAuth('auth: a key id as the key', (w) => `Bearer ${w.alice.keyId}`),
  createWithAuth(
    'auth: the stored hash of the key',
    (w) => `Bearer ${createHash('sha256').update(w.alice.apiKey).digest('hex')}`,
  ),
  createWithAuth('auth: a well-formed key nobody was given', () => `Bearer fk_${'Q'.repeat(43)}`),
  createWithAuth('auth: revoked key', (w) => `Bearer ${w.erin.apiKey}`),
  unauthorized('auth: key in x-api-key instead', (w) =>
    bare('POST', '/subscriptions', { 'x-api-key': w.alice.apiKey, ...JSON_ONLY }, VALID_SUBSCRIPTION),
  ),
  unauthorized('auth: key in the query string', (w) =>
    bare('GET', `/subscriptions?api_key=${w.alice.apiKey}`, {}),
  ),
  unauthorized('auth: revoked key reading its own subscription', (w) =>
    by(w.erin, 'GET', `/subscriptions/${w.erinSub}`),
  ),
  unauthorized('auth: revoked key deleting its own subscription', (w) =>
    by(w.erin, 'DELETE', `/subscriptions/${w.erinSub}`),
  ),
  unauthorized('auth: revoked key rotating its secret', (w) =>
    by(w.erin, 'POST', `/subscriptions/${w.erinSub}/secret/rotate`),
  ),
  unauthorized('auth: revoked key publishing', (w) =>
    by(w.erin, 'POST', '/events', JSON.stringify(VALID_EVENT)),
  ),
  unauthorized('auth: no key publishing', () => bare('POST', '/events', JSON_ONLY, VALID_EVENT)),
  unauthorized('auth: no key deleting', (w) => bare('DELETE', `/subscriptions/${w.aliceSub}`, {})),
  unauthorized('auth: no key rotating', (w) =>
    bare('POST', `/subscriptions/${w.aliceSub}/secret/rotate`, {}),
  ),
  unauthorized('auth: no key reading an event', (w) => bare('GET', `/events/${w.aliceEvent}`, {})),
  unauthorized('auth: no key replaying', (w) => bare('POST', `/events/${w.aliceEvent}/replay`, {})),
  unauthorized('auth: no key on an unknown route (routes are not disclosed)', () =>
    bare('GET', '/admin/tenants', {}),
  ),
];

/** Alice acting on bob's resources: always the same 404 as for an id that never existed. */
const notFound = (name: string, request: (w: World) => ApiRequest): HostileCase => ({
  name,
  status: 404,
  code: 'not_found',
  request,
});
export const OTHER_TENANT: HostileCase[] = [
  notFound('tenant: read another tenant subscription', (w) =>
    by(w.alice, 'GET', `/subscriptions/${w.bobSub}`),
  ),
  notFound('tenant: change its description', (w) =>
    by(w.alice, 'PATCH', `/subscriptions/${w.bobSub}`, '{"description":"mine now"}'),
  ),
  notFound('tenant: change its url', (w) =>
    by(w.alice, 'PATCH', `/subscriptions/${w.bobSub}`, '{"url":"https://attacker.example.com/steal"}'),
  ),
  notFound('tenant: disable it', (w) =>
    by(w.alice, 'PATCH', `/subscriptions/${w.bobSub}`, '{"status":"disabled"}'),
  ),
  notFound('tenant: delete it', (w) => by(w.alice, 'DELETE', `/subscriptions/${w.bobSub}`)),
  notFound('tenant: read its attempts', (w) => by(w.alice, 'GET', `/subscriptions/${w.bobSub}/attempts`)),
  notFound('tenant: rotate its secret', (w) =>
    by(w.alice, 'POST', `/subscriptions/${w.bobSub}/secret/rotate`),
  ),
  notFound('tenant: replay to it', (w) =>
    by(w.alice, 'POST', `/subscriptions/${w.bobSub}/replay`, JSON.stringify({ since: RECENT })),
  ),
  notFound('tenant: read its event', (w) => by(w.alice, 'GET', `/events/${w.bobEvent}`)),
  notFound('tenant: read its event attempts', (w) => by(w.alice, 'GET', `/events/${w.bobEvent}/attempts`)),
  notFound('tenant: replay its event', (w) => by(w.alice, 'POST', `/events/${w.bobEvent}/replay`)),
  notFound('tenant: replay own event to its subscription', (w) =>
    by(w.alice, 'POST', `/events/${w.aliceEvent}/replay`, JSON.stringify({ subscriptionId: w.bobSub })),
  ),
];

export const STATE: HostileCase[] = [
  {
    name: 'state: replay to a disabled subscription',
    status: 409,
    code: 'conflict',
    request: (w) =>
      by(w.alice, 'POST', `/subscriptions/${w.aliceDisabled}/replay`, JSON.stringify({ since: RECENT })),
  },
  {
    name: 'state: replay an event to a disabled subscription',
    status: 409,
    code: 'conflict',
    request: (w) =>
      by(
        w.alice,
        'POST',
        `/events/${w.aliceEvent}/replay`,
        JSON.stringify({ subscriptionId: w.aliceDisabled }),
      ),
  },
  {
    name: 'state: replay an event to a subscription that does not want its type',
    status: 422,
    code: 'validation_error',
    request: (w) =>
      by(w.alice, 'POST', `/events/${w.aliceEvent}/replay`, JSON.stringify({ subscriptionId: w.aliceSub })),
  },
];

export const LIMITS: HostileCase[] = [
  {
    name: 'limit: create beyond the subscription cap',
    via: 'capped',
    status: 422,
    code: 'subscription_limit_reached',
    request: (w) => by(w.carol, 'POST', '/subscriptions', JSON.stringify(VALID_SUBSCRIPTION)),
  },
  {
    name: 'limit: another create beyond the cap, for every event type',
    via: 'capped',
    status: 422,
    code: 'subscription_limit_reached',
    request: (w) =>
      by(w.carol, 'POST', '/subscriptions', JSON.stringify({ ...VALID_SUBSCRIPTION, eventTypes: ['*'] })),
  },
  ...(
    [
      ['create', (w: World) => by(w.dave, 'POST', '/subscriptions', JSON.stringify(VALID_SUBSCRIPTION))],
      ['publish', (w: World) => by(w.dave, 'POST', '/events', JSON.stringify(VALID_EVENT))],
      ['delete', (w: World) => by(w.dave, 'DELETE', `/subscriptions/${w.daveSub}`)],
      ['rotate', (w: World) => by(w.dave, 'POST', `/subscriptions/${w.daveSub}/secret/rotate`)],
      ['change', (w: World) => by(w.dave, 'PATCH', `/subscriptions/${w.daveSub}`, '{"status":"disabled"}')],
      ['list', (w: World) => by(w.dave, 'GET', '/subscriptions')],
      ['send garbage', (w: World) => by(w.dave, 'POST', '/events', '{')],
    ] as const
  ).map(
    ([what, request]): HostileCase => ({
      name: `limit: ${what} over the per-tenant rate`,
      via: 'throttled',
      status: 429,
      code: 'rate_limited',
      request,
    }),
  ),
];
