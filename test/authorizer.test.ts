import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizerFunction } from '../lambdas/core/functions.js';
import { generateApiKey, hashApiKey } from '../lambdas/core/tenants.js';
import { startTestService } from './support/service.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

describe('Function: authorizer', () => {
  let service: Service;
  let apiKey: string;
  let tenantId: string;

  beforeAll(async () => {
    service = await startTestService();
    ({ apiKey, tenantId } = await service.createTenant('acme'));
  });
  afterAll(() => service.close());

  const list = (headers: Record<string, string>) =>
    service.api({ method: 'GET', path: '/subscriptions', headers });
  const revoke = (key: string) =>
    service.clients.db.send(
      new UpdateCommand({
        TableName: service.resources.tables.tenants,
        Key: { pk: `key#${hashApiKey(key)}` },
        UpdateExpression: 'SET #status = :revoked',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':revoked': 'revoked' },
      }),
    );

  it('lets a valid key through as its tenant', async () => {
    const response = await list({ authorization: `Bearer ${apiKey}` });
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ items: [] });
  });

  it('stores only the hash of a key', async () => {
    expect(apiKey).toMatch(/^fk_[A-Za-z0-9_-]{43}$/);
    expect(hashApiKey(apiKey)).toMatch(/^[0-9a-f]{64}$/);
    expect(tenantId).toMatch(/^ten_/);
  });

  it.each([
    ['no header', {}, /Authorization: Bearer/],
    ['another scheme', { authorization: `Basic ${generateApiKey()}` }, /Authorization: Bearer/],
    ['an empty bearer', { authorization: 'Bearer ' }, /Authorization: Bearer/],
    ['a garbled key', { authorization: 'Bearer fk_not-a-real-key' }, /invalid or has been revoked/],
    ['an unknown key', { authorization: `Bearer ${generateApiKey()}` }, /invalid or has been revoked/],
  ])('refuses %s with a JSON 401', async (_name, headers, message) => {
    const response = await list(headers);
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer');
    const { error } = JSON.parse(response.body);
    expect(error.code).toBe('unauthorized');
    expect(error.message).toMatch(message);
  });

  it('refuses a revoked key', async () => {
    const { apiKey: doomed } = await service.createTenant('doomed');
    expect((await list({ authorization: `Bearer ${doomed}` })).statusCode).toBe(200);
    await revoke(doomed);
    expect((await list({ authorization: `Bearer ${doomed}` })).statusCode).toBe(401);
  });

  it('remembers a key for at most its cache TTL, which bounds how long a revoked key works', async () => {
    const { apiKey: cachedKey, tenantId: cachedTenant } = await service.createTenant('cached');
    let now = 1_000_000;
    const authorize = authorizerFunction(service.config, service.clients, {
      cacheTtlMs: 30_000,
      now: () => now,
    });
    const attempt = () =>
      authorize({ headers: { authorization: `Bearer ${cachedKey}` } } as unknown as Parameters<
        typeof authorize
      >[0]);
    expect((await attempt()).context).toEqual({ tenantId: cachedTenant });
    await revoke(cachedKey);
    now += 29_000;
    expect((await attempt()).context).toEqual({ tenantId: cachedTenant });
    now += 2_000;
    expect((await attempt()).context).toEqual({ authError: 'invalid_api_key' });
  });
});
