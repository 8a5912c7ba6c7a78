import * as z from 'zod/mini';
import { MAX_TENANT_REQUESTS_PER_SECOND, TENANT_RATE_BOUND } from '../lambdas/contract/limits.js';
import {
  booleanFlag,
  nonEmpty,
  readSettings,
  retrySchedule,
  type SettingTable,
  wholeNumber,
} from '../lambdas/contract/settings.js';
import { ATTEMPT_LOG_MODES } from '../lambdas/contract/tables.js';
import { API_KEY_PATTERN } from '../lambdas/storage/tenants.js';
import { MAX_CONCURRENCY_RANGE } from '../lib/definitions.js';

/**
 * The environment of `npm start` and `npm run receiver`, read in this one place with the same reader as the
 * functions' settings, so a bad value stops the command with every problem named at once.
 */
const port = wholeNumber(z.minimum(0), z.maximum(65_535));

// What the stack's event source mappings accept, so that local mode runs only what AWS could.
const maxConcurrency = z.optional(
  wholeNumber(z.minimum(MAX_CONCURRENCY_RANGE.min), z.maximum(MAX_CONCURRENCY_RANGE.max)),
);

const apiKeys = z.pipe(
  z.pipe(
    nonEmpty,
    z.transform((text) => text.split(',').map((key) => key.trim())),
  ),
  z.array(z.string().check(z.regex(API_KEY_PATTERN, 'each key must look like fk_<43 base64url characters>'))),
);

const LOCAL_SETTINGS = {
  port: ['PORT', z._default(port, 3000)],
  dataDir: ['FANOUT_DATA_DIR', z.optional(nonEmpty)],
  retryScheduleSeconds: ['FANOUT_RETRY_SCHEDULE', z.optional(retrySchedule)],
  // Local receivers are the point of local mode; the stack never allows them.
  allowPrivateUrls: ['FANOUT_ALLOW_PRIVATE_URLS', z._default(booleanFlag, true)],
  apiKeys: ['FANOUT_API_KEY', z.optional(apiKeys)],
  attemptLog: ['FANOUT_ATTEMPT_LOG', z.optional(z.enum(ATTEMPT_LOG_MODES))],
  autoDisableAfterSeconds: ['FANOUT_AUTO_DISABLE_AFTER_SECONDS', z.optional(wholeNumber(z.minimum(1)))],
  maxSubscriptionsPerTenant: ['FANOUT_MAX_SUBSCRIPTIONS_PER_TENANT', z.optional(wholeNumber(z.minimum(1)))],
  // The deployed stack's bound, so that local mode accepts only what AWS could enforce.
  tenantRequestsPerSecond: [
    'FANOUT_TENANT_REQUESTS_PER_SECOND',
    z.optional(
      wholeNumber(z.minimum(1), z.maximum(MAX_TENANT_REQUESTS_PER_SECOND, `must be ${TENANT_RATE_BOUND}`)),
    ),
  ],
  fanoutMaxConcurrency: ['FANOUT_FANOUT_MAX_CONCURRENCY', maxConcurrency],
  deliveryMaxConcurrency: ['FANOUT_DELIVERY_MAX_CONCURRENCY', maxConcurrency],
  alarmIntervalMs: [
    'FANOUT_ALARM_INTERVAL_MS',
    z._default(wholeNumber(z.minimum(100), z.maximum(300_000)), 5_000),
  ],
  receiverPort: ['RECEIVER_PORT', z._default(port, 4000)],
  webhookSecret: ['WEBHOOK_SECRET', z.optional(nonEmpty)],
  receiverStatus: ['RECEIVER_STATUS', z._default(wholeNumber(z.minimum(200), z.maximum(599)), 204)],
} as const satisfies SettingTable;

type Env = Record<string, string | undefined>;

export function loadLocalConfig(env: Env = process.env) {
  return readSettings(
    LOCAL_SETTINGS,
    [
      'port',
      'dataDir',
      'retryScheduleSeconds',
      'allowPrivateUrls',
      'apiKeys',
      'attemptLog',
      'autoDisableAfterSeconds',
      'maxSubscriptionsPerTenant',
      'tenantRequestsPerSecond',
      'fanoutMaxConcurrency',
      'deliveryMaxConcurrency',
      'alarmIntervalMs',
    ],
    env,
  );
}

export function loadReceiverConfig(env: Env = process.env) {
  return readSettings(LOCAL_SETTINGS, ['receiverPort', 'webhookSecret', 'receiverStatus'], env);
}
