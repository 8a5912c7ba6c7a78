import { SQSClient } from '@aws-sdk/client-sqs';
import { documentClient } from './core/aws.js';
import { FUNCTION_SETTINGS, loadConfig } from './core/config.js';
import { createDeliverHandler } from './core/queue-handlers.js';
import { SubscriptionStore } from './core/subscriptions.js';

const config = loadConfig(FUNCTION_SETTINGS.deliver);

export const handler = createDeliverHandler({
  sqs: new SQSClient({}),
  subscriptions: new SubscriptionStore(documentClient(), config.subscriptionsTable),
  deliveryQueueUrl: config.deliveryQueueUrl,
  retryScheduleSeconds: config.retryScheduleSeconds,
  attemptTimeoutMs: config.attemptTimeoutMs,
});
