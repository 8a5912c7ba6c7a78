/**
 * The HTTP API's routes, read by the CDK stack to create them and by the register handler to dispatch, so the
 * two cannot disagree. `handler` names the function behind the route.
 */
export const API_ROUTES = [
  { method: 'POST', path: '/subscriptions', handler: 'register' },
  { method: 'GET', path: '/subscriptions', handler: 'register' },
  { method: 'GET', path: '/subscriptions/{id}', handler: 'register' },
  { method: 'PATCH', path: '/subscriptions/{id}', handler: 'register' },
  { method: 'DELETE', path: '/subscriptions/{id}', handler: 'register' },
  { method: 'POST', path: '/events', handler: 'ingest' },
] as const;

export type ApiRoute = (typeof API_ROUTES)[number];
export type RouteKey = `${ApiRoute['method']} ${ApiRoute['path']}`;

/** Requests that match no route go to the register function, which answers 404 or 405 in the error format. */
export const DEFAULT_ROUTE_HANDLER = 'register';

export function routeKeyOf(route: ApiRoute): RouteKey {
  return `${route.method} ${route.path}` as RouteKey;
}

/** The route templates whose path matches a concrete path, e.g. "/subscriptions/sub_1" → "/subscriptions/{id}". */
export function routesForPath(path: string): ApiRoute[] {
  const segments = path.split('/');
  return API_ROUTES.filter((route) => {
    const template = route.path.split('/');
    return (
      template.length === segments.length &&
      template.every((part, i) => (part.startsWith('{') ? (segments[i] ?? '') !== '' : part === segments[i]))
    );
  });
}
