import { SQSClient } from '@aws-sdk/client-sqs';
import { documentClient } from './core/aws.js';
import { FUNCTION_SETTINGS, loadConfig } from './core/config.js';
import { EventClaims } from './core/event-claims.js';
import { createFanoutHandler } from './core/queue-handlers.js';
import { SubscriptionStore } from './core/subscriptions.js';

const config = loadConfig(FUNCTION_SETTINGS.fanout);
const db = documentClient();

export const handler = createFanoutHandler({
  sqs: new SQSClient({}),
  subscriptions: new SubscriptionStore(db, config.subscriptionsTable),
  claims: new EventClaims(db, config.eventsTable, config.eventRetentionDays),
  deliveryQueueUrl: config.deliveryQueueUrl,
});
