import { createHash } from 'node:crypto';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, ScanCommand, type ScanCommandOutput } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeAttemptCursor } from '../../lambdas/api/cursors.js';
import { documentClient } from '../../lambdas/platform/aws-clients.js';
import { revokeApiKey } from '../../lambdas/storage/tenants.js';
import { authorizerFunction, ingestFunction, registerFunction } from '../../lambdas/wiring.js';
import { type ApiRequest, invokeApi, type NormalizedResponse } from '../../local/emulators/api-gateway.js';
import { namedQueues, queueDepth } from '../../local/emulators/queue-metrics.js';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';
import { waitFor } from '../../local/wait.js';
import { fakeResolver, PUBLIC_ADDRESS } from '../support/resolver.js';
import { bearer, startTestService } from '../support/service.js';

/**
 * The hostile-input suite: one table of distinct bad requests, each answered with its exact status and error
 * code in the JSON error contract, and each leaving every table and queue exactly as it found them. The
 * service runs with the AWS-mode SSRF guard (allowPrivateUrls false) and a resolver that never touches DNS.
 */

type Service = Awaited<ReturnType<typeof startTestService>>;
type Tenant = Awaited<ReturnType<Service['createTenant']>>;

/** What the cases act on, made in beforeAll: tenants, their subscriptions and stored events. */
interface World {
  /** The caller of most cases. */
  alice: Tenant;
  /** The other tenant whose resources alice must never reach. */
  bob: Tenant;
  /** At the cap of one subscription (the `capped` API). */
  carol: Tenant;
  /** Has used up its requests for the second (the `throttled` API). */
  dave: Tenant;
  /** A revoked key. */
  erin: Tenant;
  aliceSub: string;
  aliceDisabled: string;
  aliceEvent: string;
  bobSub: string;
  bobEvent: string;
  daveSub: string;
  erinSub: string;
}

interface HostileCase {
  name: string;
  request: (world: World) => ApiRequest;
  status: number;
  code: string;
  /** The API to send it to: the service's own, or one with a subscription cap of 1, or a 2 requests/s limit. */
  via?: 'capped' | 'throttled';
}

const VALID_SUBSCRIPTION = { url: 'https://hooks.example.com/hostile', eventTypes: ['order.*'] };
const VALID_EVENT = { type: 'order.created', data: { orderId: 1 } };
const RECENT = '2026-01-01T00:00:00Z';
const b64 = (text: string) => Buffer.from(text).toString('base64url');

function by(
  tenant: Tenant,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): ApiRequest {
  return {
    method,
    path,
    headers: { ...bearer(tenant.apiKey), ...headers },
    ...(body === undefined ? {} : { body }),
  };
}

/** A request with exactly these headers (no key unless given). */
function bare(method: string, path: string, headers: Record<string, string>, body?: unknown): ApiRequest {
  return { method, path, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) };
}

const createRaw = (name: string, body: string, status: number, code: string): HostileCase => ({
  name,
  status,
  code,
  request: (w) => by(w.alice, 'POST', '/subscriptions', body),
});
const create = (name: string, body: unknown, status = 422, code = 'validation_error') =>
  createRaw(name, JSON.stringify(body), status, code);
const publishRaw = (name: string, body: string, status: number, code: string): HostileCase => ({
  name,
  status,
  code,
  request: (w) => by(w.alice, 'POST', '/events', body),
});
const publish = (name: string, body: unknown, status = 422, code = 'validation_error') =>
  publishRaw(name, JSON.stringify(body), status, code);
const patchRaw = (name: string, body: string, status: number, code: string): HostileCase => ({
  name,
  status,
  code,
  request: (w) => by(w.alice, 'PATCH', `/subscriptions/${w.aliceSub}`, body),
});
const patch = (name: string, body: unknown, status = 422, code = 'validation_error') =>
  patchRaw(name, JSON.stringify(body), status, code);
const get = (name: string, path: (w: World) => string, status: number, code: string): HostileCase => ({
  name,
  status,
  code,
  request: (w) => by(w.alice, 'GET', path(w)),
});
const withUrl = (url: string) => ({ ...VALID_SUBSCRIPTION, url });
const withType = (type: string) => ({ ...VALID_EVENT, type });
const nested = (depth: number, leaf: unknown = 1): unknown => {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
};

const MALFORMED_JSON: HostileCase[] = [
  createRaw('json: empty body', '', 400, 'invalid_json'),
  createRaw('json: whitespace only', ' \n\t ', 400, 'invalid_json'),
  createRaw('json: lone brace', '{', 400, 'invalid_json'),
  createRaw(
    'json: truncated by one character',
    JSON.stringify(VALID_SUBSCRIPTION).slice(0, -1),
    400,
    'invalid_json',
  ),
  createRaw('json: truncated inside a string', '{"url": "https://hooks.exa', 400, 'invalid_json'),
  createRaw('json: trailing garbage', `${JSON.stringify(VALID_SUBSCRIPTION)}}`, 400, 'invalid_json'),
  createRaw('json: two documents', JSON.stringify(VALID_SUBSCRIPTION).repeat(2), 400, 'invalid_json'),
  createRaw(
    'json: single quotes',
    "{'url': 'https://hooks.example.com/x', 'eventTypes': ['*']}",
    400,
    'invalid_json',
  ),
  createRaw(
    'json: trailing comma',
    '{"url":"https://hooks.example.com/x","eventTypes":["*"],}',
    400,
    'invalid_json',
  ),
  createRaw(
    'json: comment',
    '{/* hi */"url":"https://hooks.example.com/x","eventTypes":["*"]}',
    400,
    'invalid_json',
  ),
  createRaw(
    'json: unquoted keys',
    '{url:"https://hooks.example.com/x",eventTypes:["*"]}',
    400,
    'invalid_json',
  ),
  createRaw('json: byte order mark', `\uFEFF${JSON.stringify(VALID_SUBSCRIPTION)}`, 400, 'invalid_json'),
  createRaw('json: NUL byte body', '\u0000', 400, 'invalid_json'),
  publishRaw('json: NaN literal in data', '{"type":"a.b","data":{"n":NaN}}', 400, 'invalid_json'),
  publishRaw('json: undefined literal', '{"type":"a.b","data":undefined}', 400, 'invalid_json'),
  publishRaw('json: hex number', '{"type":"a.b","data":{"n":0x10}}', 400, 'invalid_json'),
  publishRaw('json: invalid escape', '{"type":"a\\x41.b","data":{}}', 400, 'invalid_json'),
  publishRaw(
    'json: raw newline inside a string',
    '{"type":"a.b","data":{"s":"line\nbreak"}}',
    400,
    'invalid_json',
  ),
  publishRaw('json: empty event body', '', 400, 'invalid_json'),
  patchRaw('json: truncated PATCH', '{"description": "x', 400, 'invalid_json'),
  {
    name: 'json: subscription replay without a body',
    status: 400,
    code: 'invalid_json',
    request: (w) => by(w.alice, 'POST', `/subscriptions/${w.aliceSub}/replay`),
  },
  {
    name: 'json: truncated event replay body',
    status: 400,
    code: 'invalid_json',
    request: (w) => by(w.alice, 'POST', `/events/${w.aliceEvent}/replay`, '{"subscriptionId":'),
  },
  {
    name: 'json: garbage secret rotation body',
    status: 400,
    code: 'invalid_json',
    request: (w) => by(w.alice, 'POST', `/subscriptions/${w.aliceSub}/secret/rotate`, '{'),
  },
];

