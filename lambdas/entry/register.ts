import { SQSClient } from '@aws-sdk/client-sqs';
import { FUNCTION_SETTINGS, loadConfig } from '../contract/settings.js';
import { documentClient } from '../platform/aws-clients.js';
import { registerFunction } from '../wiring.js';

export const handler = registerFunction(loadConfig(FUNCTION_SETTINGS.register), {
  db: documentClient(),
  sqs: new SQSClient({}),
});
