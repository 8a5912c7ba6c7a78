import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { CircuitPolicy } from '../lambdas/contract/circuit-policy.js';
import type { QueueHandler } from '../lambdas/contract/handlers.js';
import type { Config } from '../lambdas/contract/settings.js';
import type { AttemptLogMode } from '../lambdas/contract/tables.js';
import { documentClient } from '../lambdas/platform/aws-clients.js';
import { createTenant } from '../lambdas/storage/tenants.js';
import {
  apiFunction,
  authorizerFunction,
  deliverFunction,
  fanoutFunction,
  ingestFunction,
  type TargetOptions,
} from '../lambdas/wiring.js';
import { type ServiceDefinition, serviceDefinition, serviceSettings } from '../lib/definitions.js';
import { type ApiRequest, invokeApi } from './emulators/api-gateway.js';
import { startEventBus } from './emulators/event-bus.js';
import { pollOnce } from './emulators/event-source.js';
import { type EventSourceMapping, startEventSourceMapping } from './emulators/event-source-mapping.js';
import { provisionResources } from './emulators/provision.js';
import { queueDepth } from './emulators/queue-metrics.js';

/**
 * The whole pipeline on local engines: the stack's tables and queues, the same handlers built by the same
 * functions as in Lambda, a local bus applying the stack's rule, and pollers standing in for the event source
 * mappings. Credentials are placeholders: the engines do not check them.
 */
export interface LocalServiceOptions {
  dynamoEndpoint: string;
  sqsEndpoint: string;
  namePrefix?: string;
  retryScheduleSeconds?: readonly number[];
  allowPrivateUrls?: boolean;
  /** The authorizer's key cache; 0 makes a revoked key fail at once. */
  authCacheTtlMs?: number;
  /** Per-attempt HTTP timeout; the stack's by default. */
  attemptTimeoutMs?: number;
  /** Jitter source for retry delays, fixed in tests that assert exact visibility timeouts. */
  random?: () => number;
  attemptLog?: AttemptLogMode;
  autoDisableAfterSeconds?: number;
  maxSubscriptionsPerTenant?: number;
  tenantRequestsPerSecond?: number;
  /** The event source mappings' maximum concurrency; the stack's by default. */
  fanoutMaxConcurrency?: number;
  deliveryMaxConcurrency?: number;
  /** Subscriptions per fan-out page; the stack's by default. */
  fanoutPageSize?: number;
  /** Shortest wait after a 429 (whatever its Retry-After says) or a timeout; 60 s by default. */
  throttledRetryMinSeconds?: number;
  /** How long a finished attempt's record waits to be written with others; the deliver step's default. */
  attemptRecordGroupingMs?: number;
  /** When circuits open and for how long; the deliver step's default (tests shorten the open time). */
  circuitPolicy?: CircuitPolicy;
  /** The deliver step's clock, moved forward in tests of secret rotation and auto-disable. */
  now?: () => Date;
  /** The SSRF guard's resolver at registration and delivery (when allowPrivateUrls is false); the system's by default. */
  resolveHost?: TargetOptions['resolveHost'];
  /** Called with each operational event put on the bus (local mode logs them). */
  onOperationalEvent?: (event: Record<string, unknown>) => void;
  /** Wraps a queue consumer as built, so the chaos run can make it crash part-way through a batch. */
  wrapQueueHandler?: (name: QueueFunctionName, handler: QueueHandler) => QueueHandler;
}

export type QueueFunctionName = 'fanout' | 'deliver';

const REGION = 'us-east-1';
const MAX_KEPT_OPERATIONAL_EVENTS = 1_000;
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export type LocalService = Awaited<ReturnType<typeof createLocalService>>;

