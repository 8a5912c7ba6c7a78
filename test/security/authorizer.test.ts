import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_CACHE_TTL_SECONDS } from '../../lambdas/security/authorizer.js';
import { generateApiKey, hashApiKey, revokeApiKey } from '../../lambdas/storage/tenants.js';
import { authorizerFunction } from '../../lambdas/wiring.js';
import { startTestService } from '../support/service.js';

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
  /** Revokes a tenant's key the way an operator does (npm run tenant-keys -- revoke). */
  const revoke = (tenant: { tenantId: string; keyId: string }) =>
    revokeApiKey(service.clients.db, service.resources.tables.tenants, tenant.tenantId, tenant.keyId);

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

  it('refuses a revoked key at once when the cache is off (cache TTL 0)', async () => {
    const doomed = await service.createTenant('doomed');
    expect((await list({ authorization: `Bearer ${doomed.apiKey}` })).statusCode).toBe(200);
    await revoke(doomed);
    const response = await list({ authorization: `Bearer ${doomed.apiKey}` });
    expect(response.statusCode).toBe(401);
    expect(JSON.parse(response.body).error).toEqual({
      code: 'unauthorized',
      message: 'the API key is invalid or has been revoked',
    });
  });

  it(`lets a revoked key work for at most the cache TTL, ${AUTH_CACHE_TTL_SECONDS} s by default`, async () => {
    const cached = await service.createTenant('cached');
    let now = 1_000_000;
    // The deployed authorizer's settings: only the clock is the test's.
    const authorize = authorizerFunction(service.config, service.clients, { now: () => now });
    const attempt = () =>
      authorize({ headers: { authorization: `Bearer ${cached.apiKey}` } } as unknown as Parameters<
        typeof authorize
      >[0]);
    expect((await attempt()).context).toEqual({ tenantId: cached.tenantId });
    await revoke(cached);
    now += AUTH_CACHE_TTL_SECONDS * 1000 - 1;
    expect((await attempt()).context).toEqual({ tenantId: cached.tenantId });
    now += 1;
    expect((await attempt()).context).toEqual({ authError: 'invalid_api_key' });
    // And it stays refused: the refusal is what is cached now.
    now += AUTH_CACHE_TTL_SECONDS * 1000 + 1;
    expect((await attempt()).context).toEqual({ authError: 'invalid_api_key' });
  });
});
