import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRET_ROTATION_GRACE_SECONDS } from '../../lambdas/storage/subscription-secrets.js';
import { bearer, startTestService } from '../support/service.js';
import { createSubscription } from '../support/subscriptions.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

describe('Function: api (subscription API)', () => {
  let service: Service;
  let keyA: string;
  let keyB: string;

  beforeAll(async () => {
    service = await startTestService({ allowPrivateUrls: false });
    keyA = (await service.createTenant('tenant-a')).apiKey;
    keyB = (await service.createTenant('tenant-b')).apiKey;
  });
  afterAll(() => service.close());

  const call = (apiKey: string, method: string, path: string, body?: unknown) =>
    service.api({
      method,
      path,
      headers: bearer(apiKey),
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
  const json = (response: { body: string }) => JSON.parse(response.body);
  /** The subscription as stored, secrets included. */
  const storedItem = async (tenantId: string, id: string) => {
    const { Item } = await service.clients.db.send(
      new GetCommand({
        TableName: service.resources.tables.subscriptions,
        Key: { pk: tenantId, sk: `sub#${id}` },
      }),
    );
    return Item;
  };
  const subscriptionItems = async () => {
    const { Items = [] } = await service.clients.db.send(
      new ScanCommand({ TableName: service.resources.tables.subscriptions }),
    );
    return Items;
  };

  it('creates a subscription and returns its secret only then', async () => {
    const created = await call(keyA, 'POST', '/subscriptions', {
      url: 'https://hooks.example.com/a',
      eventTypes: ['order.created', 'order.*'],
      description: 'orders',
      metadata: { team: 'billing' },
    });
    expect(created.statusCode).toBe(201);
    const body = json(created);
    expect(body).toMatchObject({
      url: 'https://hooks.example.com/a',
      eventTypes: ['order.created', 'order.*'],
      status: 'active',
      description: 'orders',
      metadata: { team: 'billing' },
    });
    expect(body.id).toMatch(/^sub_[0-9A-Z]{26}$/);
    expect(body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Date.parse(body.createdAt)).not.toBeNaN();

    const fetched = await call(keyA, 'GET', `/subscriptions/${body.id}`);
    expect(fetched.statusCode).toBe(200);
    expect(json(fetched)).toEqual({ ...body, secret: undefined, updatedAt: body.updatedAt });
    expect(json(fetched)).not.toHaveProperty('secret');
  });

  it('updates fields, disables and re-enables, then deletes', async () => {
    const { id } = await createSubscription(service.api, keyA, { url: 'https://x.example.com' });

    const patched = await call(keyA, 'PATCH', `/subscriptions/${id}`, {
      url: 'https://y.example.com/hook',
      eventTypes: ['user.deleted'],
      status: 'disabled',
    });
    expect(patched.statusCode).toBe(200);
    expect(json(patched)).toMatchObject({
      url: 'https://y.example.com/hook',
      eventTypes: ['user.deleted'],
      status: 'disabled',
    });
    expect(json(patched)).not.toHaveProperty('secret');
    expect(json(await call(keyA, 'PATCH', `/subscriptions/${id}`, { status: 'active' })).status).toBe(
      'active',
    );

    const deleted = await call(keyA, 'DELETE', `/subscriptions/${id}`);
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe('');
    expect((await call(keyA, 'GET', `/subscriptions/${id}`)).statusCode).toBe(404);
    expect((await call(keyA, 'DELETE', `/subscriptions/${id}`)).statusCode).toBe(404);
    // The subscription and every routing entry it had are gone.
    expect((await subscriptionItems()).filter((item) => item.sk === id || item.sk === `sub#${id}`)).toEqual(
      [],
    );
  });

  it('lists page by page with a cursor, oldest first, without secrets', async () => {
    const fresh = await service.createTenant('lister');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        (await createSubscription(service.api, fresh.apiKey, { url: `https://h${i}.example.com` })).id,
      );
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const response = await call(
        fresh.apiKey,
        'GET',
        `/subscriptions?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(response.statusCode).toBe(200);
      const page = json(response);
      expect(page.items.length).toBeLessThanOrEqual(2);
      for (const item of page.items) expect(item).not.toHaveProperty('secret');
      seen.push(...page.items.map((item: { id: string }) => item.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(ids);
    expect(pages).toBeGreaterThanOrEqual(3);
  });

  describe('secret rotation (POST /subscriptions/{id}/secret/rotate)', () => {
    const rotate = (apiKey: string, id: string, body?: unknown) =>
      call(apiKey, 'POST', `/subscriptions/${id}/secret/rotate`, body);

    it('returns a new secret once, keeps the old one signing for 24 hours, and GET never shows either', async () => {
      const tenant = await service.createTenant('rotator');
      const created = await createSubscription(service.api, tenant.apiKey, { url: 'https://r.example.com' });
      const before = Date.now();
      const response = await rotate(tenant.apiKey, created.id);
      const after = Date.now();
      expect(response.statusCode).toBe(200);
      const rotated = json(response);
      expect(rotated.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(rotated.secret).not.toBe(created.secret);
      const { secret: _new, updatedAt: _u1, ...publicAfter } = rotated;
      const { secret: _old, updatedAt: _u2, ...publicBefore } = created;
      expect(publicAfter).toEqual(publicBefore);

      const item = await storedItem(tenant.tenantId, created.id);
      expect(item?.secret).toBe(rotated.secret);
      expect(item?.previousSecrets).toEqual([{ secret: created.secret, expiresAt: expect.any(String) }]);
      const expiresAt = Date.parse(item?.previousSecrets[0].expiresAt);
      expect(expiresAt).toBeGreaterThanOrEqual(before + SECRET_ROTATION_GRACE_SECONDS * 1000);
      expect(expiresAt).toBeLessThanOrEqual(after + SECRET_ROTATION_GRACE_SECONDS * 1000);

      const fetched = await call(tenant.apiKey, 'GET', `/subscriptions/${created.id}`);
      const listed = await call(tenant.apiKey, 'GET', '/subscriptions');
      const listedItem = json(listed).items.find((item: { id: string }) => item.id === created.id);
      for (const shown of [json(fetched), listedItem]) {
        expect(shown).toMatchObject({ id: created.id });
        expect(shown).not.toHaveProperty('secret');
        expect(shown).not.toHaveProperty('previousSecrets');
      }
      expect(fetched.body + listed.body).not.toContain('whsec_');
    });

    it('accepts an empty JSON object as the body', async () => {
      const { id } = await createSubscription(service.api, keyA, { url: 'https://r2.example.com' });
      const response = await rotate(keyA, id, {});
      expect(response.statusCode).toBe(200);
      expect(json(response).secret).toMatch(/^whsec_/);
    });

    it.each([
      ['a body field', { secret: 'whsec_mine' }, 422, 'validation_error', /secret/],
      ['an array body', [], 422, 'validation_error', /^body: /],
      ['malformed JSON', '{', 400, 'invalid_json', /not valid JSON/],
    ])('refuses %s and keeps the secret', async (_name, body, status, code, message) => {
      const tenant = await service.createTenant('rotation-rejects');
      const created = await createSubscription(service.api, tenant.apiKey, { url: 'https://r3.example.com' });
      const before = await storedItem(tenant.tenantId, created.id);
      const response = await rotate(tenant.apiKey, created.id, body);
      expect(response.statusCode).toBe(status);
      expect(json(response).error.code).toBe(code);
      expect(json(response).error.message).toMatch(message);
      expect(await storedItem(tenant.tenantId, created.id)).toEqual(before);
    });

    it('answers 404 for an unknown subscription', async () => {
      const response = await rotate(keyA, 'sub_00000000000000000000000000');
      expect(response.statusCode).toBe(404);
      expect(json(response).error.code).toBe('not_found');
    });
  });

  describe('tenant isolation', () => {
    it("answers 404 to a rotation of another tenant's subscription and leaves its secret alone", async () => {
      const tenant = await service.createTenant('rotation-owner');
      const created = await createSubscription(service.api, tenant.apiKey, { url: 'https://r4.example.com' });
      const before = await storedItem(tenant.tenantId, created.id);
      for (const body of [undefined, {}]) {
        const response = await call(keyB, 'POST', `/subscriptions/${created.id}/secret/rotate`, body);
        expect(response.statusCode).toBe(404);
        expect(json(response).error.code).toBe('not_found');
      }
      expect(await storedItem(tenant.tenantId, created.id)).toEqual(before);
      expect(before?.secret).toBe(created.secret);
    });

    it("answers 404 for another tenant's subscription on every route and changes nothing", async () => {
      const mine = await createSubscription(service.api, keyA, { url: 'https://a.example.com' });
      for (const [method, body] of [['GET'], ['PATCH', { status: 'disabled' }], ['DELETE']] as const) {
        const response = await call(keyB, method, `/subscriptions/${mine.id}`, body);
        expect(response.statusCode, method).toBe(404);
        expect(json(response).error.code).toBe('not_found');
      }
      expect(json(await call(keyA, 'GET', `/subscriptions/${mine.id}`)).status).toBe('active');
      const listedByB = json(await call(keyB, 'GET', '/subscriptions')).items.map(
        (item: { id: string }) => item.id,
      );
      expect(listedByB).not.toContain(mine.id);
    });

    it('ignores a cursor made from another tenant’s id', async () => {
      const mine = await createSubscription(service.api, keyA, { url: 'https://a2.example.com' });
      const cursor = Buffer.from(mine.id).toString('base64url');
      const page = json(await call(keyB, 'GET', `/subscriptions?cursor=${cursor}`));
      expect(page.items.map((item: { id: string }) => item.id)).not.toContain(mine.id);
    });
  });

  describe('rejected requests', () => {
    const cases: [string, string, string, unknown, number, string, RegExp][] = [
      ['malformed JSON', 'POST', '/subscriptions', '{"url": ', 400, 'invalid_json', /not valid JSON/],
      ['missing body', 'POST', '/subscriptions', '', 400, 'invalid_json', /JSON document/],
      ['missing url', 'POST', '/subscriptions', { eventTypes: ['*'] }, 422, 'validation_error', /^url: /],
      [
        'plain http',
        'POST',
        '/subscriptions',
        { url: 'http://h.example.com', eventTypes: ['*'] },
        422,
        'validation_error',
        /url: must use https/,
      ],
      [
        'relative url',
        'POST',
        '/subscriptions',
        { url: '/hook', eventTypes: ['*'] },
        422,
        'validation_error',
        /url: must be an absolute URL/,
      ],
      [
        'credentials in url',
        'POST',
        '/subscriptions',
        { url: 'https://u:p@h.example.com', eventTypes: ['*'] },
        422,
        'validation_error',
        /credentials/,
      ],
      [
        'empty eventTypes',
        'POST',
        '/subscriptions',
        { url: 'https://h.example.com', eventTypes: [] },
        422,
        'validation_error',
        /^eventTypes: /,
      ],
      [
        'bad filter',
        'POST',
        '/subscriptions',
        { url: 'https://h.example.com', eventTypes: ['order.**'] },
        422,
        'validation_error',
        /eventTypes\[0\]: must be an event type/,
      ],
      [
        'unknown field',
        'POST',
        '/subscriptions',
        { url: 'https://h.example.com', eventTypes: ['*'], eventType: 'x' },
        422,
        'validation_error',
        /eventType/,
      ],
      [
        'wrong type',
        'POST',
        '/subscriptions',
        { url: 42, eventTypes: ['*'] },
        422,
        'validation_error',
        /^url: /,
      ],
      [
        'metadata not strings',
        'POST',
        '/subscriptions',
        { url: 'https://h.example.com', eventTypes: ['*'], metadata: { a: 1 } },
        422,
        'validation_error',
        /metadata\.a/,
      ],
      ['array body', 'POST', '/subscriptions', [], 422, 'validation_error', /^body: /],
      [
        'empty patch',
        'PATCH',
        '/subscriptions/sub_00000000000000000000000000',
        {},
        422,
        'validation_error',
        /at least one/,
      ],
      [
        'bad status',
        'PATCH',
        '/subscriptions/sub_00000000000000000000000000',
        { status: 'paused' },
        422,
        'validation_error',
        /^status: /,
      ],
      ['bad limit', 'GET', '/subscriptions?limit=0', undefined, 422, 'validation_error', /^limit: /],
      ['bad cursor', 'GET', '/subscriptions?cursor=garbage', undefined, 400, 'invalid_cursor', /cursor/],
      [
        'unknown id',
        'GET',
        '/subscriptions/sub_00000000000000000000000000',
        undefined,
        404,
        'not_found',
        /does not exist/,
      ],
      ['malformed id', 'GET', '/subscriptions/%27%20OR%201=1', undefined, 404, 'not_found', /does not exist/],
      [
        'broken escape in id',
        'GET',
        '/subscriptions/%E0%A4%A',
        undefined,
        404,
        'not_found',
        /does not exist/,
      ],
      ['unknown route', 'GET', '/nothing-here', undefined, 404, 'not_found', /no route/],
      [
        'wrong method',
        'PUT',
        '/subscriptions',
        undefined,
        405,
        'method_not_allowed',
        /allowed: GET, HEAD, POST/,
      ],
    ];

    it.each(cases)('%s → %i %s', async (_name, method, path, body, status, code, message) => {
      const before = (await subscriptionItems()).length;
      const response = await call(keyA, method, path, body);
      expect(response.statusCode).toBe(status);
      expect(response.headers['content-type']).toBe('application/json');
      const error = json(response).error;
      expect(error.code).toBe(code);
      expect(error.message).toMatch(message);
      expect((await subscriptionItems()).length).toBe(before);
    });

    it('refuses a body that is not JSON by content type', async () => {
      const response = await service.api({
        method: 'POST',
        path: '/subscriptions',
        headers: { authorization: `Bearer ${keyA}`, 'content-type': 'text/plain' },
        body: JSON.stringify({ url: 'https://h.example.com', eventTypes: ['*'] }),
      });
      expect(response.statusCode).toBe(415);
      expect(json(response).error.code).toBe('unsupported_media_type');
    });

    it('refuses a body over the request cap (256 KB of event data plus room for its envelope)', async () => {
      const response = await call(keyA, 'POST', '/subscriptions', {
        url: 'https://h.example.com',
        eventTypes: ['*'],
        description: 'x'.repeat(300 * 1024),
      });
      expect(response.statusCode).toBe(413);
      expect(json(response).error.code).toBe('payload_too_large');
    });
  });
});
