import { documentClient } from './core/aws.js';
import { FUNCTION_SETTINGS, loadConfig } from './core/config.js';
import { authorizerFunction } from './core/functions.js';

export const handler = authorizerFunction(loadConfig(FUNCTION_SETTINGS.authorizer), { db: documentClient() });
