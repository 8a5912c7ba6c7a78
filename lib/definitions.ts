import { TENANT_SOURCE_PREFIX } from '../lambdas/contract/bus-events.js';
import {
  DEFAULT_RETRY_SCHEDULE_SECONDS,
  validateRetrySchedule,
  worstCaseScheduleSeconds,
} from '../lambdas/contract/retry-schedule.js';
import type { Config, FunctionName } from '../lambdas/contract/settings.js';
import { SQS_MAX_MESSAGE_BYTES } from '../lambdas/contract/sqs-size.js';
import {
  ATTEMPTS_BY_EVENT_INDEX,
  type AttemptLogMode,
  EVENTS_BY_TIME_INDEX,
} from '../lambdas/contract/tables.js';

/**
 * Everything about the service's resources that both the CDK stack and local mode need: keys, queue and
 * redrive settings, function timeouts, the bus rule. Plain data, so local mode reads it without CDK, and a
 * test checks the synthesized template against it.
 */
export interface FunctionDefinition {
  /** Entry file, relative to the repository root. */
  entry: string;
  description: string;
  timeoutSeconds: number;
  memoryMb: number;
  /** Concurrency reserved for the function out of the account's pool; absent: none, it shares the pool. */
  reservedConcurrency?: number;
}

export interface IndexDefinition {
  name: string;
  partitionKey: string;
  sortKey: string;
  /** 'ALL', or the non-key attributes the index carries. */
  projection: 'ALL' | readonly string[];
}

export interface TableDefinition {
  partitionKey: string;
  sortKey?: string;
  /** Global secondary indexes; every key attribute is a string. */
  indexes?: readonly IndexDefinition[];
  timeToLiveAttribute?: string;
  /** Point-in-time recovery where the data cannot be recreated. */
  pointInTimeRecovery: boolean;
}

export interface QueueDefinition {
  consumer: FunctionName;
  visibilityTimeoutSeconds: number;
  maxReceiveCount: number;
  retentionSeconds: number;
  batchSize: number;
  maxBatchingWindowSeconds: number;
  /**
   * The event source mapping's ScalingConfig.MaximumConcurrency: at most this many invocations of the consumer
   * at once. Local mode scales its pollers up to it (local/emulators/event-source-mapping.ts).
   */
  maxConcurrency: number;
}

export interface ServiceDefinition {
  functions: Record<FunctionName, FunctionDefinition>;
  tables: {
    tenants: TableDefinition;
    subscriptions: TableDefinition;
    events: TableDefinition;
    attempts: TableDefinition;
  };
  queues: { fanout: QueueDefinition; delivery: QueueDefinition };
  deadLetterRetentionSeconds: number;
  /** SQS accepts 1 MiB since 2026, but a queue's own default is still 256 KiB, so it is set explicitly. */
  maxMessageSizeBytes: number;
  eventRule: {
    pattern: { source: [{ prefix: string }] };
    /** The rule target's own retry policy; what it still cannot deliver goes to the rule's DLQ. */
    maxEventAgeSeconds: number;
    retryAttempts: number;
  };
  alarm: { metricName: 'ApproximateNumberOfMessagesVisible'; threshold: number; periodSeconds: number };
  retryScheduleSeconds: readonly number[];
  attemptTimeoutMs: number;
  /** How long events are kept for replay (claim-check) and idempotency. */
  eventRetentionDays: number;
  /** Which delivery attempts are recorded, and for how long. */
  attemptLog: AttemptLogMode;
  attemptRetentionDays: number;
  /** A subscription failing without a success for this long is disabled. */
  autoDisableAfterSeconds: number;
  /** Subscriptions one fan-out message (event or job) enqueues before it hands the rest to a continuation. */
  fanoutPageSize: number;
  /** Abuse limits: subscriptions a tenant may have, and API requests per second per tenant. */
  maxSubscriptionsPerTenant: number;
  tenantRequestsPerSecond: number;
}

export interface ServiceOptions {
  /** Delay before each attempt, in seconds; its length is the number of attempts. */
  retryScheduleSeconds?: readonly number[] | undefined;
  /** @default 'all' */
  attemptLog?: AttemptLogMode | undefined;
  /** @default 5 days */
  autoDisableAfterSeconds?: number | undefined;
  /** @default 10,000 */
  maxSubscriptionsPerTenant?: number | undefined;
  /** @default 50 */
  tenantRequestsPerSecond?: number | undefined;
  /** @default DEFAULT_MAX_CONCURRENCY.fanout */
  fanoutMaxConcurrency?: number | undefined;
  /** @default DEFAULT_MAX_CONCURRENCY.delivery */
  deliveryMaxConcurrency?: number | undefined;
  /** @default - none: every function shares the account's unreserved pool */
  reservedConcurrency?: ReservedConcurrency | undefined;
}

