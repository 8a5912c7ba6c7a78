import {
  create,
  createRaw,
  get,
  type HostileCase,
  nested,
  patch,
  publish,
  publishRaw,
  VALID_EVENT,
  VALID_SUBSCRIPTION,
  withType,
  withUrl,
} from './requests.js';

/** Hostile payload sizes and shapes: bodies, fields and lists too large, and data nested too deep. */

export const HUGE: HostileCase[] = [
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

export const DEEP: HostileCase[] = [
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
