import { Duration, type Environment, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { MAX_TENANT_REQUESTS_PER_SECOND, TENANT_RATE_BOUND } from '../lambdas/contract/limits.js';
import { parseRetrySchedule } from '../lambdas/contract/retry-schedule.js';
import { ATTEMPT_LOG_MODES, type AttemptLogMode } from '../lambdas/contract/tables.js';
import { isEmailAddress } from './constructs/alarm-topic.js';
import {
  API_FUNCTIONS,
  type ApiFunctionName,
  DEFAULT_MAX_CONCURRENCY,
  MAX_CONCURRENCY_RANGE,
  type ReservedConcurrency,
  serviceDefinition,
} from './definitions.js';
import type { DataKeyChoice, FanoutStackProps } from './fanout-stack.js';

/**
 * CDK context bin/app.ts reads for the stack (`cdk deploy -c name=value` or cdk.json):
 *   retrySchedule              delays before each delivery attempt, in seconds: "0,5,300" or a JSON array
 *                              (default: DEFAULT_RETRY_SCHEDULE_SECONDS)
 *   attemptLog                 which delivery attempts are recorded: all, failures or off (default: all)
 *   autoDisableAfterHours      a subscription failing this long without a success is disabled (default: 120)
 *   maxSubscriptionsPerTenant  subscriptions one tenant may have (default: 10000)
 *   tenantRequestsPerSecond    API requests per second one tenant may make (default: 50, at most 500)
 *   fanoutMaxConcurrency       most fan-out invocations at once, 2 to 1000 (default: 10)
 *   deliveryMaxConcurrency     most deliver invocations at once, 2 to 1000 (default: 100)
 *   authorizerReservedConcurrency, apiReservedConcurrency, ingestReservedConcurrency
 *                              concurrency reserved for that API function (default: none)
 *   alarmEmail                 an address subscribed to the alarm topic (default: none)
 *   kmsKey=create              encrypt tables, queues and the bus with a new customer-managed key
 *   kmsKeyArn                  ... or with this existing one (default for both: AWS-managed keys)
 */
export const CONTEXT_RETRY_SCHEDULE = 'retrySchedule';
const CONTEXT_ATTEMPT_LOG = 'attemptLog';
const CONTEXT_AUTO_DISABLE_AFTER_HOURS = 'autoDisableAfterHours';
const CONTEXT_MAX_SUBSCRIPTIONS_PER_TENANT = 'maxSubscriptionsPerTenant';
const CONTEXT_TENANT_REQUESTS_PER_SECOND = 'tenantRequestsPerSecond';
const CONTEXT_FANOUT_MAX_CONCURRENCY = 'fanoutMaxConcurrency';
const CONTEXT_DELIVERY_MAX_CONCURRENCY = 'deliveryMaxConcurrency';
const reservedConcurrencyKey = (name: ApiFunctionName) => `${name}ReservedConcurrency`;
const CONTEXT_ALARM_EMAIL = 'alarmEmail';
const CONTEXT_KMS_KEY = 'kmsKey';
const CONTEXT_KMS_KEY_ARN = 'kmsKeyArn';

/** Every bad context value, each named with what it accepts; bin/app.ts prints it without a stack trace. */
export class ContextError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid CDK context (-c key=value or cdk.json):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ContextError';
  }
}

/** The stack's settings that come from context: its props apart from StackProps. */
type ContextSettings = Omit<FanoutStackProps, keyof StackProps>;

/**
 * The props of a stack deploying to `env` (account and region as far as they are known at synth time: unset
 * when the CLI had no credentials), with every setting the context of `scope` gives.
 */
export function stackPropsFromContext(scope: Construct, env: Environment): FanoutStackProps {
  return { env, ...readStackContext((key) => scope.node.tryGetContext(key), env) };
}

/**
 * Reads and checks every context value the stack takes. Throws one ContextError naming every bad value, so a
 * deployer fixes them all at once rather than one synth at a time.
 */
