import middy, { type MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import { allowedMethods, handlerKeyOf, type RouteKey } from '../contract/api-routes.js';
import { MAX_EVENT_ENTRY_BYTES } from '../contract/bus-events.js';
import type { ApiEvent, ApiResponse } from '../contract/handlers.js';
import {
  BadRequestError,
  HttpError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  TooManyRequestsError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from '../platform/errors.js';
import { logger } from '../platform/logger.js';
import { headerValue } from './headers.js';
import type { TenantRateLimiter } from './rate-limit.js';

export interface ApiRequest {
  tenantId: string;
  pathParameters: Record<string, string | undefined>;
  query: Record<string, string | undefined>;
  /** The parsed JSON body; throws 400/413/415 when it is absent, too large, not JSON or of another type. */
  jsonBody(): unknown;
  /** As jsonBody(), but an absent or empty body reads as `{}`: for routes whose fields are all optional. */
  optionalJsonBody(): unknown;
}

export type RouteHandler = (request: ApiRequest) => Promise<ApiResponse>;

/**
 * Requests above this are refused before parsing. The largest valid body is an event whose data is nearly
 * MAX_EVENT_ENTRY_BYTES, so the cap leaves room for its envelope (type, id, escaping); the bus entry itself is
 * measured exactly by the events route.
 */
export const MAX_REQUEST_BODY_BYTES = MAX_EVENT_ENTRY_BYTES + 16 * 1024;

export function jsonResponse(statusCode: number, body: unknown): ApiResponse {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

export function emptyResponse(statusCode: number): ApiResponse {
  return { statusCode };
}

export interface ApiHandlerOptions {
  /** Counts each authenticated request against its tenant's limit before any route runs. */
  rateLimiter?: Pick<TenantRateLimiter, 'admit'>;
}

/**
 * Wraps route handlers into one Lambda handler: the caller's tenant is required and its rate limit checked
 * before any route runs, requests are dispatched by the API Gateway route key, and every error becomes the
 * JSON error contract.
 */
export function createApiHandler(
  routes: Partial<Record<RouteKey, RouteHandler>>,
  options: ApiHandlerOptions = {},
) {
  return middy<ApiEvent, ApiResponse, Error, Context>()
    .use(headWithoutBody())
    .use(jsonErrors())
    .handler(async (event, context) => {
      // First, so every line of the request carries it, its error's too. Not Powertools' injectLambdaContext
      // middleware: that also re-decides the log level on each warm invocation, resetting a level set at run
      // time (the bench, chaos runs and tests quiet or raise it).
      logger.addContext(context);
      const tenantId = requireTenant(event);
      await options.rateLimiter?.admit(tenantId);
      const handler = routes[handlerKeyOf(event.routeKey) as RouteKey] ?? (() => unmatchedRoute(event));
      return handler({
        tenantId,
        pathParameters: event.pathParameters ?? {},
        query: event.queryStringParameters ?? {},
        jsonBody: () => parseJsonBody(event),
        optionalJsonBody: () => (event.body === undefined || event.body === '' ? {} : parseJsonBody(event)),
      });
    });
}

/** The one place errors become HTTP: client errors as they are, anything else as a bare 500. */
function jsonErrors(): MiddlewareObj<ApiEvent, ApiResponse, Error, Context> {
  return {
    onError: (request) => {
      const { error } = request;
      if (error instanceof HttpError) {
        request.response = jsonResponse(error.statusCode, error.toJSON());
        if (error.statusCode === 401)
          request.response.headers = { ...request.response.headers, 'www-authenticate': 'Bearer' };
        if (error instanceof MethodNotAllowedError)
          request.response.headers = { ...request.response.headers, allow: error.allowed.join(', ') };
        if (error instanceof TooManyRequestsError)
          request.response.headers = {
            ...request.response.headers,
            'retry-after': String(error.retryAfterSeconds),
          };
        return;
      }
      logger.error('unhandled error', { error, routeKey: request.event.routeKey });
      request.response = jsonResponse(500, {
        error: { code: 'internal_error', message: 'Internal server error' },
      });
    },
  };
}

/**
 * A HEAD request is answered as its GET would be, errors included, with the same headers and no body
 * (RFC 9110 §9.3.2); content-length still gives the size the GET body would have.
 */
function headWithoutBody(): MiddlewareObj<ApiEvent, ApiResponse, Error, Context> {
  const strip = (request: { event: ApiEvent; response?: ApiResponse | null | undefined }) => {
    const { response } = request;
    if (request.event.requestContext.http.method !== 'HEAD' || !response || response.body === undefined)
      return;
    const { body, ...rest } = response;
    request.response = {
      ...rest,
      headers: { ...rest.headers, 'content-length': String(Buffer.byteLength(body, 'utf8')) },
    };
  };
  return { after: strip, onError: strip };
}

function requireTenant(event: ApiEvent): string {
  const context = event.requestContext.authorizer?.lambda;
  if (context?.tenantId) return context.tenantId;
  if (context?.authError === 'invalid_api_key') {
    throw new UnauthorizedError('unauthorized', 'the API key is invalid or has been revoked');
  }
  throw new UnauthorizedError('unauthorized', 'an "Authorization: Bearer <api key>" header is required');
}

function unmatchedRoute(event: ApiEvent): never {
  const path = event.rawPath;
  const method = event.requestContext.http.method;
  const allowed = allowedMethods(path);
  if (allowed.length > 0) {
    throw new MethodNotAllowedError(
      `${method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`,
      allowed,
    );
  }
  throw new NotFoundError(`no route for ${method} ${path}`);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A body API Gateway passed base64-encoded (any content-type but text/*, application/json, xml or javascript,
 * none included) is decoded here, and bytes that are not UTF-8 are refused rather than replaced by U+FFFD.
 */
function decodeUtf8(bytes: Buffer): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new BadRequestError('invalid_json', 'the request body is not valid UTF-8');
  }
}

function parseJsonBody(event: ApiEvent): unknown {
  if (event.body === undefined || event.body === '') {
    throw new BadRequestError('invalid_json', 'the request body must be a JSON document');
  }
  const text = event.isBase64Encoded ? decodeUtf8(Buffer.from(event.body, 'base64')) : event.body;
  if (Buffer.byteLength(text, 'utf8') > MAX_REQUEST_BODY_BYTES) {
    throw new PayloadTooLargeError(`the request body must not exceed ${MAX_REQUEST_BODY_BYTES} bytes`);
  }
  const contentType = headerValue(event.headers, 'content-type');
  if (contentType !== undefined && !/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(contentType)) {
    throw new UnsupportedMediaTypeError(`content-type must be application/json, got "${contentType}"`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new BadRequestError(
      'invalid_json',
      `the request body is not valid JSON: ${(error as Error).message}`,
    );
  }
}