/** The functions behind the HTTP API: the ones a busy pipeline must never starve. */
export const API_FUNCTIONS = ['authorizer', 'api', 'ingest'] as const satisfies readonly FunctionName[];
export type ApiFunctionName = (typeof API_FUNCTIONS)[number];
export type ReservedConcurrency = { readonly [name in ApiFunctionName]?: number | undefined };

/**
 * The event source mappings' maximum concurrency. Without one, a mapping adds up to 300 invocations a minute
 * toward the account's concurrency (1,000 by default, often less on new accounts): a backlog of hanging
 * endpoints gets there in minutes, and then the API functions are throttled. These two take 110 of the default
 * 1,000 together, leaving the API and the account's other functions the rest. Delivery is the one that grows
 * with receivers: 100 invocations, each attempting its 10 messages in parallel, are up to 1,000 attempts in
 * flight (over 3,000 deliveries a second at 300 ms an answer), and hanging endpoints can hold no more than
 * those 100. Fan-out is cheap: an invocation reads subscriptions and sends batches of deliveries, so 10 of them
 * fan out more than a hundred events a second unless each event has thousands of subscriptions.
 */
export const DEFAULT_MAX_CONCURRENCY = { fanout: 10, delivery: 100 } as const;
/** ScalingConfig.MaximumConcurrency's range. */
export const MAX_CONCURRENCY_RANGE = { min: 2, max: 1_000 } as const;

const DAY = 86_400;
/** Lambda's guidance for SQS sources: a visibility timeout of at least six times the function timeout. */
const VISIBILITY_PER_TIMEOUT = 6;
const MAX_SCHEDULE_SECONDS = 7 * DAY;

