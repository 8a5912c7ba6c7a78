import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { documentClient } from './core/aws.js';
import { FUNCTION_SETTINGS, loadConfig } from './core/config.js';
import { ingestFunction } from './core/functions.js';

export const handler = ingestFunction(loadConfig(FUNCTION_SETTINGS.ingest), {
  db: documentClient(),
  eventBridge: new EventBridgeClient({}),
});
