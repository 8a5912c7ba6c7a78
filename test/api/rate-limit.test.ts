import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_SUBSCRIPTION_RATE_LIMIT } from '../../lambdas/contract/limits.js';
import { bearer, startTestService } from '../support/service.js';
import { createSubscription, subscriptionInput } from '../support/subscriptions.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

/** A subscription's rateLimit through the API: set on create, set and cleared by PATCH, always shown. */
describe('Function: register, a subscription’s rate limit', () => {
  let service: Service;
  let apiKey: string;
  let tenantId: string;

  beforeAll(async () => {
    service = await startTestService();
    ({ apiKey, tenantId } = await service.createTenant('rate-limits'));
  });
  afterAll(() => service.close());

  const call = (method: string, path: string, body?: unknown) =>
    service.api({
      method,
      path,
      headers: bearer(apiKey),
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
  const get = async (id: string) => JSON.parse((await call('GET', `/subscriptions/${id}`)).body);
  const listed = async (id: string) =>
    (
      JSON.parse((await call('GET', '/subscriptions?limit=100')).body).items as {
        id: string;
        rateLimit: number | null;
      }[]
    ).find((item) => item.id === id);
  const storedItem = async (id: string) =>
    (
      await service.clients.db.send(
        new GetCommand({
          TableName: service.resources.tables.subscriptions,
          Key: { pk: tenantId, sk: `sub#${id}` },
        }),
      )
    ).Item;
  const subscriptionItems = async () =>
    (await service.clients.db.send(new ScanCommand({ TableName: service.resources.tables.subscriptions })))
      .Items ?? [];

  it('has none unless asked: null in every view, nothing stored', async () => {
    const created = await createSubscription(service.api, apiKey);
    expect(created.rateLimit).toBeNull();
    expect((await get(created.id)).rateLimit).toBeNull();
    expect((await listed(created.id))?.rateLimit).toBeNull();
    expect(await storedItem(created.id)).not.toHaveProperty('rateLimit');
    // null asks for the same.
    const explicit = await createSubscription(service.api, apiKey, { rateLimit: null });
    expect(explicit.rateLimit).toBeNull();
    expect(await storedItem(explicit.id)).not.toHaveProperty('rateLimit');
  });

  it('takes one on create and echoes it in GET and the list', async () => {
    const created = await createSubscription(service.api, apiKey, { rateLimit: 5 });
    expect(created.rateLimit).toBe(5);
    expect((await get(created.id)).rateLimit).toBe(5);
    expect((await listed(created.id))?.rateLimit).toBe(5);
    expect((await storedItem(created.id))?.rateLimit).toBe(5);
    for (const bound of [1, MAX_SUBSCRIPTION_RATE_LIMIT]) {
      expect((await createSubscription(service.api, apiKey, { rateLimit: bound })).rateLimit).toBe(bound);
    }
  });

  it('is set, kept and cleared by PATCH', async () => {
    const { id } = await createSubscription(service.api, apiKey);
    const set = await call('PATCH', `/subscriptions/${id}`, { rateLimit: 20 });
    expect(set.statusCode).toBe(200);
    expect(JSON.parse(set.body).rateLimit).toBe(20);
    expect((await get(id)).rateLimit).toBe(20);
    // A PATCH of other fields leaves it as it is.
    const other = await call('PATCH', `/subscriptions/${id}`, { description: 'still limited' });
    expect(JSON.parse(other.body)).toMatchObject({ description: 'still limited', rateLimit: 20 });
    const changed = await call('PATCH', `/subscriptions/${id}`, { rateLimit: 3 });
    expect(JSON.parse(changed.body).rateLimit).toBe(3);
    const cleared = await call('PATCH', `/subscriptions/${id}`, { rateLimit: null });
    expect(cleared.statusCode).toBe(200);
    expect(JSON.parse(cleared.body).rateLimit).toBeNull();
    expect((await get(id)).rateLimit).toBeNull();
    expect(await storedItem(id)).not.toHaveProperty('rateLimit');
  });

  const invalid: [string, string][] = [
    ['zero', '0'],
    ['negative', '-3'],
    ['over the maximum', String(MAX_SUBSCRIPTION_RATE_LIMIT + 1)],
    ['a fraction', '1.5'],
    ['too large for a double', '1e400'],
    ['a string', '"5"'],
    ['a boolean', 'true'],
    ['an object', '{"perSecond":5}'],
    ['an array', '[5]'],
  ];
  const expectRefused = (response: { statusCode: number; body: string }) => {
    expect(response.statusCode).toBe(422);
    expect(JSON.parse(response.body)).toEqual({
      error: {
        code: 'validation_error',
        message: `rateLimit: must be a whole number of deliveries per second from 1 to ${MAX_SUBSCRIPTION_RATE_LIMIT}, or null for none`,
      },
    });
  };

  it.each(invalid)('refuses %s on create, storing nothing', async (_name, value) => {
    const before = await subscriptionItems();
    // Sent as text: 1e400 must reach the API as written, not as JSON.stringify would send Infinity (null).
    const body = JSON.stringify(subscriptionInput()).replace(/}$/, `,"rateLimit":${value}}`);
    expectRefused(await call('POST', '/subscriptions', body));
    expect(await subscriptionItems()).toEqual(before);
  });

  it.each(invalid)('refuses %s on PATCH, changing nothing', async (_name, value) => {
    const { id } = await createSubscription(service.api, apiKey, { rateLimit: 7 });
    const before = await storedItem(id);
    expectRefused(await call('PATCH', `/subscriptions/${id}`, `{"rateLimit":${value}}`));
    expect(await storedItem(id)).toEqual(before);
    expect((await get(id)).rateLimit).toBe(7);
  });
});
