import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { documentClient } from '../lambdas/core/aws.js';
import type { Config } from '../lambdas/core/config.js';
import {
  authorizerFunction,
  deliverFunction,
  fanoutFunction,
  ingestFunction,
  registerFunction,
} from '../lambdas/core/functions.js';
import { createTenant } from '../lambdas/core/tenants.js';
import { type ServiceDefinition, serviceDefinition } from '../lib/definitions.js';
import { type ApiRequest, invokeApi } from './api-gateway.js';
import { startEventBus } from './event-bus.js';
import { pollOnce } from './event-source.js';
import { provisionResources } from './provision.js';

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
}

const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export type LocalService = Awaited<ReturnType<typeof createLocalService>>;

export async function createLocalService(options: LocalServiceOptions) {
  const definition: ServiceDefinition = serviceDefinition(
    options.retryScheduleSeconds ? { retryScheduleSeconds: options.retryScheduleSeconds } : {},
  );
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
  const bus = await startEventBus({
    busName,
    pattern: definition.eventRule.pattern,
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

  const config: Config = {
    tenantsTable: resources.tables.tenants,
    subscriptionsTable: resources.tables.subscriptions,
    eventsTable: resources.tables.events,
    eventBusName: busName,
    deliveryQueueUrl: resources.queues.delivery.url,
    retryScheduleSeconds: [...definition.retryScheduleSeconds],
    attemptTimeoutMs: options.attemptTimeoutMs ?? definition.attemptTimeoutMs,
    eventRetentionDays: definition.eventRetentionDays,
    allowPrivateUrls: options.allowPrivateUrls ?? true,
  };
  const clients = { db, sqs, eventBridge };
  const api = {
    authorizer: authorizerFunction(config, clients, { cacheTtlMs: options.authCacheTtlMs ?? 0 }),
    register: registerFunction(config, clients),
    ingest: ingestFunction(config, clients),
  };
  const fanout = fanoutFunction(config, clients);
  const deliver = deliverFunction(config, clients, options.random ? { random: options.random } : {});

  return {
    definition,
    resources,
    config,
    clients,
    busName,
    busEndpoint: bus.endpoint,
    api: (request: ApiRequest) => invokeApi(api, request),
    createTenant: (name: string, apiKey?: string) =>
      createTenant(db, resources.tables.tenants, { name, ...(apiKey ? { apiKey } : {}) }),
    pollFanout: (waitTimeSeconds = 0) =>
      pollOnce(sqs, fanout, {
        queueUrl: resources.queues.fanout.url,
        queueArn: resources.queues.fanout.arn,
        batchSize: definition.queues.fanout.batchSize,
        waitTimeSeconds,
      }),
    pollDelivery: (waitTimeSeconds = 0) =>
      pollOnce(sqs, deliver, {
        queueUrl: resources.queues.delivery.url,
        queueArn: resources.queues.delivery.arn,
        batchSize: definition.queues.delivery.batchSize,
        waitTimeSeconds,
      }),
    async close() {
      await new Promise((resolve) => bus.server.close(resolve));
      eventBridge.destroy();
      sqs.destroy();
      dynamo.destroy();
    },
  };
}
