import { SQSClient } from '@aws-sdk/client-sqs';
import { FUNCTION_SETTINGS, loadConfig } from '../contract/settings.js';
import { documentClient } from '../platform/aws-clients.js';
import { apiFunction } from '../wiring.js';

export const handler = apiFunction(loadConfig(FUNCTION_SETTINGS.api), {
  db: documentClient(),
  sqs: new SQSClient({}),
});
