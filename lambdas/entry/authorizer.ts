import { FUNCTION_SETTINGS, loadConfig } from '../contract/settings.js';
import { documentClient } from '../platform/aws-clients.js';
import { authorizerFunction } from '../wiring.js';

export const handler = authorizerFunction(loadConfig(FUNCTION_SETTINGS.authorizer), { db: documentClient() });
