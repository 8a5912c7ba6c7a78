import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
  Context,
} from 'aws-lambda';
import {
  DEFAULT_ROUTE_HANDLER,
  GATEWAY_ROUTES,
  matchPath,
  routeKeyOf,
} from '../../lambdas/contract/api-routes.js';
import type { ApiEvent, ApiResponse, AuthorizerContext } from '../../lambdas/contract/handlers.js';
import { lambdaContext } from './lambda-context.js';

/**
 * What API Gateway's HTTP API does in front of our functions: run the Lambda authorizer (no identity source,
 * no cache, as in the stack), match the route from lambdas/contract/api-routes.ts (GATEWAY_ROUTES, as the stack
 * creates them) or fall back to $default, and invoke the route's function with a payload-format-2.0 event
 * carrying the authorizer's context.
 */
export interface ApiFunctions {
  authorizer: (
    event: APIGatewayRequestAuthorizerEventV2,
  ) => Promise<APIGatewaySimpleAuthorizerWithContextResult<AuthorizerContext>>;
  api: (event: ApiEvent, context: Context) => Promise<ApiResponse>;
  ingest: (event: ApiEvent, context: Context) => Promise<ApiResponse>;
}

export interface ApiRequest {
  method: string;
  /** Path with an optional query string, e.g. "/subscriptions?limit=2". */
  path: string;
  headers?: Record<string, string>;
  /** Bytes as a client sent them (local mode's HTTP server), or text (tests that build requests). */
  body?: string | Uint8Array;
}

export interface NormalizedResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export async function invokeApi(functions: ApiFunctions, request: ApiRequest): Promise<NormalizedResponse> {
  const url = new URL(request.path, 'http://localhost');
  const method = request.method.toUpperCase();
  const headers = Object.fromEntries(
    Object.entries(request.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
  );
  const { route, pathParameters } = matchRoute(method, url.pathname);
  const routeKey = route ? routeKeyOf(route) : '$default';
  const requestContext = {
    accountId: '000000000000',
    apiId: 'local',
    domainName: url.host,
    domainPrefix: 'local',
    http: {
      method,
      path: url.pathname,
      protocol: 'HTTP/1.1',
      sourceIp: '127.0.0.1',
      userAgent: headers['user-agent'] ?? '',
    },
    requestId: crypto.randomUUID(),
    routeKey,
    stage: '$default',
    time: new Date().toUTCString(),
    timeEpoch: Date.now(),
  };
  const queryStringParameters = url.search ? Object.fromEntries(url.searchParams) : undefined;

  const authorization = await functions.authorizer({
    version: '2.0',
    type: 'REQUEST',
    routeArn: `arn:aws:execute-api:local:000000000000:local/$default/${method}${url.pathname}`,
    identitySource: [],
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    cookies: [],
    headers,
    queryStringParameters: queryStringParameters ?? {},
    requestContext,
    pathParameters,
    stageVariables: {},
  });
  if (!authorization.isAuthorized) return normalize({ statusCode: 403, body: '{"message":"Forbidden"}' });

  const event: ApiEvent = {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(queryStringParameters ? { queryStringParameters } : {}),
    ...(route ? { pathParameters } : {}),
    requestContext: { ...requestContext, authorizer: { lambda: authorization.context } },
    ...gatewayBody(request.body, headers['content-type']),
  };
  const target = functions[route?.handler ?? DEFAULT_ROUTE_HANDLER];
  return normalize(await target(event, lambdaContext(route?.handler ?? DEFAULT_ROUTE_HANDLER)));
}

/**
 * The body as API Gateway hands it to a function: bytes of a text content-type (text/*, application/json,
 * application/xml, application/javascript) as a string, decoded as UTF-8 (invalid bytes become U+FFFD),
 * and any other body, one without a content-type included, base64-encoded. This split is not in AWS's
 * documentation; it is what API Gateway was observed to do (ministackorg/ministack#766).
 */
function gatewayBody(
  body: string | Uint8Array | undefined,
  contentType: string | undefined,
): { body?: string; isBase64Encoded: boolean } {
  if (body === undefined) return { isBase64Encoded: false };
  if (typeof body === 'string') return { body, isBase64Encoded: false };
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const isText = mediaType.startsWith('text/') || TEXT_MEDIA_TYPES.has(mediaType);
  return isText
    ? { body: Buffer.from(body).toString('utf8'), isBase64Encoded: false }
    : { body: Buffer.from(body).toString('base64'), isBase64Encoded: true };
}

const TEXT_MEDIA_TYPES = new Set(['application/json', 'application/xml', 'application/javascript']);

function matchRoute(method: string, path: string) {
  for (const route of GATEWAY_ROUTES) {
    const pathParameters = route.method === method ? matchPath(route.path, path) : undefined;
    if (pathParameters) return { route, pathParameters };
  }
  return { route: undefined, pathParameters: {} };
}

function normalize(response: ApiResponse): NormalizedResponse {
  return {
    statusCode: response.statusCode ?? 200,
    headers: Object.fromEntries(Object.entries(response.headers ?? {}).map(([k, v]) => [k, String(v)])),
    body: response.body ?? '',
  };
}

/** The headers of a JSON request made with a tenant's API key. */
export function bearer(apiKey: string): Record<string, string> {
  return { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
}
