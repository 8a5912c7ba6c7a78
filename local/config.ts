import * as z from 'zod';
import { ATTEMPT_LOG_MODES } from '../lambdas/core/attempts.js';
import {
  booleanFlag,
  nonEmpty,
  readSettings,
  retrySchedule,
  type SettingTable,
} from '../lambdas/core/config.js';
import { API_KEY_PATTERN } from '../lambdas/core/tenants.js';

/**
 * The environment of `npm start` and `npm run receiver`, read in this one place with the same reader as the
 * functions' settings, so a bad value stops the command with every problem named at once.
 */
const port = z.coerce.number().int().min(0).max(65_535);

const apiKeys = nonEmpty
  .transform((text) => text.split(',').map((key) => key.trim()))
  .pipe(z.array(z.string().regex(API_KEY_PATTERN, 'each key must look like fk_<43 base64url characters>')));

const LOCAL_SETTINGS = {
  port: ['PORT', port.default(3000)],
  dataDir: ['FANOUT_DATA_DIR', nonEmpty.optional()],
  retryScheduleSeconds: ['FANOUT_RETRY_SCHEDULE', retrySchedule.optional()],
  // Local receivers are the point of local mode; the stack never allows them.
  allowPrivateUrls: ['FANOUT_ALLOW_PRIVATE_URLS', booleanFlag.default(true)],
  apiKeys: ['FANOUT_API_KEY', apiKeys.optional()],
  attemptLog: ['FANOUT_ATTEMPT_LOG', z.enum(ATTEMPT_LOG_MODES).optional()],
  autoDisableAfterSeconds: ['FANOUT_AUTO_DISABLE_AFTER_SECONDS', z.coerce.number().int().min(1).optional()],
  maxSubscriptionsPerTenant: [
    'FANOUT_MAX_SUBSCRIPTIONS_PER_TENANT',
    z.coerce.number().int().min(1).optional(),
  ],
  tenantRequestsPerSecond: ['FANOUT_TENANT_REQUESTS_PER_SECOND', z.coerce.number().int().min(1).optional()],
  alarmIntervalMs: ['FANOUT_ALARM_INTERVAL_MS', z.coerce.number().int().min(100).max(300_000).default(5_000)],
  receiverPort: ['RECEIVER_PORT', port.default(4000)],
  webhookSecret: ['WEBHOOK_SECRET', nonEmpty.optional()],
  receiverStatus: ['RECEIVER_STATUS', z.coerce.number().int().min(200).max(599).default(204)],
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
      'alarmIntervalMs',
    ],
    env,
  );
}

export function loadReceiverConfig(env: Env = process.env) {
  return readSettings(LOCAL_SETTINGS, ['receiverPort', 'webhookSecret', 'receiverStatus'], env);
}
