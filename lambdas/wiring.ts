import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createApiHandler } from './api/handler.js';
import { TenantRateLimiter } from './api/rate-limit.js';
import { eventRoutes } from './api/routes/publish.js';
import { subscriptionRoutes } from './api/routes/subscriptions.js';
import type { CircuitPolicy } from './contract/circuit-policy.js';
import type { Config, FUNCTION_SETTINGS, FunctionName } from './contract/settings.js';
import { createDeliverHandler } from './delivery/handler.js';
import { operationalEvents } from './delivery/operational-events.js';
import { createFanoutHandler } from './fanout/handler.js';
import type { HostResolver } from './security/address-guard.js';
import { AUTH_CACHE_TTL_SECONDS, createAuthorizer } from './security/authorizer.js';
import { AttemptLog } from './storage/attempts.js';
import { EventStore } from './storage/events.js';
import { RateCounters } from './storage/rate-counters.js';
import { SubscriptionStore } from './storage/subscriptions.js';
import { KnownTenants, resolveApiKey } from './storage/tenants.js';

/**
 * How each function is put together from its settings and AWS clients. The Lambda entries call these with
 * the environment and default clients; tests and local mode call them with local engines' clients.
 */
export interface Clients {
  db: DynamoDBDocumentClient;
  sqs: SQSClient;
  eventBridge: EventBridgeClient;
}

export type FunctionConfig<F extends FunctionName> = Pick<Config, (typeof FUNCTION_SETTINGS)[F][number]>;

export function authorizerFunction(
  config: FunctionConfig<'authorizer'>,
  clients: Pick<Clients, 'db'>,
  options: { cacheTtlMs?: number; now?: () => number } = {},
) {
  return createAuthorizer((apiKey) => resolveApiKey(clients.db, config.tenantsTable, apiKey), {
    cacheTtlMs: options.cacheTtlMs ?? AUTH_CACHE_TTL_SECONDS * 1000,
    maxCachedKeys: 10_000,
    ...(options.now ? { now: options.now } : {}),
  });
}

/** The rate limiter's clock (epoch milliseconds), fixed by tests of the per-second window. */
export interface ApiFunctionOptions {
  now?: () => number;
}

/**
 * Private and internal webhook targets are for local mode only. This is an option of how a function is
 * built, not a setting read from the environment, so no Lambda function can be configured to allow them.
 */
export interface TargetOptions {
  /** @default false: the SSRF guard applies */
  allowPrivateUrls?: boolean;
  /** The SSRF guard's resolver; the system's by default. */
  resolveHost?: HostResolver | undefined;
}

export function apiFunction(
  config: FunctionConfig<'api'>,
  clients: Pick<Clients, 'db' | 'sqs'>,
  options: ApiFunctionOptions & TargetOptions = {},
) {
  return createApiHandler(
    subscriptionRoutes({
      subscriptions: new SubscriptionStore(clients.db, config.subscriptionsTable, {
        maxPerTenant: config.maxSubscriptionsPerTenant,
      }),
      events: new EventStore(clients.db, config.eventsTable),
      attempts: new AttemptLog(clients.db, config.attemptsTable),
      sqs: clients.sqs,
      fanoutQueueUrl: config.fanoutQueueUrl,
      allowPrivateUrls: options.allowPrivateUrls ?? false,
      resolveHost: options.resolveHost,
    }),
    { rateLimiter: rateLimiter(config, clients, options) },
  );
}

export function ingestFunction(
  config: FunctionConfig<'ingest'>,
  clients: Pick<Clients, 'db' | 'eventBridge'>,
  options: ApiFunctionOptions = {},
) {
  return createApiHandler(eventRoutes(clients.eventBridge, config.eventBusName), {
    rateLimiter: rateLimiter(config, clients, options),
  });
}

/** The API and ingest functions count against the same per-tenant counter: the limit is for the whole API. */
function rateLimiter(
  config: Pick<Config, 'tenantsTable' | 'tenantRequestsPerSecond'>,
  clients: Pick<Clients, 'db'>,
  options: ApiFunctionOptions,
): TenantRateLimiter {
  return new TenantRateLimiter(clients.db, config.tenantsTable, {
    requestsPerSecond: config.tenantRequestsPerSecond,
    ...(options.now ? { now: options.now } : {}),
  });
}

export function fanoutFunction(config: FunctionConfig<'fanout'>, clients: Pick<Clients, 'db' | 'sqs'>) {
  return createFanoutHandler({
    sqs: clients.sqs,
    tenants: new KnownTenants(clients.db, config.tenantsTable),
    subscriptions: new SubscriptionStore(clients.db, config.subscriptionsTable),
    events: new EventStore(clients.db, config.eventsTable, config.eventRetentionDays),
    attempts: new AttemptLog(clients.db, config.attemptsTable),
    deliveryQueueUrl: config.deliveryQueueUrl,
    fanoutQueueUrl: config.fanoutQueueUrl,
    deadLetterQueueUrl: config.fanoutDeadLetterQueueUrl,
    pageSize: config.fanoutPageSize,
  });
}

export function deliverFunction(
  config: FunctionConfig<'deliver'>,
  clients: Clients,
  options: TargetOptions & {
    random?: () => number;
    now?: () => Date;
    throttledRetryMinSeconds?: number;
    attemptRecordGroupingMs?: number;
    circuitPolicy?: CircuitPolicy;
  } = {},
) {
  return createDeliverHandler({
    sqs: clients.sqs,
    subscriptions: new SubscriptionStore(clients.db, config.subscriptionsTable),
    events: new EventStore(clients.db, config.eventsTable),
    attempts: new AttemptLog(clients.db, config.attemptsTable, {
      mode: config.attemptLog,
      retentionDays: config.attemptRetentionDays,
    }),
    operationalEvents: operationalEvents(clients.eventBridge, config.eventBusName),
    // Per-subscription rate limits count attempts beside the attempt log, whose table expires them.
    attemptCounters: new RateCounters(clients.db, config.attemptsTable),
    deliveryQueueUrl: config.deliveryQueueUrl,
    deliveryDeadLetterQueueUrl: config.deliveryDeadLetterQueueUrl,
    retryScheduleSeconds: config.retryScheduleSeconds,
    attemptTimeoutMs: config.attemptTimeoutMs,
    autoDisableAfterSeconds: config.autoDisableAfterSeconds,
    allowPrivateUrls: options.allowPrivateUrls ?? false,
    ...options,
  });
}