export function serviceDefinition(options: ServiceOptions = {}): ServiceDefinition {
  const retryScheduleSeconds = options.retryScheduleSeconds ?? DEFAULT_RETRY_SCHEDULE_SECONDS;
  validateRetrySchedule(retryScheduleSeconds);
  const attemptTimeoutMs = 15_000;
  const autoDisableAfterSeconds = options.autoDisableAfterSeconds ?? 5 * DAY;
  if (!Number.isInteger(autoDisableAfterSeconds) || autoDisableAfterSeconds < 1) {
    throw new Error(
      `autoDisableAfterSeconds must be a positive whole number, got ${autoDisableAfterSeconds}`,
    );
  }

  const reserved = (name: ApiFunctionName) => {
    const value = options.reservedConcurrency?.[name];
    return value === undefined
      ? {}
      : { reservedConcurrency: positiveInteger(`${name} reserved concurrency`, value) };
  };
  const functions: Record<FunctionName, FunctionDefinition> = {
    authorizer: {
      entry: 'lambdas/entry/authorizer.ts',
      description: 'Resolves API keys to tenants',
      timeoutSeconds: 5,
      memoryMb: 256,
      ...reserved('authorizer'),
    },
    api: {
      entry: 'lambdas/entry/api.ts',
      description: 'Subscription API',
      timeoutSeconds: 10,
      memoryMb: 256,
      ...reserved('api'),
    },
    ingest: {
      entry: 'lambdas/entry/ingest.ts',
      description: 'Publishes API events to the bus',
      timeoutSeconds: 10,
      memoryMb: 256,
      ...reserved('ingest'),
    },
    fanout: {
      entry: 'lambdas/entry/fanout.ts',
      description: 'One event to one delivery per subscription',
      timeoutSeconds: 60,
      memoryMb: 512,
    },
    // A batch's attempts run in parallel, so twice the per-attempt timeout covers the slowest one.
    deliver: {
      entry: 'lambdas/entry/deliver.ts',
      description: 'Signs and POSTs one delivery',
      timeoutSeconds: (2 * attemptTimeoutMs) / 1000,
      memoryMb: 256,
    },
  };

  const deliveryRetentionSeconds = 14 * DAY;
  // A message keeps its first enqueue time in the DLQ, so time spent retrying is taken from its time there:
  // a schedule of at most 7 days leaves every dead letter at least 7 days to be noticed and redriven.
  if (worstCaseScheduleSeconds(retryScheduleSeconds) > MAX_SCHEDULE_SECONDS) {
    throw new Error(
      'the retry schedule, with jitter, must finish within 7 days so dead letters are kept 7 days or more',
    );
  }

  return {
    functions,
    tables: {
      // Tenants and key hashes; also the per-tenant request counters, which expire by TTL.
      tenants: { partitionKey: 'pk', timeToLiveAttribute: 'expiresAt', pointInTimeRecovery: true },
      subscriptions: { partitionKey: 'pk', sortKey: 'sk', pointInTimeRecovery: true },
      // Stored events (claim-check payloads and idempotency claims), one partition each so that a busy
      // tenant's payload writes spread out; byTime lists a tenant's events since a time, for replay.
      events: {
        partitionKey: 'pk',
        timeToLiveAttribute: 'expiresAt',
        pointInTimeRecovery: false,
        indexes: [
          {
            name: EVENTS_BY_TIME_INDEX,
            partitionKey: 'tenantId',
            sortKey: 'timestamp',
            projection: ['eventId', 'type'],
          },
        ],
      },
      // The attempt log: keyed by subscription, newest last; byEvent lists one event's attempts. Also the
      // rate-limited subscriptions' attempt counters, which expire by TTL.
      attempts: {
        partitionKey: 'pk',
        sortKey: 'sk',
        timeToLiveAttribute: 'expiresAt',
        pointInTimeRecovery: false,
        indexes: [
          { name: ATTEMPTS_BY_EVENT_INDEX, partitionKey: 'eventKey', sortKey: 'sk', projection: 'ALL' },
        ],
      },
    },
    queues: {
      fanout: {
        consumer: 'fanout',
        visibilityTimeoutSeconds: VISIBILITY_PER_TIMEOUT * functions.fanout.timeoutSeconds,
        maxReceiveCount: 5,
        retentionSeconds: 4 * DAY,
        batchSize: 10,
        maxBatchingWindowSeconds: 0,
        maxConcurrency: mappingMaxConcurrency(
          'fanoutMaxConcurrency',
          options.fanoutMaxConcurrency ?? DEFAULT_MAX_CONCURRENCY.fanout,
        ),
      },
      delivery: {
        consumer: 'deliver',
        visibilityTimeoutSeconds: VISIBILITY_PER_TIMEOUT * functions.deliver.timeoutSeconds,
        maxReceiveCount: retryScheduleSeconds.length,
        retentionSeconds: deliveryRetentionSeconds,
        batchSize: 10,
        maxBatchingWindowSeconds: 0,
        maxConcurrency: mappingMaxConcurrency(
          'deliveryMaxConcurrency',
          options.deliveryMaxConcurrency ?? DEFAULT_MAX_CONCURRENCY.delivery,
        ),
      },
    },
    // A message keeps its first enqueue time in the DLQ, so DLQs keep the maximum.
    deadLetterRetentionSeconds: 14 * DAY,
    maxMessageSizeBytes: SQS_MAX_MESSAGE_BYTES,
    eventRule: {
      pattern: { source: [{ prefix: TENANT_SOURCE_PREFIX }] },
      maxEventAgeSeconds: DAY,
      retryAttempts: 185,
    },
    alarm: { metricName: 'ApproximateNumberOfMessagesVisible', threshold: 0, periodSeconds: 60 },
    retryScheduleSeconds,
    attemptTimeoutMs,
    eventRetentionDays: 30,
    attemptLog: options.attemptLog ?? 'all',
    attemptRetentionDays: 30,
    autoDisableAfterSeconds,
    fanoutPageSize: 2_000,
    maxSubscriptionsPerTenant: positiveInteger(
      'maxSubscriptionsPerTenant',
      options.maxSubscriptionsPerTenant ?? 10_000,
    ),
    tenantRequestsPerSecond: positiveInteger(
      'tenantRequestsPerSecond',
      options.tenantRequestsPerSecond ?? 50,
    ),
  };
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be a positive whole number, got ${value}`);
  return value;
}

/** A maximum concurrency ScalingConfig accepts. */
function mappingMaxConcurrency(name: string, value: number): number {
  const { min, max } = MAX_CONCURRENCY_RANGE;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(
      `${name} must be a whole number from ${min} to ${max} (an event source mapping's MaximumConcurrency), got ${value}`,
    );
  }
  return value;
}

/** The settings that name the resources, which the stack and local mode each create their own way. */
export type ResourceSettings = Pick<
  Config,
  | 'tenantsTable'
  | 'subscriptionsTable'
  | 'eventsTable'
  | 'attemptsTable'
  | 'eventBusName'
  | 'fanoutQueueUrl'
  | 'deliveryQueueUrl'
  | 'fanoutDeadLetterQueueUrl'
  | 'deliveryDeadLetterQueueUrl'
>;

/**
 * Every setting a function may read: the resources' names, and the rest from the definition. The stack sets
 * them as environment variables and local mode hands them to the handlers, so both give the same values.
 */
export function serviceSettings(definition: ServiceDefinition, resources: ResourceSettings): Config {
  return {
    ...resources,
    retryScheduleSeconds: [...definition.retryScheduleSeconds],
    attemptTimeoutMs: definition.attemptTimeoutMs,
    eventRetentionDays: definition.eventRetentionDays,
    attemptLog: definition.attemptLog,
    attemptRetentionDays: definition.attemptRetentionDays,
    autoDisableAfterSeconds: definition.autoDisableAfterSeconds,
    fanoutPageSize: definition.fanoutPageSize,
    maxSubscriptionsPerTenant: definition.maxSubscriptionsPerTenant,
    tenantRequestsPerSecond: definition.tenantRequestsPerSecond,
  };
}
