import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalHttpServer, startHttpServer } from '../../local/http-server.js';
import type { LocalService } from '../../local/service.js';
import { bearer, startTestService } from '../support/service.js';

/**
 * HTTP method semantics through local mode's HTTP server, as a client sees them: every 405 names the path's
 * methods in `Allow` (RFC 9110 §15.5.6), and HEAD answers wherever GET does, with GET's status and headers and
 * no body (§9.3.2), authentication included.
 */
describe('API: 405 Allow and HEAD', () => {
  let service: LocalService;
  let server: LocalHttpServer;
  let apiKey: string;
  let subscriptionId: string;

  beforeAll(async () => {
    service = await startTestService();
    server = await startHttpServer({ port: 0, host: '127.0.0.1', log: () => undefined });
    server.serve({ api: service.api, status: async () => ({ queues: {} }) });
    ({ apiKey } = await service.createTenant('http-methods'));
    const created = await call('POST', '/subscriptions', {
      url: 'http://127.0.0.1:9/webhooks',
      eventTypes: ['order.*'],
    });
    subscriptionId = ((await created.json()) as { id: string }).id;
  });
  afterAll(async () => {
    await server.close();
    await service.close();
  });

  const call = (method: string, path: string, body?: unknown, headers = bearer(apiKey)) =>
    fetch(`${server.url}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  /**
   * The end-to-end headers a client sees, without the date. fetch asks to close the connection after a HEAD
   * (undici does, against servers that send a body anyway), so connection and keep-alive differ by design.
   */
  const headersOf = (response: Response) =>
    Object.fromEntries(
      [...response.headers].filter(([name]) => !['date', 'connection', 'keep-alive'].includes(name)),
    );

  it.each([
    ['PUT', '/subscriptions', 'GET, HEAD, POST'],
    ['POST', '/subscriptions/{id}', 'DELETE, GET, HEAD, PATCH'],
    ['DELETE', '/subscriptions/{id}/attempts', 'GET, HEAD'],
    ['GET', '/subscriptions/{id}/replay', 'POST'],
    ['GET', '/events', 'POST'],
    ['DELETE', '/events/evt_1', 'GET, HEAD'],
    ['POST', '/health', 'GET, HEAD'],
    ['GET', '/_local/redrive', 'POST'],
  ])('%s %s → 405 with Allow: %s', async (method, path, allow) => {
    const response = await call(method, path.replace('{id}', subscriptionId));
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe(allow);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
  });

  it('answers HEAD on a GET route as GET, with the same headers and no body', async () => {
    for (const path of ['/subscriptions', `/subscriptions/${subscriptionId}`, '/events/evt_missing']) {
      const get = await call('GET', path);
      const head = await call('HEAD', path);
      expect(head.status, path).toBe(get.status);
      expect(headersOf(head), path).toEqual(headersOf(get));
      expect(await head.text(), path).toBe('');
      expect(Number(head.headers.get('content-length')), path).toBe((await get.text()).length);
    }
  });

  it('needs the same key for HEAD as for GET: without one it is a 401 without a body', async () => {
    const get = await call('GET', '/subscriptions', undefined, {});
    const head = await call('HEAD', '/subscriptions', undefined, {});
    expect(get.status).toBe(401);
    expect(head.status).toBe(401);
    expect(headersOf(head)).toEqual(headersOf(get));
    expect(head.headers.get('www-authenticate')).toBe('Bearer');
    expect(await head.text()).toBe('');
  });

  it('answers HEAD on a path without GET with 405 and its Allow, without a body', async () => {
    const head = await call('HEAD', '/events');
    expect(head.status).toBe(405);
    expect(head.headers.get('allow')).toBe('POST');
    expect(await head.text()).toBe('');
  });

  it('answers HEAD /health and HEAD /_local/status like their GET, without a body', async () => {
    for (const path of ['/health', '/_local/status']) {
      const get = await fetch(`${server.url}${path}`);
      const head = await fetch(`${server.url}${path}`, { method: 'HEAD' });
      expect(head.status, path).toBe(200);
      expect(headersOf(head), path).toEqual(headersOf(get));
      expect(await head.text(), path).toBe('');
    }
  });
});
