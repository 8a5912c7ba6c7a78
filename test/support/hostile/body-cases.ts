import {
  by,
  create,
  createRaw,
  get,
  type HostileCase,
  patch,
  patchRaw,
  publish,
  publishRaw,
  RECENT,
  VALID_EVENT,
  VALID_SUBSCRIPTION,
  withUrl,
} from './requests.js';

/** Hostile request bodies: malformed JSON, wrong types, fields a client must never set, wrong media types. */

export const MALFORMED_JSON: HostileCase[] = [
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

export const WRONG_TYPES: HostileCase[] = [
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
  create('type: rateLimit string', { ...VALID_SUBSCRIPTION, rateLimit: '5' }),
  create('type: rateLimit zero', { ...VALID_SUBSCRIPTION, rateLimit: 0 }),
  create('type: rateLimit fraction', { ...VALID_SUBSCRIPTION, rateLimit: 2.5 }),
  create('type: rateLimit over the maximum', { ...VALID_SUBSCRIPTION, rateLimit: 501 }),
  create('type: rateLimit object', { ...VALID_SUBSCRIPTION, rateLimit: { perSecond: 5 } }),
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
  patch('type: PATCH rateLimit negative', { rateLimit: -1 }),
  patch('type: PATCH rateLimit boolean', { rateLimit: true }),
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
export const UNKNOWN_FIELDS: HostileCase[] = [
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

export const CONTENT_TYPES: HostileCase[] = [
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
