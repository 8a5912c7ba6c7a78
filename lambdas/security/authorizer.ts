import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
} from 'aws-lambda';
import { headerValue } from '../api/headers.js';
import type { AuthorizerContext } from '../contract/handlers.js';
import { TtlCache } from '../platform/ttl-cache.js';

export type ApiKeyResolver = (apiKey: string) => Promise<string | undefined>;

export interface AuthorizerOptions {
  /** How long a key's answer is remembered: the longest a revoked key can keep working. */
  cacheTtlMs: number;
  maxCachedKeys: number;
  now?: () => number;
}

/**
 * How long each authorizer instance remembers a key's answer: a revoked key keeps working for at most this long
 * (API Gateway itself caches nothing). Short enough for revocation, long enough to spare most GetItems.
 */
export const AUTH_CACHE_TTL_SECONDS = 30;

/**
 * Resolves `Authorization: Bearer <key>` to the caller's tenant. It lets every request through to the
 * integration with either `tenantId` or `authError` in its context, because HTTP APIs cannot shape an
 * authorizer's own denials, while the API contract promises a JSON 401; the integration refuses any request
 * without a tenant before touching data (api/handler.ts).
 */
export function createAuthorizer(resolve: ApiKeyResolver, options: AuthorizerOptions) {
  const cache = new TtlCache<string, string | undefined>({
    ttlMs: options.cacheTtlMs,
    maxEntries: options.maxCachedKeys,
    ...(options.now ? { now: options.now } : {}),
  });

  async function lookup(apiKey: string): Promise<string | undefined> {
    const cached = cache.get(apiKey);
    if (cached) return cached.value;
    const tenantId = await resolve(apiKey);
    cache.set(apiKey, tenantId);
    return tenantId;
  }

  return async (
    event: APIGatewayRequestAuthorizerEventV2,
  ): Promise<APIGatewaySimpleAuthorizerWithContextResult<AuthorizerContext>> => {
    const header = headerValue(event.headers, 'authorization');
    const apiKey = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
    if (!apiKey) return { isAuthorized: true, context: { authError: 'missing_api_key' } };
    const tenantId = await lookup(apiKey);
    return tenantId
      ? { isAuthorized: true, context: { tenantId } }
      : { isAuthorized: true, context: { authError: 'invalid_api_key' } };
  };
}