export function readStackContext(
  context: (key: string) => unknown,
  target: Environment = {},
): ContextSettings {
  const problems: string[] = [];
  const read = <T>(reader: () => T): T | undefined => {
    try {
      return reader();
    } catch (error) {
      if (!(error instanceof Error)) throw error;
      problems.push(error.message);
      return undefined;
    }
  };
  const retryScheduleSeconds = read(() => retryScheduleFromContext(context(CONTEXT_RETRY_SCHEDULE)));
  const attemptLog = read(() => attemptLogFromContext(context(CONTEXT_ATTEMPT_LOG)));
  const autoDisableAfterSeconds = read(() =>
    autoDisableAfterSecondsFromContext(context(CONTEXT_AUTO_DISABLE_AFTER_HOURS)),
  );
  const maxSubscriptionsPerTenant = read(() =>
    positiveIntegerFromContext(
      CONTEXT_MAX_SUBSCRIPTIONS_PER_TENANT,
      context(CONTEXT_MAX_SUBSCRIPTIONS_PER_TENANT),
      10_000,
    ),
  );
  const tenantRequestsPerSecond = read(() =>
    tenantRequestsPerSecondFromContext(context(CONTEXT_TENANT_REQUESTS_PER_SECOND)),
  );
  const fanoutMaxConcurrency = read(() =>
    maxConcurrencyFromContext(
      CONTEXT_FANOUT_MAX_CONCURRENCY,
      context(CONTEXT_FANOUT_MAX_CONCURRENCY),
      DEFAULT_MAX_CONCURRENCY.fanout,
    ),
  );
  const deliveryMaxConcurrency = read(() =>
    maxConcurrencyFromContext(
      CONTEXT_DELIVERY_MAX_CONCURRENCY,
      context(CONTEXT_DELIVERY_MAX_CONCURRENCY),
      DEFAULT_MAX_CONCURRENCY.delivery,
    ),
  );
  const reservedConcurrency: ReservedConcurrency = Object.fromEntries(
    API_FUNCTIONS.flatMap((name) => {
      const key = reservedConcurrencyKey(name);
      const value = read(() => positiveIntegerFromContext(key, context(key), 50));
      return value === undefined ? [] : [[name, value]];
    }),
  );
  const alarmEmail = read(() => alarmEmailFromContext(context(CONTEXT_ALARM_EMAIL)));
  const dataKey = read(() => dataKeyFromContext(context, target));
  if (problems.length > 0 || dataKey === undefined) throw new ContextError(problems);
  return {
    retrySchedule: retryScheduleSeconds?.map((seconds) => Duration.seconds(seconds)),
    attemptLog,
    autoDisableAfter:
      autoDisableAfterSeconds === undefined ? undefined : Duration.seconds(autoDisableAfterSeconds),
    maxSubscriptionsPerTenant,
    tenantRequestsPerSecond,
    fanoutMaxConcurrency,
    deliveryMaxConcurrency,
    reservedConcurrency,
    alarmEmail,
    dataKey,
  };
}

/**
 * A positive whole number from context: "500" (from `-c key=500`) or 500 (from cdk.json). Undefined when the
 * context is not set; `example` appears in the error message.
 */
export function positiveIntegerFromContext(key: string, value: unknown, example: number): number | undefined {
  if (value === undefined) return undefined;
  const number = wholeNumberOf(value);
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 1) {
    throw new Error(
      `context "${key}" must be a positive whole number (e.g. ${example}), got ${JSON.stringify(value)}`,
    );
  }
  return number;
}

/** A number as `-c key=500` gives it ("500") or cdk.json does (500); anything else as it is, to be refused. */
function wholeNumberOf(value: unknown): unknown {
  return typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
}

/** `tenantRequestsPerSecond`: a positive whole number the rate counter can enforce (TENANT_RATE_BOUND). */
export function tenantRequestsPerSecondFromContext(value: unknown): number | undefined {
  const limit = positiveIntegerFromContext(CONTEXT_TENANT_REQUESTS_PER_SECOND, value, 50);
  if (limit !== undefined && limit > MAX_TENANT_REQUESTS_PER_SECOND) {
    throw new Error(
      `context "${CONTEXT_TENANT_REQUESTS_PER_SECOND}" must be ${TENANT_RATE_BOUND}, got ${JSON.stringify(value)}`,
    );
  }
  return limit;
}

/**
 * `fanoutMaxConcurrency` or `deliveryMaxConcurrency`: a whole number that an event source mapping's
 * ScalingConfig.MaximumConcurrency accepts. Undefined when the context is not set.
 */
function maxConcurrencyFromContext(key: string, value: unknown, example: number): number | undefined {
  if (value === undefined) return undefined;
  const { min, max } = MAX_CONCURRENCY_RANGE;
  const number = wholeNumberOf(value);
  if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
    throw new Error(
      `context "${key}" must be a whole number from ${min} to ${max}, the event source mapping's MaximumConcurrency (e.g. ${example}), got ${JSON.stringify(value)}`,
    );
  }
  return number;
}

