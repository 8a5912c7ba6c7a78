import { inject } from 'vitest';
import { createLocalService, type LocalServiceOptions } from '../../local/service.js';
import { fakeResolver } from './resolver.js';

/**
 * A fresh set of tables and queues on the suite's shared engines, so test files never see each other's data.
 * The per-tenant rate limit is lifted unless a test sets one: a fast machine could otherwise throttle a suite.
 */
export function startTestService(options: Omit<LocalServiceOptions, 'dynamoEndpoint' | 'sqsEndpoint'> = {}) {
  return createLocalService({
    dynamoEndpoint: inject('dynamoEndpoint'),
    sqsEndpoint: inject('sqsEndpoint'),
    tenantRequestsPerSecond: 1_000_000,
    // The suite never depends on real DNS: example.com names resolve to a public address, others to nothing.
    resolveHost: fakeResolver(),
    ...options,
  });
}

export { bearer } from '../../local/emulators/api-gateway.js';
