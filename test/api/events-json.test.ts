import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalHttpServer, startHttpServer } from '../../local/http-server.js';
import type { LocalService } from '../../local/service.js';
import { waitFor } from '../../local/wait.js';
import { startReceiver } from '../support/receiver.js';
import { bearer, startTestService } from '../support/service.js';
import { subscribeReceiver } from '../support/subscriptions.js';

/**
 * What "as published" means for a payload: it is parsed as JSON and stored and delivered as JSON.stringify
 * writes it again. Numbers a double cannot hold and bodies that are not UTF-8 are refused, not altered.
 */
describe('Events: payloads as JSON', () => {
  let service: LocalService;
  let server: LocalHttpServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let apiKey: string;

  beforeAll(async () => {
    service = await startTestService();
    server = await startHttpServer({ port: 0, host: '127.0.0.1', log: () => undefined });
    server.serve({ api: service.api, status: async () => ({}) });
    receiver = await startReceiver();
    ({ apiKey } = await service.createTenant('json'));
    await subscribeReceiver(service.api, apiKey, receiver, { eventTypes: ['order.*'] });
  });
  afterAll(async () => {
    await receiver.close();
    await server.close();
    await service.close();
  });

  const publish = (body: string | Uint8Array, headers: Record<string, string> = bearer(apiKey)) =>
    fetch(`${server.url}/events`, { method: 'POST', headers, body });
  const stored = (id: string) =>
    service.api({ method: 'GET', path: `/events/${id}`, headers: bearer(apiKey) });

  it('stores and delivers the JSON re-serialisation: 1.0 as 1, 1e3 as 1000, escapes as characters', async () => {
    const published = await publish(
      '{ "type": "order.created", "id": "json-1", "data": { "price": 1.0, "n": 1e3, "s": "\\u00e9\\/" } }',
    );
    expect(published.status).toBe(202);
    expect(await service.pollFanout()).toMatchObject({ succeeded: 1 });
    expect(await service.pollDelivery()).toMatchObject({ succeeded: 1 });

    const delivery = await waitFor(
      () => receiver.received.find((item) => item.headers['webhook-id'] === 'json-1'),
      { what: 'the delivery' },
    );
    expect(delivery.verificationError).toBeUndefined();
    expect(delivery.body).toContain('"data":{"price":1,"n":1000,"s":"é/"}');
    expect(JSON.parse((await stored('json-1')).body).data).toEqual({ price: 1, n: 1000, s: 'é/' });
  });

  it('refuses a number too large for a double (1e400) with 422 naming the field, and stores nothing', async () => {
    const published = await publish(
      '{"type": "order.created", "id": "json-2", "data": {"amounts": [1, {"total": -1e400}]}}',
    );
    expect(published.status).toBe(422);
    const { error } = (await published.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('validation_error');
    expect(error.message).toMatch(/^data\.amounts\[1\]\.total: must be a number a double can hold/);
    expect(await service.pollFanout()).toMatchObject({ received: 0 });
  });

  it('refuses a body that is not UTF-8 with 400 invalid_json when it reaches the function undecoded', async () => {
    const text = '{"type": "order.created", "id": "json-3", "data": {"name": "caf_"}}';
    const bytes = Buffer.from(text, 'utf8');
    bytes[bytes.indexOf('_')] = 0xe9; // "é" in Latin-1: not UTF-8
    const { authorization } = bearer(apiKey);
    // Without a content-type API Gateway passes the body base64-encoded, bytes intact (local mode does too).
    const published = await publish(bytes, { authorization: authorization ?? '' });
    expect(published.status).toBe(400);
    expect(await published.json()).toEqual({
      error: { code: 'invalid_json', message: 'the request body is not valid UTF-8' },
    });
    expect(await service.pollFanout()).toMatchObject({ received: 0 });

    // The same bytes with a valid sequence are published, so it is the encoding that was refused.
    const valid = Buffer.from(text.replace('caf_', 'café'), 'utf8');
    expect((await publish(valid, { authorization: authorization ?? '' })).status).toBe(202);

    // Sent as application/json, API Gateway decodes the body to text before any function runs, so the
    // function cannot tell: local mode decodes it the same way, invalid bytes becoming U+FFFD.
    const decoded = await publish(
      Buffer.from(bytes.toString('latin1').replace('json-3', 'json-4'), 'latin1'),
      {
        ...bearer(apiKey),
      },
    );
    expect(decoded.status).toBe(202);
    expect(await service.pollFanout()).toMatchObject({ received: 2, succeeded: 2 });
    expect(JSON.parse((await stored('json-4')).body).data).toEqual({ name: 'caf\uFFFD' });
  });
});
