import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  type ScanCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TenantRateLimiter } from '../../lambdas/api/rate-limit.js';
import { logger } from '../../lambdas/platform/logger.js';
import { SubscriptionStore } from '../../lambdas/storage/subscriptions.js';
import { apiFunction, authorizerFunction, ingestFunction } from '../../lambdas/wiring.js';
import { type ApiRequest, invokeApi } from '../../local/emulators/api-gateway.js';
import { postEvent, publishedEvent } from '../support/events.js';
import { fakeResolver } from '../support/resolver.js';
import { bearer, startTestService } from '../support/service.js';
import { postSubscription, subscriptionInput } from '../support/subscriptions.js';

type Service = Awaited<ReturnType<typeof startTestService>>;
type Tenant = Awaited<ReturnType<Service['createTenant']>>;

const json = (response: { body: string }) => JSON.parse(response.body);

/** Everything a tenant has in the subscriptions table: subscriptions, routes and its count. */
async function tenantItems(service: Service, tenant: Tenant) {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page: ScanCommandOutput = await service.clients.db.send(
      new ScanCommand({
        TableName: service.resources.tables.subscriptions,
        ExclusiveStartKey: start,
        ConsistentRead: true,
      }),
    );
    items.push(...(page.Items ?? []).filter((item) => String(item.pk).includes(tenant.tenantId)));
    start = page.LastEvaluatedKey;
  } while (start);
  return items.sort((a, b) => `${a.pk}${a.sk}`.localeCompare(`${b.pk}${b.sk}`));
}