export async function createLocalService(options: LocalServiceOptions) {
  const definition: ServiceDefinition = serviceDefinition({
    ...(options.retryScheduleSeconds ? { retryScheduleSeconds: options.retryScheduleSeconds } : {}),
    ...(options.attemptLog ? { attemptLog: options.attemptLog } : {}),
    ...(options.autoDisableAfterSeconds ? { autoDisableAfterSeconds: options.autoDisableAfterSeconds } : {}),
    ...(options.maxSubscriptionsPerTenant
      ? { maxSubscriptionsPerTenant: options.maxSubscriptionsPerTenant }
      : {}),
    ...(options.tenantRequestsPerSecond ? { tenantRequestsPerSecond: options.tenantRequestsPerSecond } : {}),
    fanoutMaxConcurrency: options.fanoutMaxConcurrency,
    deliveryMaxConcurrency: options.deliveryMaxConcurrency,
  });
  const dynamo = new DynamoDBClient({
    endpoint: options.dynamoEndpoint,
    region: REGION,
    credentials: CREDENTIALS,
  });
  const sqs = new SQSClient({ endpoint: options.sqsEndpoint, region: REGION, credentials: CREDENTIALS });
  const db = documentClient(dynamo);
  const resources = await provisionResources(
    { dynamo, sqs },
    definition,
    options.namePrefix ?? `fanout-${randomUUID().slice(0, 8)}`,
  );

  const busName = `${options.namePrefix ?? 'fanout'}-bus`;
  const operationalEvents: Record<string, unknown>[] = [];
  const bus = await startEventBus({
    busName,
    pattern: definition.eventRule.pattern,
    onUnmatched: (event) => {
      operationalEvents.push(event);
      // Kept for inspection, bounded so a long-running local mode does not grow without limit.
      if (operationalEvents.length > MAX_KEPT_OPERATIONAL_EVENTS) operationalEvents.shift();
      options.onOperationalEvent?.(event);
    },
    target: async (eventJson) => {
      await sqs.send(
        new SendMessageCommand({ QueueUrl: resources.queues.fanout.url, MessageBody: eventJson }),
      );
    },
  });
  const eventBridge = new EventBridgeClient({
    endpoint: bus.endpoint,
    region: REGION,
    credentials: CREDENTIALS,
  });

  const settings = serviceSettings(definition, {
    tenantsTable: resources.tables.tenants,
    subscriptionsTable: resources.tables.subscriptions,
    eventsTable: resources.tables.events,
    attemptsTable: resources.tables.attempts,
    eventBusName: busName,
    fanoutQueueUrl: resources.queues.fanout.url,
    deliveryQueueUrl: resources.queues.delivery.url,
    fanoutDeadLetterQueueUrl: resources.queues.fanout.deadLetterUrl,
    deliveryDeadLetterQueueUrl: resources.queues.delivery.deadLetterUrl,
  });
  const config: Config = {
    ...settings,
    attemptTimeoutMs: options.attemptTimeoutMs ?? settings.attemptTimeoutMs,
    fanoutPageSize: options.fanoutPageSize ?? settings.fanoutPageSize,
  };
  const clients = { db, sqs, eventBridge };
  // Local receivers on 127.0.0.1 are the point of local mode; `false` applies exactly the stack's guard.
  const targets = { allowPrivateUrls: options.allowPrivateUrls ?? true, resolveHost: options.resolveHost };
  const api = {
    authorizer: authorizerFunction(config, clients, { cacheTtlMs: options.authCacheTtlMs ?? 0 }),
    api: apiFunction(config, clients, targets),
    ingest: ingestFunction(config, clients),
  };
  const wrap = options.wrapQueueHandler ?? ((_name, handler) => handler);
  const fanout = wrap('fanout', fanoutFunction(config, clients));
  const deliverHandler = deliverFunction(config, clients, {
    ...targets,
    ...(options.random ? { random: options.random } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.throttledRetryMinSeconds !== undefined
      ? { throttledRetryMinSeconds: options.throttledRetryMinSeconds }
      : {}),
    ...(options.attemptRecordGroupingMs !== undefined
      ? { attemptRecordGroupingMs: options.attemptRecordGroupingMs }
      : {}),
    ...(options.circuitPolicy ? { circuitPolicy: options.circuitPolicy } : {}),
  });
  const deliver = wrap('deliver', deliverHandler);
  const pollFanout = (waitTimeSeconds = 0) =>
    pollOnce(sqs, fanout, {
      functionName: 'fanout',
      queueUrl: resources.queues.fanout.url,
      queueArn: resources.queues.fanout.arn,
      batchSize: definition.queues.fanout.batchSize,
      waitTimeSeconds,
    });
  const pollDelivery = (waitTimeSeconds = 0) =>
    pollOnce(sqs, deliver, {
      functionName: 'deliver',
      queueUrl: resources.queues.delivery.url,
      queueArn: resources.queues.delivery.arn,
      batchSize: definition.queues.delivery.batchSize,
      waitTimeSeconds,
    });

  return {
    definition,
    region: REGION,
    resources,
    config,
    clients,
    busName,
    busEndpoint: bus.endpoint,
    /** Every operational event put on the bus so far, oldest first. */
    operationalEvents,
    api: (request: ApiRequest) => invokeApi(api, request),
    createTenant: (name: string, apiKey?: string) =>
      createTenant(db, resources.tables.tenants, { name, ...(apiKey ? { apiKey } : {}) }),
    pollFanout,
    pollDelivery,
    /**
     * The event source mappings, running until stopped: each queue's pollers, scaled with its backlog up to the
     * maximum concurrency of the stack's mapping.
     */
    startEventSources: (log: (line: string) => void): Record<'fanout' | 'delivery', EventSourceMapping> => {
      const visibleMessages = (queue: 'fanout' | 'delivery') => async () =>
        (await queueDepth(sqs, resources.queues[queue].url)).visible;
      return {
        fanout: startEventSourceMapping('fan-out', pollFanout, {
          maxConcurrency: definition.queues.fanout.maxConcurrency,
          visibleMessages: visibleMessages('fanout'),
          log,
        }),
        delivery: startEventSourceMapping('delivery', pollDelivery, {
          maxConcurrency: definition.queues.delivery.maxConcurrency,
          visibleMessages: visibleMessages('delivery'),
          log,
        }),
      };
    },
    async close() {
      await new Promise((resolve) => bus.server.close(resolve));
      eventBridge.destroy();
      sqs.destroy();
      dynamo.destroy();
    },
  };
}
