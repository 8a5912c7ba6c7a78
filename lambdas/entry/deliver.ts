import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { FUNCTION_SETTINGS, loadConfig } from '../contract/settings.js';
import { documentClient } from '../platform/aws-clients.js';
import { deliverFunction } from '../wiring.js';

export const handler = deliverFunction(loadConfig(FUNCTION_SETTINGS.deliver), {
  db: documentClient(),
  sqs: new SQSClient({}),
  eventBridge: new EventBridgeClient({}),
});
