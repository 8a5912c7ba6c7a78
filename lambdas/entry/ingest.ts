import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { FUNCTION_SETTINGS, loadConfig } from '../contract/settings.js';
import { documentClient } from '../platform/aws-clients.js';
import { ingestFunction } from '../wiring.js';

export const handler = ingestFunction(loadConfig(FUNCTION_SETTINGS.ingest), {
  db: documentClient(),
  eventBridge: new EventBridgeClient({}),
});
