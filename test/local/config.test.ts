import { describe, expect, it } from 'vitest';
import { generateApiKey } from '../../lambdas/storage/tenants.js';
import { loadLocalConfig, loadReceiverConfig } from '../../local/config.js';

describe('Local mode: configuration', () => {
  it('runs with no environment at all: port 3000, local receivers allowed, alarms every 5 s', () => {
    expect(loadLocalConfig({})).toEqual({ port: 3000, allowPrivateUrls: true, alarmIntervalMs: 5_000 });
    expect(loadReceiverConfig({})).toEqual({ receiverPort: 4000, receiverStatus: 204 });
  });

  it('reads the retry schedule, the API keys, the data directory and the delivery settings', () => {
    const keys = [generateApiKey(), generateApiKey()];
    const config = loadLocalConfig({
      PORT: '0',
      FANOUT_RETRY_SCHEDULE: '0, 1,5',
      FANOUT_API_KEY: keys.join(','),
      FANOUT_DATA_DIR: './data',
      FANOUT_ALLOW_PRIVATE_URLS: 'false',
      FANOUT_ATTEMPT_LOG: 'failures',
      FANOUT_AUTO_DISABLE_AFTER_SECONDS: '600',
      FANOUT_MAX_SUBSCRIPTIONS_PER_TENANT: '20',
      FANOUT_TENANT_REQUESTS_PER_SECOND: '5',
    });
    expect(config).toMatchObject({
      port: 0,
      retryScheduleSeconds: [0, 1, 5],
      apiKeys: keys,
      dataDir: './data',
      allowPrivateUrls: false,
      attemptLog: 'failures',
      autoDisableAfterSeconds: 600,
      maxSubscriptionsPerTenant: 20,
      tenantRequestsPerSecond: 5,
    });
  });

  it('names every malformed variable in one error', () => {
    const env = {
      PORT: 'eighty',
      FANOUT_RETRY_SCHEDULE: '0,-1',
      FANOUT_API_KEY: 'secret',
      FANOUT_ATTEMPT_LOG: 'some',
    };
    expect(() => loadLocalConfig(env)).toThrow(
      /PORT: .*FANOUT_RETRY_SCHEDULE: .*FANOUT_API_KEY: .*fk_.*FANOUT_ATTEMPT_LOG/,
    );
    expect(() => loadReceiverConfig({ RECEIVER_STATUS: '99' })).toThrow(/RECEIVER_STATUS/);
  });

  it('bounds the per-tenant request rate as the stack does, saying why', () => {
    expect(loadLocalConfig({ FANOUT_TENANT_REQUESTS_PER_SECOND: '500' }).tenantRequestsPerSecond).toBe(500);
    expect(() => loadLocalConfig({ FANOUT_TENANT_REQUESTS_PER_SECOND: '501' })).toThrow(
      "Invalid configuration: FANOUT_TENANT_REQUESTS_PER_SECOND: must be at most 500 (each request, refused or not, writes the tenant's counter for that second: one DynamoDB item, which takes at most 1,000 writes a second)",
    );
  });

  it('reads the event source mappings’ maximum concurrency, in the range the stack accepts', () => {
    expect(
      loadLocalConfig({ FANOUT_FANOUT_MAX_CONCURRENCY: '2', FANOUT_DELIVERY_MAX_CONCURRENCY: '1000' }),
    ).toMatchObject({ fanoutMaxConcurrency: 2, deliveryMaxConcurrency: 1000 });
    expect(() =>
      loadLocalConfig({ FANOUT_FANOUT_MAX_CONCURRENCY: '1', FANOUT_DELIVERY_MAX_CONCURRENCY: '1001' }),
    ).toThrow(/FANOUT_FANOUT_MAX_CONCURRENCY: .*FANOUT_DELIVERY_MAX_CONCURRENCY: /);
  });
});
