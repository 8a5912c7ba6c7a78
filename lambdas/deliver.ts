import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { documentClient } from './core/aws.js';
import { FUNCTION_SETTINGS, loadConfig } from './core/config.js';
import { deliverFunction } from './core/functions.js';

export const handler = deliverFunction(loadConfig(FUNCTION_SETTINGS.deliver), {
  db: documentClient(),
  sqs: new SQSClient({}),
  eventBridge: new EventBridgeClient({}),
});
