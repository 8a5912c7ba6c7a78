import * as z from 'zod/mini';
import { safeParse } from '../platform/validation.js';
import { parseRetrySchedule } from './retry-schedule.js';
import { ATTEMPT_LOG_MODES } from './tables.js';

/**
 * The one place that reads the environment. Each function asks for the settings it needs and fails at cold
 * start, naming every missing or malformed variable, rather than half-way through a request.
 */
export const nonEmpty = z.string().check(z.trim(), z.minLength(1));
export const booleanFlag = z.pipe(
  z.enum(['true', 'false']),
  z.transform((value) => value === 'true'),
);
export const retrySchedule = z.pipe(
  nonEmpty,
  z.transform((text, payload) => {
    try {
      return parseRetrySchedule(text);
    } catch (error) {
      payload.issues.push({ code: 'custom', message: (error as Error).message, input: text });
      return z.NEVER;
    }
  }),
);

/** A whole number from an environment variable, within the given checks. */
export const wholeNumber = (...checks: z.core.$ZodCheck<number>[]) =>
  z.coerce.number().check(z.int(), ...checks);

/** Each setting's environment variable and the schema its value must pass. */
export type SettingTable = Record<string, readonly [variable: string, schema: z.ZodMiniType]>;
export type SettingsOf<T extends SettingTable> = { [K in keyof T]: z.output<T[K][1]> };

const SETTINGS = {
  tenantsTable: ['FANOUT_TENANTS_TABLE', nonEmpty],
  subscriptionsTable: ['FANOUT_SUBSCRIPTIONS_TABLE', nonEmpty],
  eventsTable: ['FANOUT_EVENTS_TABLE', nonEmpty],
  attemptsTable: ['FANOUT_ATTEMPTS_TABLE', nonEmpty],
  eventBusName: ['FANOUT_EVENT_BUS_NAME', nonEmpty],
  fanoutQueueUrl: ['FANOUT_FANOUT_QUEUE_URL', z.url()],
  deliveryQueueUrl: ['FANOUT_DELIVERY_QUEUE_URL', z.url()],
  fanoutDeadLetterQueueUrl: ['FANOUT_FANOUT_DLQ_URL', z.url()],
  deliveryDeadLetterQueueUrl: ['FANOUT_DELIVERY_DLQ_URL', z.url()],
  retryScheduleSeconds: ['FANOUT_RETRY_SCHEDULE', retrySchedule],
  attemptTimeoutMs: ['FANOUT_ATTEMPT_TIMEOUT_MS', wholeNumber(z.minimum(100), z.maximum(60_000))],
  eventRetentionDays: ['FANOUT_EVENT_RETENTION_DAYS', wholeNumber(z.minimum(1), z.maximum(365))],
  attemptLog: ['FANOUT_ATTEMPT_LOG', z.enum(ATTEMPT_LOG_MODES)],
  attemptRetentionDays: ['FANOUT_ATTEMPT_RETENTION_DAYS', wholeNumber(z.minimum(1), z.maximum(365))],
  autoDisableAfterSeconds: ['FANOUT_AUTO_DISABLE_AFTER_SECONDS', wholeNumber(z.minimum(1))],
  fanoutPageSize: ['FANOUT_PAGE_SIZE', wholeNumber(z.minimum(1), z.maximum(100_000))],
  maxSubscriptionsPerTenant: ['FANOUT_MAX_SUBSCRIPTIONS_PER_TENANT', wholeNumber(z.minimum(1))],
  tenantRequestsPerSecond: ['FANOUT_TENANT_REQUESTS_PER_SECOND', wholeNumber(z.minimum(1))],
} as const satisfies SettingTable;

export type SettingName = keyof typeof SETTINGS;
export type Config = SettingsOf<typeof SETTINGS>;

export function loadConfig<const K extends SettingName>(
  names: readonly K[],
  env: Record<string, string | undefined> = process.env,
): Pick<Config, K> {
  return readSettings(SETTINGS, names, env);
}

/** Reads the named settings of a table from the environment; one error names every bad variable. */
export function readSettings<T extends SettingTable, const K extends keyof T>(
  table: T,
  names: readonly K[],
  env: Record<string, string | undefined>,
): Pick<SettingsOf<T>, K> {
  const problems: string[] = [];
  const config: Partial<Record<K, unknown>> = {};
  for (const name of names) {
    const [variable, schema] = table[name] as T[K];
    const result = safeParse(schema, env[variable]);
    if (result.success) config[name] = result.data;
    else problems.push(`${variable}: ${result.error.issues.map((issue) => issue.message).join('; ')}`);
  }
  if (problems.length > 0) throw new Error(`Invalid configuration: ${problems.join(', ')}`);
  return config as Pick<SettingsOf<T>, K>;
}

/** The settings each function reads; the stack and local mode set exactly these for it. */
export const FUNCTION_SETTINGS = {
  authorizer: ['tenantsTable'],
  api: [
    'tenantsTable',
    'subscriptionsTable',
    'eventsTable',
    'attemptsTable',
    'fanoutQueueUrl',
    'maxSubscriptionsPerTenant',
    'tenantRequestsPerSecond',
  ],
  ingest: ['tenantsTable', 'eventBusName', 'tenantRequestsPerSecond'],
  fanout: [
    'tenantsTable',
    'subscriptionsTable',
    'eventsTable',
    'attemptsTable',
    'fanoutQueueUrl',
    'deliveryQueueUrl',
    'fanoutDeadLetterQueueUrl',
    'eventRetentionDays',
    'fanoutPageSize',
  ],
  deliver: [
    'subscriptionsTable',
    'eventsTable',
    'attemptsTable',
    'eventBusName',
    'deliveryQueueUrl',
    'deliveryDeadLetterQueueUrl',
    'retryScheduleSeconds',
    'attemptTimeoutMs',
    'attemptLog',
    'attemptRetentionDays',
    'autoDisableAfterSeconds',
  ],
} as const satisfies Record<string, readonly SettingName[]>;

export type FunctionName = keyof typeof FUNCTION_SETTINGS;

/** The environment variable behind each setting, so the stack and local mode set exactly what is read. */
export function environmentVariable(name: SettingName): string {
  return SETTINGS[name][0];
}