const WRONG_TYPES: HostileCase[] = [
  createRaw('type: body null', 'null', 422, 'validation_error'),
  createRaw('type: body array', '[]', 422, 'validation_error'),
  createRaw('type: body string', '"https://hooks.example.com/x"', 422, 'validation_error'),
  createRaw('type: body number', '42', 422, 'validation_error'),
  createRaw('type: body boolean', 'true', 422, 'validation_error'),
  create('type: body is an array of a valid subscription', [VALID_SUBSCRIPTION]),
  create('type: url number', { ...VALID_SUBSCRIPTION, url: 42 }),
  create('type: url null', { ...VALID_SUBSCRIPTION, url: null }),
  create('type: url array', { ...VALID_SUBSCRIPTION, url: [VALID_SUBSCRIPTION.url] }),
  create('type: url object', { ...VALID_SUBSCRIPTION, url: { href: VALID_SUBSCRIPTION.url } }),
  create('type: url boolean', { ...VALID_SUBSCRIPTION, url: true }),
  create('type: url empty string', withUrl('')),
  create('type: url relative', withUrl('/webhooks')),
  create('type: url missing', { eventTypes: ['*'] }),
  create('type: eventTypes string', { ...VALID_SUBSCRIPTION, eventTypes: 'order.*' }),
  create('type: eventTypes empty', { ...VALID_SUBSCRIPTION, eventTypes: [] }),
  create('type: eventTypes of numbers', { ...VALID_SUBSCRIPTION, eventTypes: [1] }),
  create('type: eventTypes of null', { ...VALID_SUBSCRIPTION, eventTypes: [null] }),
  create('type: eventTypes object', { ...VALID_SUBSCRIPTION, eventTypes: { 0: 'order.*' } }),
  create('type: eventTypes nested array', { ...VALID_SUBSCRIPTION, eventTypes: [['order.*']] }),
  create('type: eventTypes missing', { url: VALID_SUBSCRIPTION.url }),
  create('type: description number', { ...VALID_SUBSCRIPTION, description: 5 }),
  create('type: description array', { ...VALID_SUBSCRIPTION, description: ['x'] }),
  create('type: description null', { ...VALID_SUBSCRIPTION, description: null }),
  create('type: metadata array', { ...VALID_SUBSCRIPTION, metadata: ['k', 'v'] }),
  create('type: metadata string', { ...VALID_SUBSCRIPTION, metadata: 'k=v' }),
  create('type: metadata number value', { ...VALID_SUBSCRIPTION, metadata: { k: 1 } }),
  create('type: metadata null value', { ...VALID_SUBSCRIPTION, metadata: { k: null } }),
  create('type: metadata object value', { ...VALID_SUBSCRIPTION, metadata: { k: { v: 'x' } } }),
  create('type: metadata array value', { ...VALID_SUBSCRIPTION, metadata: { k: ['v'] } }),
  create('type: metadata boolean value', { ...VALID_SUBSCRIPTION, metadata: { k: true } }),
  create('type: metadata empty key', { ...VALID_SUBSCRIPTION, metadata: { '': 'v' } }),
  publishRaw('type: event body null', 'null', 422, 'validation_error'),
  publishRaw('type: event body array', '[]', 422, 'validation_error'),
  publish('type: event type number', { ...VALID_EVENT, type: 5 }),
  publish('type: event type null', { ...VALID_EVENT, type: null }),
  publish('type: event type array', { ...VALID_EVENT, type: ['order.created'] }),
  publish('type: event type object', { ...VALID_EVENT, type: {} }),
  publish('type: event type missing', { data: {} }),
  publish('type: event data array', { ...VALID_EVENT, data: [] }),
  publish('type: event data string', { ...VALID_EVENT, data: 'x' }),
  publish('type: event data null', { ...VALID_EVENT, data: null }),
  publish('type: event data number', { ...VALID_EVENT, data: 5 }),
  publish('type: event data boolean', { ...VALID_EVENT, data: true }),
  publish('type: event data missing', { type: 'order.created' }),
  publish('type: event id number', { ...VALID_EVENT, id: 5 }),
  publish('type: event id empty', { ...VALID_EVENT, id: '' }),
  publish('type: event id with a space', { ...VALID_EVENT, id: 'evt 1' }),
  publish('type: event id with a slash', { ...VALID_EVENT, id: '../evt' }),
  publish('type: event id null', { ...VALID_EVENT, id: null }),
  patch('type: PATCH with nothing to change', {}),
  patchRaw('type: PATCH body null', 'null', 422, 'validation_error'),
  patch('type: PATCH status unknown', { status: 'deleted' }),
  patch('type: PATCH status boolean', { status: true }),
  patch('type: PATCH url number', { url: 5 }),
  patch('type: PATCH eventTypes empty', { eventTypes: [] }),
  patch('type: PATCH description number', { description: 7 }),
  patch('type: PATCH metadata string', { metadata: 'x' }),
  {
    name: 'type: event replay subscriptionId number',
    status: 422,
    code: 'validation_error',
    request: (w) => by(w.alice, 'POST', `/events/${w.aliceEvent}/replay`, '{"subscriptionId":5}'),
  },
  {
    name: 'type: event replay subscriptionId malformed',
    status: 422,
    code: 'validation_error',
    request: (w) => by(w.alice, 'POST', `/events/${w.aliceEvent}/replay`, '{"subscriptionId":"sub_bad"}'),
  },
  {
    name: 'type: event replay body array',
    status: 422,
    code: 'validation_error',
    request: (w) => by(w.alice, 'POST', `/events/${w.aliceEvent}/replay`, '[]'),
  },
  ...[
    ['not a date', 'yesterday'],
    ['a number', 1_767_225_600],
    ['in the future', '2999-01-01T00:00:00Z'],
    ['February 30th', '2026-02-30T00:00:00Z'],
    ['hour 25', '2026-01-01T25:00:00Z'],
  ].map(
    ([what, since]): HostileCase => ({
      name: `type: subscription replay since ${what}`,
      status: 422,
      code: 'validation_error',
      request: (w) => by(w.alice, 'POST', `/subscriptions/${w.aliceSub}/replay`, JSON.stringify({ since })),
    }),
  ),
  {
    name: 'type: subscription replay without since',
    status: 422,
    code: 'validation_error',
    request: (w) => by(w.alice, 'POST', `/subscriptions/${w.aliceSub}/replay`, '{}'),
  },
  {
    name: 'type: secret rotation body null',
    status: 422,
    code: 'validation_error',
    request: (w) => by(w.alice, 'POST', `/subscriptions/${w.aliceSub}/secret/rotate`, 'null'),
  },
];

