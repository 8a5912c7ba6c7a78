/**
 * The HTTP API's routes, read by the CDK stack to create them and by the API handler to dispatch, so the
 * two cannot disagree. `handler` names the function behind the route.
 */
export const API_ROUTES = [
  { method: 'POST', path: '/subscriptions', handler: 'api' },
  { method: 'GET', path: '/subscriptions', handler: 'api' },
  { method: 'GET', path: '/subscriptions/{id}', handler: 'api' },
  { method: 'PATCH', path: '/subscriptions/{id}', handler: 'api' },
  { method: 'DELETE', path: '/subscriptions/{id}', handler: 'api' },
  { method: 'GET', path: '/subscriptions/{id}/attempts', handler: 'api' },
  { method: 'POST', path: '/subscriptions/{id}/secret/rotate', handler: 'api' },
  { method: 'POST', path: '/subscriptions/{id}/replay', handler: 'api' },
  { method: 'POST', path: '/events', handler: 'ingest' },
  // Reading stored events, their attempts and replays needs the tables, so the API function answers them.
  { method: 'GET', path: '/events/{id}', handler: 'api' },
  { method: 'GET', path: '/events/{id}/attempts', handler: 'api' },
  { method: 'POST', path: '/events/{id}/replay', handler: 'api' },
] as const;

export type ApiRoute = (typeof API_ROUTES)[number];
export type RouteKey = `${ApiRoute['method']} ${ApiRoute['path']}`;

/** A route as API Gateway sees it: one of API_ROUTES, or the HEAD twin of a GET route. */
export interface GatewayRoute {
  method: ApiRoute['method'] | 'HEAD';
  path: ApiRoute['path'];
  handler: ApiRoute['handler'];
}

/**
 * Every route the HTTP API has. HEAD is answered wherever GET is (RFC 9110 §9.3.2), by GET's handler without
 * the body; API Gateway matches a route's method exactly, so HEAD needs routes of its own, derived here.
 */
export const GATEWAY_ROUTES: readonly GatewayRoute[] = [
  ...API_ROUTES,
  ...API_ROUTES.filter((route) => route.method === 'GET').map((route) => ({
    ...route,
    method: 'HEAD' as const,
  })),
];

/** Requests that match no route go to the API function, which answers 404 or 405 in the error format. */
export const DEFAULT_ROUTE_HANDLER = 'api';

export function routeKeyOf(route: ApiRoute): RouteKey;
export function routeKeyOf(route: GatewayRoute): string;
export function routeKeyOf(route: GatewayRoute): string {
  return `${route.method} ${route.path}`;
}

/** The handler key a gateway route key runs: a HEAD route runs its GET route's handler. */
export function handlerKeyOf(routeKey: string): string {
  return routeKey.startsWith('HEAD ') ? `GET ${routeKey.slice('HEAD '.length)}` : routeKey;
}

/**
 * The path parameters when a concrete path fits a route template, e.g. "/subscriptions/{id}" and
 * "/subscriptions/sub_1" → { id: "sub_1" }; undefined when it does not fit.
 */
export function matchPath(template: string, path: string): Record<string, string> | undefined {
  const templateParts = template.split('/');
  const pathParts = path.split('/');
  if (templateParts.length !== pathParts.length) return undefined;
  const parameters: Record<string, string> = {};
  for (const [i, part] of templateParts.entries()) {
    const segment = pathParts[i] ?? '';
    if (part.startsWith('{')) {
      if (segment === '') return undefined;
      parameters[part.slice(1, -1)] = decodeSegment(segment);
    } else if (part !== segment) {
      return undefined;
    }
  }
  return parameters;
}

/** The methods a path answers, sorted, as a 405's `Allow` header lists them; empty when no route fits. */
export function allowedMethods(path: string): string[] {
  const methods = GATEWAY_ROUTES.filter((route) => matchPath(route.path, path) !== undefined).map(
    (route) => route.method,
  );
  return [...new Set(methods)].sort();
}

/** A malformed escape such as "%E0%A4" is kept as sent: it then matches no id, which is a 404, not a crash. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
