import { SQSClient } from '@aws-sdk/client-sqs';
import { FUNCTION_SETTINGS, loadConfig } from '../contract/settings.js';
import { documentClient } from '../platform/aws-clients.js';
import { fanoutFunction } from '../wiring.js';

export const handler = fanoutFunction(loadConfig(FUNCTION_SETTINGS.fanout), {
  db: documentClient(),
  sqs: new SQSClient({}),
});
