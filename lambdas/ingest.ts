import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { FUNCTION_SETTINGS, loadConfig } from './core/config.js';
import { eventRoutes } from './core/event-api.js';
import { createApiHandler } from './core/http.js';

const config = loadConfig(FUNCTION_SETTINGS.ingest);

export const handler = createApiHandler(eventRoutes(new EventBridgeClient({}), config.eventBusName));