describe('Security: per-tenant API throttling', () => {
  let service: Service;
  /** The rate limiter's clock: 200 ms into a second, moved by hand. */
  let now: number;
  let api: (request: ApiRequest) => ReturnType<typeof invokeApi>;
  const LIMIT = 3;

  beforeAll(async () => {
    service = await startTestService();
    const config = { ...service.config, tenantRequestsPerSecond: LIMIT };
    const functions = {
      authorizer: authorizerFunction(config, service.clients, { cacheTtlMs: 0 }),
      api: apiFunction(config, service.clients, { now: () => now, resolveHost: fakeResolver() }),
      ingest: ingestFunction(config, service.clients, { now: () => now }),
    };
    api = (request) => invokeApi(functions, request);
  });
  afterAll(() => service.close());

  const subscribe = (tenant: Tenant, url = 'https://hooks.example.com/limited') =>
    postSubscription(api, tenant.apiKey, subscriptionInput({ url }));
  const publish = (tenant: Tenant) => postEvent(api, tenant.apiKey, publishedEvent({ data: {} }));
  const list = (tenant: Tenant) =>
    api({ method: 'GET', path: '/subscriptions', headers: bearer(tenant.apiKey) });
  const storedSubscriptions = (tenant: Tenant) => tenantItems(service, tenant);
  const fanoutQueueDepth = async () => {
    const { Attributes = {} } = await service.clients.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: service.resources.queues.fanout.url,
        AttributeNames: ['ApproximateNumberOfMessages'],
      }),
    );
    return Number(Attributes.ApproximateNumberOfMessages);
  };
  const expectRateLimited = (response: Awaited<ReturnType<typeof api>>) => {
    expect(response.statusCode).toBe(429);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.headers['content-type']).toBe('application/json');
    expect(json(response)).toEqual({
      error: { code: 'rate_limited', message: expect.stringMatching(/more than 3 requests per second/) },
    });
  };

  it('answers the 4th request in a second with 429 and Retry-After, across both functions, storing nothing', async () => {
    now = Date.UTC(2031, 0, 1, 0, 0, 0, 200);
    const tenant = await service.createTenant('busy');
    expect((await subscribe(tenant)).statusCode).toBe(201);
    expect((await publish(tenant)).statusCode).toBe(202);
    expect((await list(tenant)).statusCode).toBe(200);
    const storedBefore = await storedSubscriptions(tenant);
    const queuedBefore = await fanoutQueueDepth();

    // Late in the same second: still the same window.
    now += 799;
    expectRateLimited(await subscribe(tenant, 'https://hooks.example.com/throttled'));
    expectRateLimited(await publish(tenant));
    expectRateLimited(await list(tenant));
    expect(await storedSubscriptions(tenant)).toEqual(storedBefore);
    expect(await fanoutQueueDepth()).toBe(queuedBefore);

    // The next second is a new window.
    now += 1;
    expect((await subscribe(tenant, 'https://hooks.example.com/next-second')).statusCode).toBe(201);
    expect(
      (await storedSubscriptions(tenant)).filter((item) => String(item.sk).startsWith('sub#')),
    ).toHaveLength(2);
  });

  it('throttles each tenant on its own', async () => {
    now = Date.UTC(2031, 0, 1, 0, 0, 5, 0);
    const [noisy, quiet] = [await service.createTenant('noisy'), await service.createTenant('quiet')];
    for (let i = 0; i < LIMIT; i++) expect((await list(noisy)).statusCode).toBe(200);
    expectRateLimited(await list(noisy));
    for (let i = 0; i < LIMIT; i++) expect((await list(quiet)).statusCode).toBe(200);
    expectRateLimited(await list(quiet));
  });

  it('does not count requests without a valid key against anyone', async () => {
    now = Date.UTC(2031, 0, 1, 0, 0, 10, 0);
    const tenant = await service.createTenant('unauthenticated-noise');
    for (let i = 0; i < LIMIT + 2; i++) {
      expect(
        (await api({ method: 'GET', path: '/subscriptions', headers: bearer('fk_nope') })).statusCode,
      ).toBe(401);
    }
    for (let i = 0; i < LIMIT; i++) expect((await list(tenant)).statusCode).toBe(200);
  });

  it('keeps one counter item per tenant and second, which expires a minute later', async () => {
    now = Date.UTC(2031, 0, 1, 0, 0, 20, 999);
    const tenant = await service.createTenant('counted');
    await list(tenant);
    await list(tenant);
    const second = Math.floor(now / 1000);
    const { Item } = await service.clients.db.send(
      new GetCommand({
        TableName: service.resources.tables.tenants,
        Key: { pk: `rate#${tenant.tenantId}#${second}` },
      }),
    );
    expect(Item).toEqual({ pk: `rate#${tenant.tenantId}#${second}`, count: 2, expiresAt: second + 60 });
  });

  it('admits requests and logs an error when the counter cannot be written (fails open)', async () => {
    now = Date.UTC(2031, 0, 1, 0, 0, 30, 0);
    const errors = vi.spyOn(logger, 'error').mockImplementation(() => undefined);
    try {
      const limiter = new TenantRateLimiter(service.clients.db, 'no-such-table', {
        requestsPerSecond: 1,
        now: () => now,
      });
      for (let i = 0; i < 3; i++) await expect(limiter.admit('ten_any')).resolves.toBeUndefined();
      expect(errors).toHaveBeenCalledWith(
        'rate limit counter unavailable; request admitted',
        expect.objectContaining({ tenantId: 'ten_any' }),
      );
    } finally {
      errors.mockRestore();
    }
  });
});

