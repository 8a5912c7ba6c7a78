import { SQSClient } from '@aws-sdk/client-sqs';
import { documentClient } from './core/aws.js';
import { FUNCTION_SETTINGS, loadConfig } from './core/config.js';
import { registerFunction } from './core/functions.js';

export const handler = registerFunction(loadConfig(FUNCTION_SETTINGS.register), {
  db: documentClient(),
  sqs: new SQSClient({}),
});