/** Mass assignment: fields a client must never set, and typos that would otherwise be ignored. */
const UNKNOWN_FIELDS: HostileCase[] = [
  {
    name: 'field: create with another tenantId',
    status: 422,
    code: 'validation_error',
    request: (w) =>
      by(
        w.alice,
        'POST',
        '/subscriptions',
        JSON.stringify({ ...VALID_SUBSCRIPTION, tenantId: w.bob.tenantId }),
      ),
  },
  create('field: create choosing its id', { ...VALID_SUBSCRIPTION, id: 'sub_01AAAAAAAAAAAAAAAAAAAAAAAA' }),
  create('field: create choosing its secret', { ...VALID_SUBSCRIPTION, secret: 'whsec_bWluZQ==' }),
  create('field: create choosing its status', { ...VALID_SUBSCRIPTION, status: 'active' }),
  create('field: create with a typo (eventType)', { url: VALID_SUBSCRIPTION.url, eventType: ['*'] }),
  createRaw(
    'field: create with __proto__',
    `{"__proto__":{"isAdmin":true},"url":"${VALID_SUBSCRIPTION.url}","eventTypes":["*"]}`,
    422,
    'validation_error',
  ),
  create('field: create with constructor.prototype', {
    ...VALID_SUBSCRIPTION,
    constructor: { prototype: { isAdmin: true } },
  }),
  {
    name: 'field: publish for another tenant',
    status: 422,
    code: 'validation_error',
    request: (w) =>
      by(w.alice, 'POST', '/events', JSON.stringify({ ...VALID_EVENT, tenantId: w.bob.tenantId })),
  },
  {
    name: 'field: publish with a bus source',
    status: 422,
    code: 'validation_error',
    request: (w) =>
      by(
        w.alice,
        'POST',
        '/events',
        JSON.stringify({ ...VALID_EVENT, source: `fanout.tenant.${w.bob.tenantId}` }),
      ),
  },
  publish('field: publish choosing its timestamp', { ...VALID_EVENT, timestamp: RECENT }),
  {
    name: 'field: PATCH tenantId',
    status: 422,
    code: 'validation_error',
    request: (w) =>
      by(w.alice, 'PATCH', `/subscriptions/${w.aliceSub}`, JSON.stringify({ tenantId: w.bob.tenantId })),
  },
  patch('field: PATCH secret', { secret: 'whsec_bWluZQ==' }),
  patch('field: PATCH id', { id: 'sub_01AAAAAAAAAAAAAAAAAAAAAAAA' }),
  patch('field: PATCH version', { version: 99, description: 'x' }),
  {
    name: 'field: event replay with a tenantId',
    status: 422,
    code: 'validation_error',
    request: (w) =>
      by(w.alice, 'POST', `/events/${w.aliceEvent}/replay`, JSON.stringify({ tenantId: w.bob.tenantId })),
  },
  {
    name: 'field: secret rotation choosing the secret',
    status: 422,
    code: 'validation_error',
    request: (w) =>
      by(w.alice, 'POST', `/subscriptions/${w.aliceSub}/secret/rotate`, '{"secret":"whsec_bWluZQ=="}'),
  },
  get(
    'field: list with a tenantId query',
    (w) => `/subscriptions?tenantId=${w.bob.tenantId}`,
    422,
    'validation_error',
  ),
];

