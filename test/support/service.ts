import { inject } from 'vitest';
import { createLocalService, type LocalServiceOptions } from '../../local/service.js';

/** A fresh set of tables and queues on the suite's shared engines, so test files never see each other's data. */
export function startTestService(options: Omit<LocalServiceOptions, 'dynamoEndpoint' | 'sqsEndpoint'> = {}) {
  return createLocalService({
    dynamoEndpoint: inject('dynamoEndpoint'),
    sqsEndpoint: inject('sqsEndpoint'),
    ...options,
  });
}

export function bearer(apiKey: string): Record<string, string> {
  return { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
}