/** `alarmEmail`: an address, or undefined when the context is not set. */
function alarmEmailFromContext(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !isEmailAddress(value)) {
    throw new Error(
      `context "${CONTEXT_ALARM_EMAIL}" must be an email address, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** A symmetric KMS key's ARN (single- or multi-Region); aliases are not accepted, as key policies name keys. */
const KMS_KEY_ARN =
  /^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):key\/(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;
const KMS_ALIAS_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:alias\//;

/**
 * `kmsKey=create` or `kmsKeyArn=<key ARN>` (not both); AWS-managed keys when neither is set. An existing key
 * must be in the account and region the stack deploys to, where those are known: the bus and the queues can
 * only use a key in their own region, and the key policy README.md documents delegates to the key's account.
 */
export function dataKeyFromContext(
  context: (key: string) => unknown,
  target: Environment = {},
): DataKeyChoice {
  const create = context(CONTEXT_KMS_KEY);
  const keyArn = context(CONTEXT_KMS_KEY_ARN);
  if (create !== undefined && keyArn !== undefined) {
    throw new Error(
      `context "${CONTEXT_KMS_KEY}" and "${CONTEXT_KMS_KEY_ARN}" cannot both be set: create a key or name an existing one`,
    );
  }
  if (create !== undefined) {
    if (create !== 'create') {
      throw new Error(
        `context "${CONTEXT_KMS_KEY}" accepts only "create" (use "${CONTEXT_KMS_KEY_ARN}" for an existing key), got ${JSON.stringify(create)}`,
      );
    }
    return { kind: 'create' };
  }
  if (keyArn === undefined) return { kind: 'aws-managed' };
  const arn = typeof keyArn === 'string' ? keyArn.trim() : '';
  if (KMS_ALIAS_ARN.test(arn)) {
    throw new Error(
      `context "${CONTEXT_KMS_KEY_ARN}" must name a key, not an alias (a key policy belongs to the key, and IAM grants name it): give the ARN that \`aws kms describe-key --key-id ${arn} --query KeyMetadata.Arn\` prints`,
    );
  }
  const [, region, account] = KMS_KEY_ARN.exec(arn) ?? [];
  if (region === undefined || account === undefined) {
    throw new Error(
      `context "${CONTEXT_KMS_KEY_ARN}" must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>), got ${JSON.stringify(keyArn)}`,
    );
  }
  if (target.region !== undefined && region !== target.region) {
    throw new Error(
      `context "${CONTEXT_KMS_KEY_ARN}": the key is in ${region} but the stack deploys to ${target.region}; the event bus and the queues can only use a key in their own region, so use a key (or a multi-Region replica) in ${target.region}`,
    );
  }
  if (target.account !== undefined && account !== target.account) {
    throw new Error(
      `context "${CONTEXT_KMS_KEY_ARN}": the key belongs to account ${account} but the stack deploys to ${target.account}; use a key of account ${target.account}, whose key policy lets that account's IAM policies grant its use (README, Security)`,
    );
  }
  return { kind: 'existing', keyArn: arn };
}

/** `attemptLog` context: all, failures or off. Undefined when the context is not set. */
export function attemptLogFromContext(value: unknown): AttemptLogMode | undefined {
  if (value === undefined) return undefined;
  const mode = typeof value === 'string' ? value.trim() : value;
  if (!ATTEMPT_LOG_MODES.includes(mode as AttemptLogMode)) {
    throw new Error(
      `context "${CONTEXT_ATTEMPT_LOG}" must be one of ${ATTEMPT_LOG_MODES.join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  return mode as AttemptLogMode;
}

/**
 * `autoDisableAfterHours` context, in seconds: a positive number of hours ("120", "0.5", or a number from
 * cdk.json). Undefined when the context is not set.
 */
export function autoDisableAfterSecondsFromContext(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const hours = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  const seconds = typeof hours === 'number' ? Math.round(hours * 3600) : Number.NaN;
  if (!Number.isFinite(seconds) || seconds < 1) {
    throw new Error(
      `context "${CONTEXT_AUTO_DISABLE_AFTER_HOURS}" must be a positive number of hours (e.g. 120 for 5 days), got ${JSON.stringify(value)}`,
    );
  }
  return seconds;
}

/**
 * The retry schedule from CDK context: "0,5,300" (as `-c retrySchedule=0,5,300` gives it), a JSON array
 * string, or an array (from cdk.json). Undefined when the context is not set. Checked by the same rules as
 * the service definition applies, so every schedule problem is reported as this context value's.
 */
export function retryScheduleFromContext(value: unknown): readonly number[] | undefined {
  if (value === undefined) return undefined;
  const text = typeof value === 'string' ? value.trim() : undefined;
  let parsed: unknown = value;
  if (text?.startsWith('[')) {
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`context "${CONTEXT_RETRY_SCHEDULE}" is not a valid JSON array: ${text}`);
    }
  }
  if (text === undefined && !Array.isArray(parsed)) {
    throw new Error(`context "${CONTEXT_RETRY_SCHEDULE}" must be comma-separated seconds or a JSON array`);
  }
  try {
    // One parser for every form: it checks whole non-negative seconds and the schedule's limits.
    const schedule = parseRetrySchedule(Array.isArray(parsed) ? parsed.map(String).join(',') : String(text));
    serviceDefinition({ retryScheduleSeconds: schedule });
    return schedule;
  } catch (error) {
    throw new Error(`context "${CONTEXT_RETRY_SCHEDULE}": ${(error as Error).message}`);
  }
}