const HUGE: HostileCase[] = [
  create(
    'huge: 300 KB subscription body',
    { ...VALID_SUBSCRIPTION, description: 'x'.repeat(300_000) },
    413,
    'payload_too_large',
  ),
  createRaw('huge: 10 MB body that is not even JSON', '{'.repeat(10 * 1024 * 1024), 413, 'payload_too_large'),
  publish(
    'huge: event data one byte over 256 KB',
    { type: 'a.b', data: { s: 'x'.repeat(262_137) } },
    413,
    'payload_too_large',
  ),
  publish(
    'huge: event data over 256 KB in UTF-8 but not in characters',
    { type: 'a.b', data: { s: 'é'.repeat(131_100) } },
    413,
    'payload_too_large',
  ),
  publish(
    'huge: event data of 30,000 small keys',
    { type: 'a.b', data: Object.fromEntries(Array.from({ length: 30_000 }, (_, i) => [`k${i}`, 1])) },
    413,
    'payload_too_large',
  ),
  publish(
    'huge: 5 MB event',
    { type: 'a.b', data: { s: 'x'.repeat(5 * 1024 * 1024) } },
    413,
    'payload_too_large',
  ),
  patch('huge: 300 KB PATCH', { description: 'y'.repeat(300_000) }, 413, 'payload_too_large'),
  create('huge: url of 2,049 characters', withUrl(`https://hooks.example.com/${'p'.repeat(2049 - 26)}`)),
  create('huge: url of 100 KB', withUrl(`https://hooks.example.com/${'p'.repeat(100_000)}`)),
  create('huge: description of 513 characters', { ...VALID_SUBSCRIPTION, description: 'd'.repeat(513) }),
  create('huge: 51 event type filters', {
    ...VALID_SUBSCRIPTION,
    eventTypes: Array.from({ length: 51 }, (_, i) => `t${i}.*`),
  }),
  create('huge: 10,000 event type filters', {
    ...VALID_SUBSCRIPTION,
    eventTypes: Array.from({ length: 10_000 }, (_, i) => `t${i}`),
  }),
  create('huge: 51 metadata entries', {
    ...VALID_SUBSCRIPTION,
    metadata: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])),
  }),
  create('huge: 10,000 metadata entries', {
    ...VALID_SUBSCRIPTION,
    metadata: Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, 'v'])),
  }),
  create('huge: metadata key of 65 characters', {
    ...VALID_SUBSCRIPTION,
    metadata: { ['k'.repeat(65)]: 'v' },
  }),
  create('huge: metadata value of 513 characters', {
    ...VALID_SUBSCRIPTION,
    metadata: { k: 'v'.repeat(513) },
  }),
  create('huge: event type filter of 129 characters', {
    ...VALID_SUBSCRIPTION,
    eventTypes: ['f'.repeat(129)],
  }),
  publish('huge: event type of 129 characters', withType('t'.repeat(129))),
  publish('huge: event type of 100 KB', withType('t'.repeat(100_000))),
  publish('huge: event id of 129 characters', { ...VALID_EVENT, id: 'i'.repeat(129) }),
  get(
    'huge: cursor of 257 characters',
    () => `/subscriptions?cursor=${'c'.repeat(257)}`,
    422,
    'validation_error',
  ),
];