describe('Security: subscriptions per tenant cap', () => {
  let service: Service;
  const CAP = 3;

  beforeAll(async () => {
    service = await startTestService({ maxSubscriptionsPerTenant: CAP });
  });
  afterAll(() => service.close());

  const create = (tenant: Tenant, n: number | string) =>
    postSubscription(
      service.api,
      tenant.apiKey,
      subscriptionInput({ url: `https://hooks.example.com/${n}`, eventTypes: ['order.*', 'user.created'] }),
    );
  const remove = (tenant: Tenant, id: string) =>
    service.api({ method: 'DELETE', path: `/subscriptions/${id}`, headers: bearer(tenant.apiKey) });
  const subscriptionIds = async (tenant: Tenant) =>
    (await tenantItems(service, tenant))
      .filter((item) => String(item.sk).startsWith('sub#'))
      .map((item) => item.id);
  const count = async (tenant: Tenant) =>
    (
      await service.clients.db.send(
        new GetCommand({
          TableName: service.resources.tables.subscriptions,
          Key: { pk: tenant.tenantId, sk: '#count' },
          ConsistentRead: true,
        }),
      )
    ).Item?.count;
  const expectLimitReached = (response: { statusCode: number; body: string }) => {
    expect(response.statusCode).toBe(422);
    expect(json(response)).toEqual({
      error: {
        code: 'subscription_limit_reached',
        message: 'a tenant may have at most 3 subscriptions; delete one to create another',
      },
    });
  };

  it('refuses the 4th subscription with 422 and stores nothing; a delete frees a slot', async () => {
    const tenant = await service.createTenant('capped');
    const ids: string[] = [];
    for (let i = 0; i < CAP; i++) {
      const response = await create(tenant, i);
      expect(response.statusCode).toBe(201);
      ids.push(json(response).id);
    }
    const before = await tenantItems(service, tenant);
    expectLimitReached(await create(tenant, 'over'));
    expect(await tenantItems(service, tenant)).toEqual(before);
    expect(await count(tenant)).toBe(CAP);

    expect((await remove(tenant, ids[0] as string)).statusCode).toBe(204);
    expect(await count(tenant)).toBe(CAP - 1);
    expect((await create(tenant, 'again')).statusCode).toBe(201);
    expectLimitReached(await create(tenant, 'over-again'));
    expect(await subscriptionIds(tenant)).toHaveLength(CAP);

    // Listing reads only subscriptions, never the count beside them.
    const listed = json(
      await service.api({ method: 'GET', path: '/subscriptions', headers: bearer(tenant.apiKey) }),
    );
    expect(listed.items).toHaveLength(CAP);
  });

  it('caps each tenant on its own', async () => {
    const full = await service.createTenant('full');
    const other = await service.createTenant('other');
    for (let i = 0; i < CAP; i++) expect((await create(full, i)).statusCode).toBe(201);
    expectLimitReached(await create(full, 'over'));
    for (let i = 0; i < CAP; i++) expect((await create(other, i)).statusCode).toBe(201);
  });

  it('never lets concurrent creates pass the cap', async () => {
    const tenant = await service.createTenant('racing');
    const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => create(tenant, i)));
    const statuses = responses.map((response) => response.statusCode).sort();
    expect(statuses).toEqual([...Array(CAP).fill(201), ...Array(12 - CAP).fill(422)]);
    for (const response of responses.filter((r) => r.statusCode === 422)) expectLimitReached(response);
    expect(await subscriptionIds(tenant)).toHaveLength(CAP);
    expect(await count(tenant)).toBe(CAP);
  });

  it('gives a slot back once when the same subscription is deleted concurrently', async () => {
    const tenant = await service.createTenant('double-delete');
    const ids: string[] = [];
    for (let i = 0; i < CAP; i++) ids.push(json(await create(tenant, i)).id);
    const responses = await Promise.all(Array.from({ length: 5 }, () => remove(tenant, ids[0] as string)));
    expect(responses.map((response) => response.statusCode)).toContain(204);
    for (const response of responses) expect([204, 404]).toContain(response.statusCode);
    expect(await count(tenant)).toBe(CAP - 1);
    expect((await create(tenant, 'refill')).statusCode).toBe(201);
    expectLimitReached(await create(tenant, 'over'));
  });

  it('gives the slot back when a create fails after reserving it', async () => {
    const tenant = await service.createTenant('failing-create');
    const { db } = service.clients;
    // DynamoDB refusing the subscription's own write, after the slot and routes were written.
    const failingPuts = {
      send: (command: unknown) =>
        command instanceof PutCommand
          ? Promise.reject(new Error('injected PutItem failure'))
          : db.send(command as Parameters<typeof db.send>[0]),
    } as unknown as DynamoDBDocumentClient;
    const failing = new SubscriptionStore(failingPuts, service.resources.tables.subscriptions, {
      maxPerTenant: CAP,
    });
    const input = { url: 'https://hooks.example.com/x', eventTypes: ['*'] };
    for (let i = 0; i < CAP + 1; i++) {
      await expect(failing.create(tenant.tenantId, input)).rejects.toThrow('injected PutItem failure');
    }
    expect(await count(tenant)).toBe(0);
    for (let i = 0; i < CAP; i++) expect((await create(tenant, i)).statusCode).toBe(201);
    expectLimitReached(await create(tenant, 'over'));
  });
});
