import type { ApiRequest } from '../../../local/emulators/api-gateway.js';
import { bearer, type startTestService } from '../service.js';

/**
 * The vocabulary of the hostile-input suite (test/security/hostile-*.test.ts): the world its cases act on, a
 * case, and the builders of the requests the case tables are written with.
 */

export type Service = Awaited<ReturnType<typeof startTestService>>;
export type Tenant = Awaited<ReturnType<Service['createTenant']>>;

/** What the cases act on, made in beforeAll: tenants, their subscriptions and stored events. */
export interface World {
  /** The caller of most cases. */
  alice: Tenant;
  /** The other tenant whose resources alice must never reach. */
  bob: Tenant;
  /** At the cap of one subscription (the `capped` API). */
  carol: Tenant;
  /** Has used up its requests for the second (the `throttled` API). */
  dave: Tenant;
  /** A revoked key. */
  erin: Tenant;
  aliceSub: string;
  aliceDisabled: string;
  aliceEvent: string;
  bobSub: string;
  bobEvent: string;
  daveSub: string;
  erinSub: string;
}

export interface HostileCase {
  name: string;
  request: (world: World) => ApiRequest;
  status: number;
  code: string;
  /** The API to send it to: the service's own, or one with a subscription cap of 1, or a 2 requests/s limit. */
  via?: 'capped' | 'throttled';
}

export const VALID_SUBSCRIPTION = { url: 'https://hooks.example.com/hostile', eventTypes: ['order.*'] };
export const VALID_EVENT = { type: 'order.created', data: { orderId: 1 } };
export const RECENT = '2026-01-01T00:00:00Z';
export const b64 = (text: string) => Buffer.from(text).toString('base64url');

export function by(
  tenant: Tenant,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): ApiRequest {
  return {
    method,
    path,
    headers: { ...bearer(tenant.apiKey), ...headers },
    ...(body === undefined ? {} : { body }),
  };
}

/** A request with exactly these headers (no key unless given). */
export function bare(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): ApiRequest {
  return { method, path, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) };
}

export const createRaw = (name: string, body: string, status: number, code: string): HostileCase => ({
  name,
  status,
  code,
  request: (w) => by(w.alice, 'POST', '/subscriptions', body),
});
export const create = (name: string, body: unknown, status = 422, code = 'validation_error') =>
  createRaw(name, JSON.stringify(body), status, code);
export const publishRaw = (name: string, body: string, status: number, code: string): HostileCase => ({
  name,
  status,
  code,
  request: (w) => by(w.alice, 'POST', '/events', body),
});
export const publish = (name: string, body: unknown, status = 422, code = 'validation_error') =>
  publishRaw(name, JSON.stringify(body), status, code);
export const patchRaw = (name: string, body: string, status: number, code: string): HostileCase => ({
  name,
  status,
  code,
  request: (w) => by(w.alice, 'PATCH', `/subscriptions/${w.aliceSub}`, body),
});
export const patch = (name: string, body: unknown, status = 422, code = 'validation_error') =>
  patchRaw(name, JSON.stringify(body), status, code);
export const get = (name: string, path: (w: World) => string, status: number, code: string): HostileCase => ({
  name,
  status,
  code,
  request: (w) => by(w.alice, 'GET', path(w)),
});
export const withUrl = (url: string) => ({ ...VALID_SUBSCRIPTION, url });
export const withType = (type: string) => ({ ...VALID_EVENT, type });
export const nested = (depth: number, leaf: unknown = 1): unknown => {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
};
