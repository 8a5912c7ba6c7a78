import { AUTH_CACHE_TTL_SECONDS, createAuthorizer } from './core/authorizer.js';
import { documentClient } from './core/aws.js';
import { FUNCTION_SETTINGS, loadConfig } from './core/config.js';
import { resolveApiKey } from './core/tenants.js';

const config = loadConfig(FUNCTION_SETTINGS.authorizer);
const db = documentClient();

export const handler = createAuthorizer((apiKey) => resolveApiKey(db, config.tenantsTable, apiKey), {
  cacheTtlMs: AUTH_CACHE_TTL_SECONDS * 1000,
  maxCachedKeys: 10_000,
});
