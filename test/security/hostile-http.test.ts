import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentClient } from '../../lambdas/platform/aws-clients.js';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';
import { VALID_SUBSCRIPTION, withUrl } from '../support/hostile/requests.js';
import { tableItems } from '../support/hostile/world.js';

/**
 * A few of the hostile cases (test/support/hostile/) through local mode's real HTTP server, where bodies
 * arrive as bytes: each refused with the JSON error contract and changing no table or queue.
 */
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