const DEEP: HostileCase[] = [
  publish('deep: event data 31 objects deep', { type: 'a.b', data: nested(31) }),
  publishRaw(
    'deep: event data 31 arrays deep',
    `{"type":"a.b","data":{"a":${'['.repeat(30)}${']'.repeat(30)}}}`,
    422,
    'validation_error',
  ),
  publishRaw(
    'deep: event data 50,000 arrays deep',
    `{"type":"a.b","data":{"a":${'['.repeat(50_000)}${']'.repeat(50_000)}}}`,
    422,
    'validation_error',
  ),
  publishRaw(
    'deep: event data 5,000 objects deep under a __proto__ key',
    `{"type":"a.b","data":{"__proto__":${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}}}`,
    422,
    'validation_error',
  ),
  publishRaw(
    'deep: event data 31 objects deep under a __proto__ key',
    `{"type":"a.b","data":{"__proto__":${'{"a":'.repeat(30)}1${'}'.repeat(30)}}}`,
    422,
    'validation_error',
  ),
  createRaw(
    'reserved: metadata key __proto__',
    '{"url":"https://hooks.example.com/a","eventTypes":["*"],"metadata":{"__proto__":"x"}}',
    422,
    'validation_error',
  ),
  publishRaw(
    'deep: event data 10,000 objects deep',
    `{"type":"a.b","data":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`,
    422,
    'validation_error',
  ),
  createRaw(
    'deep: subscription body of 100,000 nested arrays',
    `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
    422,
    'validation_error',
  ),
  create('deep: description of 1,000 nested objects', { ...VALID_SUBSCRIPTION, description: nested(1_000) }),
  create('deep: metadata value of 1,000 nested objects', {
    ...VALID_SUBSCRIPTION,
    metadata: { k: nested(1_000) },
  }),
  patch('deep: PATCH metadata of 1,000 nested objects', { metadata: nested(1_000, 'v') }),
];

/** Every spelling of a non-global target from the issue, and more; each must be refused at registration. */
const SSRF_URLS = [
  'https://127.0.0.1/hook',
  'https://127.0.0.1:443/hook',
  'https://2130706433/hook',
  'https://017700000001/hook',
  'https://0177.0.0.1/hook',
  'https://0x7f.0x0.0x0.0x1/hook',
  'https://0x7f000001/hook',
  'https://0x7F000001./hook',
  'https://0x7f.1/hook',
  'https://%30x7f.1/hook',
  'https://127.1/hook',
  'https://127.0.1/hook',
  'https://127.0.0.1./hook',
  'https://127.1./hook',
  'https://0/hook',
  'https://0.0.0.0/hook',
  'https://0.0.0.0./hook',
  'https://10.1/hook',
  'https://10.0.0.1/hook',
  'https://172.16.0.1/hook',
  'https://172.31.255.254/hook',
  'https://192.168.0.1/hook',
  'https://169.254.169.254/latest/meta-data/iam/',
  'https://169.254.43518/hook',
  'https://0251.0376.0251.0376/hook',
  'https://0xa9fea9fe/hook',
  'https://2852039166/hook',
  'https://100.64.0.1/hook',
  'https://198.18.0.1/hook',
  'https://192.0.2.1/hook',
  'https://224.0.0.1/hook',
  'https://240.0.0.1/hook',
  'https://255.255.255.255/hook',
  'https://4294967295/hook',
  'https://[::1]/hook',
  'https://[::]/hook',
  'https://[0:0:0:0:0:0:0:1]/hook',
  'https://[::ffff:127.0.0.1]/hook',
  'https://[::ffff:7f00:1]/hook',
  'https://[::ffff:169.254.169.254]/hook',
  'https://[::127.0.0.1]/hook',
  'https://[fd00:ec2::254]/hook',
  'https://[fe80::1]/hook',
  'https://[fc00::1]/hook',
  'https://[ff02::1]/hook',
  'https://[64:ff9b::a9fe:a9fe]/hook',
  'https://[2002:7f00:1::]/hook',
  'https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook',
  'https://[fe80::1%25eth0]/hook',
  'https://localhost/hook',
  'https://localhost./hook',
  'https://LocalHost/hook',
  'https://api.localhost/hook',
  'https://localhost.localdomain/hook',
  'https://metadata.google.internal/computeMetadata/v1/',
  'https://router.home.arpa/hook',
  'https://printer.local/hook',
  'https://intranet/hook',
  'https://good@127.0.0.1/hook',
  'https://hooks.example.com@10.0.0.1/hook',
  'https://user:pass@hooks.example.com/hook',
  'https://127.0.0.1%2f@hooks.example.com/hook',
  'https:127.0.0.1/hook',
  'https:/\\127.0.0.1/hook',
  'HTTPS://127.0.0.1/hook',
  ' https://127.0.0.1/hook',
  'https://127.0.0.1\t/hook',
  'http://hooks.example.com/hook',
  'http://127.0.0.1:4000/hook',
  'ftp://hooks.example.com/hook',
  'file:///etc/passwd',
  'gopher://127.0.0.1:25/_HELO',
  'ws://hooks.example.com/hook',
  'javascript:alert(1)',
  'data:text/plain,hello',
  // Names whose addresses are private (fakeResolver table in beforeAll).
  'https://metadata.example.com/hook',
  'https://loopback6.example.com/hook',
  'https://mapped.example.com/hook',
  'https://nat64.example.com/hook',
  'https://sixtofour.example.com/hook',
  'https://mixed.example.com/hook',
  'https://cgnat.example.com/hook',
  'https://zero.example.com/hook',
  'https://127.0.0.1.nip.io/hook',
  'https://nowhere.invalid/hook',
];

const SSRF: HostileCase[] = [
  ...SSRF_URLS.map((url) => create(`ssrf: ${url}`, withUrl(url))),
  patch('ssrf: PATCH url to hex loopback', { url: 'https://0x7f.1/hook' }),
  patch('ssrf: PATCH url to the metadata endpoint', { url: 'https://169.254.169.254/latest/' }),
  patch('ssrf: PATCH url to a name resolving to a private address', { url: 'https://mixed.example.com/h' }),
];

/** CR/LF, NUL, ANSI escapes and bidi overrides in free text that is stored and shown back. */
const INJECTION: HostileCase[] = [
  ...[
    ['CR/LF header', 'ok\r\nX-Injected: yes'],
    ['LF forged log line', 'ok\n{"level":"ERROR","message":"forged"}'],
    ['NUL', 'ok\u0000hidden'],
    ['ANSI colour', '\u001b[31mred\u001b[0m'],
    ['ANSI clear screen', '\u001b[2J\u001b[H'],
    ['OSC 8 hyperlink', '\u001b]8;;https://evil.example\u0007click\u001b]8;;\u0007'],
    ['NEL', 'ok\u0085next'],
    ['backspace', 'admin\u0008\u0008\u0008\u0008\u0008user'],
    ['DEL', 'ok\u007f'],
    ['RLO', 'invoice\u202Efdp.exe'],
    ['LRE', '\u202Aembedded'],
    ['RLI isolate', '\u2067isolated\u2069'],
  ].map(([what, description]) =>
    create(`inject: description with ${what}`, { ...VALID_SUBSCRIPTION, description }),
  ),
  ...[
    ['CR/LF', 'x\r\nSet-Cookie: a=b'],
    ['NUL', 'k\u0000'],
    ['ANSI', '\u001b[2J'],
    ['RLO', 'k\u202E'],
    ['tab', 'k\tv'],
  ].map(([what, key]) =>
    create(`inject: metadata key with ${what}`, {
      ...VALID_SUBSCRIPTION,
      metadata: { [key as string]: 'v' },
    }),
  ),
  ...[
    ['CR/LF', 'v\r\nX-Injected: yes'],
    ['NUL', 'v\u0000'],
    ['ANSI', '\u001b[31mv'],
    ['PDI', 'v\u2069'],
    ['vertical tab', 'v\u000bw'],
  ].map(([what, value]) =>
    create(`inject: metadata value with ${what}`, { ...VALID_SUBSCRIPTION, metadata: { k: value } }),
  ),
  patch('inject: PATCH description with CR/LF', { description: 'x\r\nX-Injected: 1' }),
  patch('inject: PATCH metadata with ANSI', { metadata: { k: '\u001b[31m' } }),
  publish('inject: event id with CR/LF', { ...VALID_EVENT, id: 'evt\r\nX-Injected: 1' }),
  publish('inject: event id with NUL', { ...VALID_EVENT, id: 'evt\u0000' }),
  publish('inject: event type with ANSI', withType('order.\u001b[31mcreated')),
];

const UNICODE: HostileCase[] = [
  ...[
    ['Cyrillic o homoglyph', '\u043Erder.created'],
    ['Greek omicron homoglyph', '\u03BFrder.created'],
    ['full-width letters', 'ｏｒｄｅｒ.created'],
    ['full-width dot', 'order．created'],
    ['ideographic full stop', 'order。created'],
    ['one-dot leader', 'order\u2024created'],
    ['zero-width joiner', 'order\u200D.created'],
    ['zero-width space', 'order.\u200Bcreated'],
    ['zero-width no-break space', '\uFEFForder.created'],
    ['RTL override', 'order.\u202Ecreated'],
    ['pop directional formatting', 'order.created\u202C'],
    ['combining accent', 'order.cre\u0301ated'],
    ['accented letter', 'order.créated'],
    ['emoji', 'order.🎉'],
    ['no-break space', 'order.\u00A0created'],
    ['space', 'order created'],
    ['trailing newline', 'order.created\n'],
    ['empty', ''],
    ['lone dot', '.'],
    ['trailing dot', 'order.'],
    ['leading dot', '.order'],
    ['double dot', 'order..created'],
    ['a wildcard', '*'],
    ['a prefix filter', 'order.*'],
    ['slash', 'order/created'],
  ].map(([what, type]) => publish(`unicode: event type with ${what}`, withType(type as string))),
  ...[
    ['Cyrillic homoglyph', '\u043Erder.*'],
    ['full-width dot', 'order．*'],
    ['zero-width joiner', 'order\u200D.*'],
    ['RTL override', '\u202Eorder.*'],
    ['double wildcard', '**'],
    ['inner wildcard', 'order.*.created'],
    ['leading wildcard', '*.created'],
    ['empty', ''],
  ].map(([what, filter]) =>
    create(`unicode: event type filter with ${what}`, { ...VALID_SUBSCRIPTION, eventTypes: [filter] }),
  ),
  ...[
    ['full-width digits', 'https://１２７.０.０.１/hook'],
    ['ideographic full stops', 'https://127。0。0。1/hook'],
    ['circled letters spelling localhost', 'https://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/hook'],
    ['an IDN resolving to a private address', 'https://bücher.example/hook'],
    ['a homoglyph IDN resolving to loopback', 'https://аррӏе.com/hook'],
    ['its punycode resolving to loopback', 'https://xn--80ak6aa92e.com/hook'],
    ['RTL override in the host', 'https://ex\u202Eample.com/hook'],
    ['zero-width joiner in the host', 'https://exa\u200Dmple.com/hook'],
    ['NUL in the host', 'https://hooks.example.com\u0000.evil/hook'],
    ['full-width digits for the metadata endpoint', 'https://１６９.２５４.１６９.２５４/'],
  ].map(([what, url]) => create(`unicode: url with ${what}`, withUrl(url as string))),
];

const CONTENT_TYPES: HostileCase[] = [
  ...[
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/xml',
    'text/json',
    'application/jsonx',
    'application/json, text/plain',
    'application/json\r\nX-Injected: 1',
  ].map(
    (contentType): HostileCase => ({
      name: `content-type: ${JSON.stringify(contentType)}`,
      status: 415,
      code: 'unsupported_media_type',
      request: (w) =>
        by(w.alice, 'POST', '/subscriptions', JSON.stringify(VALID_SUBSCRIPTION), {
          'content-type': contentType,
        }),
    }),
  ),
  {
    name: 'content-type: form-encoded subscription',
    status: 415,
    code: 'unsupported_media_type',
    request: (w) =>
      by(w.alice, 'POST', '/subscriptions', 'url=https%3A%2F%2Fhooks.example.com%2Fx&eventTypes=*', {
        'content-type': 'application/x-www-form-urlencoded',
      }),
  },
  {
    name: 'content-type: text/html event',
    status: 415,
    code: 'unsupported_media_type',
    request: (w) =>
      by(w.alice, 'POST', '/events', JSON.stringify(VALID_EVENT), { 'content-type': 'text/html' }),
  },
  {
    name: 'content-type: text/plain PATCH',
    status: 415,
    code: 'unsupported_media_type',
    request: (w) =>
      by(w.alice, 'PATCH', `/subscriptions/${w.aliceSub}`, '{"description":"x"}', {
        'content-type': 'text/plain',
      }),
  },
  {
    name: 'content-type: text/plain subscription replay',
    status: 415,
    code: 'unsupported_media_type',
    request: (w) =>
      by(w.alice, 'POST', `/subscriptions/${w.aliceSub}/replay`, JSON.stringify({ since: RECENT }), {
        'content-type': 'text/plain',
      }),
  },
];

const CURSORS: HostileCase[] = [
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

const PATHS: HostileCase[] = [
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

const AUTH: HostileCase[] = [
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
const OTHER_TENANT: HostileCase[] = [
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

const STATE: HostileCase[] = [
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

const LIMITS: HostileCase[] = [
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

const CASES: HostileCase[] = [
  ...MALFORMED_JSON,
  ...WRONG_TYPES,
  ...UNKNOWN_FIELDS,
  ...HUGE,
  ...DEEP,
  ...SSRF,
  ...INJECTION,
  ...UNICODE,
  ...CONTENT_TYPES,
  ...CURSORS,
  ...PATHS,
  ...AUTH,
  ...OTHER_TENANT,
  ...STATE,
  ...LIMITS,
];

/** Every item of a table except the rate-limit counters (which every request moves), in key order. */
async function tableItems(db: DynamoDBDocumentClient, table: string) {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page: ScanCommandOutput = await db.send(
      new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  const key = (item: Record<string, unknown>) => `${String(item.pk)} ${String(item.sk ?? '')}`;
  return items
    .filter((item) => !String(item.pk).startsWith('rate#'))
    .sort((a, b) => key(a).localeCompare(key(b)));
}

/** The moment the throttled API believes it is: dave's window never ends. */
const THROTTLED_AT = Date.UTC(2031, 0, 1, 0, 0, 0, 500);

describe('Security: hostile requests are refused with the error contract and change nothing', () => {
  let service: Service;
  let world: World;
  const apis = {} as Record<
    'service' | 'capped' | 'throttled',
    (request: ApiRequest) => Promise<NormalizedResponse>
  >;

  beforeAll(async () => {
    service = await startTestService({
      allowPrivateUrls: false,
      resolveHost: fakeResolver({
        'metadata.example.com': ['169.254.169.254'],
        'loopback6.example.com': ['::1'],
        'mapped.example.com': ['::ffff:10.0.0.1'],
        'nat64.example.com': ['64:ff9b::a9fe:a9fe'],
        'sixtofour.example.com': ['2002:c0a8:1::1'],
        'mixed.example.com': [PUBLIC_ADDRESS, '192.168.0.1'],
        'cgnat.example.com': ['100.64.1.1'],
        'zero.example.com': ['0.0.0.0'],
        '127.0.0.1.nip.io': ['127.0.0.1'],
        'xn--bcher-kva.example': ['10.0.0.1'],
        'xn--80ak6aa92e.com': ['127.0.0.1'],
      }),
    });
    apis.service = service.api;
    const capped = { ...service.config, maxSubscriptionsPerTenant: 1 };
    apis.capped = (request) =>
      invokeApi(
        {
          authorizer: authorizerFunction(capped, service.clients, { cacheTtlMs: 0 }),
          register: registerFunction(capped, service.clients, { resolveHost: fakeResolver() }),
          ingest: ingestFunction(capped, service.clients),
        },
        request,
      );
    const throttled = { ...service.config, tenantRequestsPerSecond: 2 };
    const now = () => THROTTLED_AT;
    apis.throttled = (request) =>
      invokeApi(
        {
          authorizer: authorizerFunction(throttled, service.clients, { cacheTtlMs: 0 }),
          register: registerFunction(throttled, service.clients, { now, resolveHost: fakeResolver() }),
          ingest: ingestFunction(throttled, service.clients, { now }),
        },
        request,
      );

    const alice = await service.createTenant('alice');
    const bob = await service.createTenant('bob');
    const carol = await service.createTenant('carol');
    const dave = await service.createTenant('dave');
    const erin = await service.createTenant('erin');
    const call = async (tenant: Tenant, method: string, path: string, body?: unknown, expected = 200) => {
      const response = await service.api(
        by(tenant, method, path, body === undefined ? undefined : JSON.stringify(body)),
      );
      expect(response.statusCode, response.body).toBe(expected);
      return JSON.parse(response.body || '{}');
    };
    const subscribe = async (tenant: Tenant, eventTypes: string[]) =>
      (
        await call(
          tenant,
          'POST',
          '/subscriptions',
          { url: 'https://hooks.example.com/setup', eventTypes },
          201,
        )
      ).id as string;

    // Neither tenant subscribes to invoice events, so the stored events put nothing on the delivery queue.
    const aliceSub = await subscribe(alice, ['order.*']);
    const aliceDisabled = await subscribe(alice, ['invoice.*']);
    await call(alice, 'PATCH', `/subscriptions/${aliceDisabled}`, { status: 'disabled' });
    const bobSub = await subscribe(bob, ['order.*']);
    await subscribe(carol, ['*']);
    const daveSub = await subscribe(dave, ['*']);
    const erinSub = await subscribe(erin, ['*']);
    await call(alice, 'POST', '/events', { id: 'evt-alice-1', type: 'invoice.paid', data: {} }, 202);
    await call(bob, 'POST', '/events', { id: 'evt-bob-1', type: 'invoice.paid', data: {} }, 202);
    await waitFor(
      async () => {
        await service.pollFanout();
        const stored = await Promise.all([
          service.api(by(alice, 'GET', '/events/evt-alice-1')),
          service.api(by(bob, 'GET', '/events/evt-bob-1')),
        ]);
        return stored.every((response) => response.statusCode === 200) || undefined;
      },
      { what: 'both events stored' },
    );
    await revokeApiKey(service.clients.db, service.resources.tables.tenants, erin.tenantId, erin.keyId);
    // Dave spends the throttled API's whole allowance for its (frozen) second.
    for (let i = 0; i < 2; i++) {
      expect((await apis.throttled(by(dave, 'GET', '/subscriptions'))).statusCode).toBe(200);
    }
    world = {
      alice,
      bob,
      carol,
      dave,
      erin,
      aliceSub,
      aliceDisabled,
      aliceEvent: 'evt-alice-1',
      bobSub,
      bobEvent: 'evt-bob-1',
      daveSub,
      erinSub,
    };
  });
  afterAll(() => service?.close());

  /** Every item of every table and the depth of every queue. */
  async function state() {
    const { tables } = service.resources;
    const scan = (table: string) => tableItems(service.clients.db, table);
    const queues = namedQueues(service.resources);
    return {
      tables: Object.fromEntries(
        await Promise.all(Object.entries(tables).map(async ([name, table]) => [name, await scan(table)])),
      ),
      queues: Object.fromEntries(
        await Promise.all(
          queues.map(async (queue) => [queue.name, await queueDepth(service.clients.sqs, queue.url)]),
        ),
      ),
    };
  }

  it('has at least 100 distinct cases, each named once', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(100);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
    const requests = CASES.map((c) => JSON.stringify([c.via, c.request(world)]));
    expect(new Set(requests).size).toBe(CASES.length);
  });

  it('starts from the expected state: two stored events, no queued work', async () => {
    const { tables, queues } = await state();
    expect(tables.events).toHaveLength(2);
    for (const depth of Object.values(queues)) expect(depth).toEqual({ visible: 0, inFlight: 0 });
  });

  for (const hostile of CASES) {
    it(`${hostile.name} → ${hostile.status} ${hostile.code}`, async () => {
      const request = hostile.request(world);
      const before = await state();
      const response = await apis[hostile.via ?? 'service'](request);

      expect(response.statusCode, response.body).toBe(hostile.status);
      expect(response.headers['content-type']).toBe('application/json');
      const body = JSON.parse(response.body);
      expect(body).toEqual({ error: { code: hostile.code, message: expect.any(String) } });
      expect(body.error.message.length).toBeGreaterThan(0);
      if (hostile.status === 401) expect(response.headers['www-authenticate']).toBe('Bearer');
      if (hostile.status === 429) expect(response.headers['retry-after']).toBe('1');
      // Nothing sent is echoed into a response header, and no key is ever echoed back.
      for (const value of Object.values(response.headers)) expect(value).not.toMatch(/[\r\n\0]/);
      for (const tenant of [world.alice, world.bob, world.erin])
        expect(response.body).not.toContain(tenant.apiKey);

      expect(await state()).toEqual(before);
    });
  }

  // Accepted, not refused: JSON allows these keys, so the point is that no parser or schema step lets them
  // reach a prototype.
  it('a __proto__ key in event data pollutes no prototype', async () => {
    const created = await apis.service(
      by(
        world.alice,
        'POST',
        '/subscriptions',
        '{"url":"https://hooks.example.com/proto","eventTypes":["proto.*"]}',
      ),
    );
    expect(created.statusCode, created.body).toBe(201);
    const published = await apis.service(
      by(world.alice, 'POST', '/events', '{"type":"proto.test","data":{"__proto__":{"polluted":true}}}'),
    );
    expect(published.statusCode, published.body).toBe(202);
    expect(await service.pollFanout()).toMatchObject({ received: 1, failed: 0 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('x');
  });

  // Once bugs: the DynamoDB marshaller read an own "constructor" key as the value's class, and the schema's
  // record dropped "__proto__". Payloads are now stored as JSON text and published as parsed.
  it('answers a metadata key "constructor" with 201 or 422, never a 5xx', async () => {
    const created = await apis.service(
      by(
        world.alice,
        'POST',
        '/subscriptions',
        JSON.stringify({ ...VALID_SUBSCRIPTION, metadata: { constructor: 'x' } }),
      ),
    );
    expect([201, 422]).toContain(created.statusCode);
  });

  it('stores event data with a "constructor" key at any depth intact', async () => {
    for (const [i, data] of [
      '{"constructor":1}',
      '{"a":{"constructor":"x"}}',
      '{"constructor":{"name":"String"}}',
    ].entries()) {
      const id = `evt-constructor-${i}`;
      const published = await apis.service(
        by(world.alice, 'POST', '/events', `{"id":"${id}","type":"proto.test","data":${data}}`),
      );
      expect(published.statusCode).toBe(202);
      expect(await service.pollFanout()).toMatchObject({ received: 1, failed: 0 });
      const stored = await apis.service(by(world.alice, 'GET', `/events/${id}`));
      expect(JSON.parse(stored.body).data).toEqual(JSON.parse(data));
    }
  });

  it('keeps a "__proto__" key of event data', async () => {
    const data = '{"__proto__":{"a":1},"b":2}';
    await apis.service(
      by(world.alice, 'POST', '/events', `{"id":"evt-proto","type":"proto.test","data":${data}}`),
    );
    await service.pollFanout();
    const stored = await apis.service(by(world.alice, 'GET', '/events/evt-proto'));
    expect(JSON.parse(stored.body).data).toEqual(JSON.parse(data));
  });
});

/** A few of the same through local mode's real HTTP server, where bodies arrive as bytes. */
interface HttpCase {
  name: string;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Send no API key. */
  anonymous?: boolean;
  status: number;
  code: string;
}

const HTTP_CASES: HttpCase[] = [
  {
    name: 'truncated JSON',
    path: '/subscriptions',
    body: '{"url":"https://hooks.example.com/x","eventTy',
    status: 400,
    code: 'invalid_json',
  },
  {
    name: 'text/plain body',
    path: '/subscriptions',
    headers: { 'content-type': 'text/plain' },
    body: JSON.stringify(VALID_SUBSCRIPTION),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: '11 MB body',
    path: '/events',
    body: `{"type":"a.b","data":{"s":"${'x'.repeat(11 * 1024 * 1024)}"}}`,
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: 'no API key',
    path: '/subscriptions',
    body: JSON.stringify(VALID_SUBSCRIPTION),
    anonymous: true,
    status: 401,
    code: 'unauthorized',
  },
  {
    name: 'hex loopback url',
    path: '/subscriptions',
    body: JSON.stringify(withUrl('https://0x7f.1/hook')),
    status: 422,
    code: 'validation_error',
  },
  {
    name: 'metadata endpoint in octal',
    path: '/subscriptions',
    body: JSON.stringify(withUrl('https://0251.0376.0251.0376/latest/')),
    status: 422,
    code: 'validation_error',
  },
  {
    name: 'encoded traversal in the path',
    method: 'GET',
    path: '/subscriptions/..%2F..%2Fevents',
    status: 404,
    code: 'not_found',
  },
  {
    name: 'invalid UTF-8 bytes in an event type',
    path: '/events',
    body: Buffer.concat([
      Buffer.from('{"type":"order.'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('","data":{}}'),
    ]),
    status: 422,
    code: 'validation_error',
  },
  {
    name: 'CR/LF in a description',
    path: '/subscriptions',
    body: JSON.stringify({ ...VALID_SUBSCRIPTION, description: 'a\r\nb' }),
    status: 422,
    code: 'validation_error',
  },
];

describe('Security: hostile requests through local mode over HTTP', () => {
  let runtime: LocalRuntime;
  let apiKey: string;
  let dynamo: DynamoDBClient;

  beforeAll(async () => {
    runtime = await startLocalRuntime({ port: 0, allowPrivateUrls: false, log: () => undefined });
    apiKey = runtime.tenants[0]?.apiKey ?? '';
    dynamo = new DynamoDBClient({
      endpoint: runtime.dynamoEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });
  afterAll(async () => {
    dynamo?.destroy();
    await runtime?.stop();
  });

  /** Every table's items (rate-limit counters aside) and every queue's depth, read beside the API. */
  async function state() {
    const db = documentClient(dynamo);
    const { TableNames = [] } = await dynamo.send(new ListTablesCommand({}));
    const tables: Record<string, Record<string, unknown>[]> = {};
    for (const table of TableNames) tables[table] = await tableItems(db, table);
    return { tables, queues: (await runtime.status()).queues };
  }

  for (const hostile of HTTP_CASES) {
    it(`${hostile.name} → ${hostile.status} ${hostile.code}`, async () => {
      const before = await state();
      const response = await fetch(`${runtime.url}${hostile.path}`, {
        method: hostile.method ?? 'POST',
        headers: {
          'content-type': 'application/json',
          ...(hostile.anonymous ? {} : { authorization: `Bearer ${apiKey}` }),
          ...hostile.headers,
        },
        ...(hostile.body === undefined ? {} : { body: hostile.body }),
      });
      const text = await response.text();
      expect(response.status, text).toBe(hostile.status);
      expect(response.headers.get('content-type')).toBe('application/json');
      expect(JSON.parse(text)).toEqual({ error: { code: hostile.code, message: expect.any(String) } });
      expect(text).not.toContain(apiKey);
      if (hostile.status === 401) expect(response.headers.get('www-authenticate')).toBe('Bearer');
      expect(await state()).toEqual(before);
    });
  }
});
