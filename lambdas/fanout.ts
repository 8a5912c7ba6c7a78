import { SQSClient } from '@aws-sdk/client-sqs';
import { documentClient } from './core/aws.js';
import { FUNCTION_SETTINGS, loadConfig } from './core/config.js';
import { fanoutFunction } from './core/functions.js';

export const handler = fanoutFunction(loadConfig(FUNCTION_SETTINGS.fanout), {
  db: documentClient(),
  sqs: new SQSClient({}),
});
