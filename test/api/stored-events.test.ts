import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_REQUEST_BODY_BYTES } from '../../lambdas/api/handler.js';
import {
  MAX_EVENT_ENTRY_BYTES,
  putEventsEntryBytes,
  toPutEventsEntry,
} from '../../lambdas/contract/bus-events.js';
import { EventStore } from '../../lambdas/storage/events.js';
import { peekAll } from '../../local/emulators/queue-metrics.js';
import { storedEvent } from '../support/events.js';
import { bearer, startTestService } from '../support/service.js';

type Service = Awaited<ReturnType<typeof startTestService>>;
type Tenant = Awaited<ReturnType<Service['createTenant']>>;

describe('API: stored events (GET /events/{id}) and event size', () => {
  let service: Service;
  let tenantA: Tenant;
  let tenantB: Tenant;
  let events: EventStore;
  const stored = {
    id: 'order-42:created',
    type: 'order.created',
    timestamp: '2026-02-01T10:00:00.000Z',
    data: { order: 42, lines: [{ sku: 'A-1', qty: 2 }], note: 'naïve ✓' },
  };

  beforeAll(async () => {
    service = await startTestService();
    tenantA = await service.createTenant('events-a');
    tenantB = await service.createTenant('events-b');
    events = new EventStore(service.clients.db, service.resources.tables.events, 30);
    await events.claim(storedEvent({ ...stored, tenantId: tenantA.tenantId }));
    await events.claim(
      storedEvent({ tenantId: tenantA.tenantId, id: 'evt-expired', type: 'a' }),
      new Date(Date.now() - 31 * 86_400_000),
    );
  });
  afterAll(() => service.close());

  const call = (tenant: Tenant, method: string, path: string, body?: string) =>
    service.api({ method, path, headers: bearer(tenant.apiKey), ...(body === undefined ? {} : { body }) });
  const json = (response: { body: string }) => JSON.parse(response.body);
  const fanoutQueueDepth = async () =>
    (await peekAll(service.clients.sqs, service.resources.queues.fanout.url, 1)).length;
  /** A JSON object whose serialisation is exactly `bytes` long in UTF-8, made of `char` (1 or 2 bytes). */
  /** What the bus entry of a published event adds to its data: tenant source, type, a generated id. */
  const entryOverhead = (tenantId: string, type: string) =>
    putEventsEntryBytes(toPutEventsEntry('bus', tenantId, { id: `evt_${'0'.repeat(26)}`, type, data: {} })) -
    Buffer.byteLength('{}');
  const dataOfBytes = (bytes: number, char = 'x') => {
    const envelope = Buffer.byteLength(JSON.stringify({ blob: '' }));
    const count = (bytes - envelope) / Buffer.byteLength(char);
    expect(Number.isInteger(count)).toBe(true);
    return { blob: char.repeat(count) };
  };

  describe('GET /events/{id}', () => {
    it('answers the stored event: id, type, timestamp and data, nothing else', async () => {
      const response = await call(tenantA, 'GET', `/events/${encodeURIComponent(stored.id)}`);
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('application/json');
      expect(json(response)).toEqual(stored);
    });

    it.each([
      ['an unknown id', '/events/evt-never', /does not exist/],
      ['an event past its retention', '/events/evt-expired', /retention/],
      ['a malformed id', '/events/a%20b', /does not exist/],
    ])('answers 404 for %s', async (_name, path, message) => {
      const response = await call(tenantA, 'GET', path);
      expect(response.statusCode).toBe(404);
      expect(json(response).error).toEqual({ code: 'not_found', message: expect.stringMatching(message) });
    });

    it("answers 404 for another tenant's event", async () => {
      const response = await call(tenantB, 'GET', `/events/${encodeURIComponent(stored.id)}`);
      expect(response.statusCode).toBe(404);
      expect(json(response).error.code).toBe('not_found');
    });

    it('answers 405 for methods other than GET', async () => {
      const response = await call(tenantA, 'DELETE', `/events/${encodeURIComponent(stored.id)}`);
      expect(response.statusCode).toBe(405);
      expect(json(response).error.message).toMatch(/allowed: GET, HEAD$/);
      expect(response.headers.allow).toBe('GET, HEAD');
    });
  });

  describe('event size (POST /events)', () => {
    it('accepts an event whose bus entry is exactly 256 KB and stores it whole', async () => {
      const data = dataOfBytes(MAX_EVENT_ENTRY_BYTES - entryOverhead(tenantA.tenantId, 'blob.stored'));
      const response = await call(tenantA, 'POST', '/events', JSON.stringify({ type: 'blob.stored', data }));
      expect(response.statusCode).toBe(202);
      const { id } = json(response);
      expect((await service.pollFanout()).received).toBe(1);
      const fetched = await call(tenantA, 'GET', `/events/${id}`);
      expect(fetched.statusCode).toBe(200);
      expect(json(fetched).data).toEqual(data);
    });

    it.each([
      [
        'making an entry one byte over 256 KB',
        () => dataOfBytes(MAX_EVENT_ENTRY_BYTES - entryOverhead(tenantA.tenantId, 'blob.stored') + 1),
      ],
      // Under the limit in characters, over it in UTF-8 bytes.
      ['over 256 KB in two-byte characters', () => dataOfBytes(MAX_EVENT_ENTRY_BYTES + 1, 'é')],
    ])('refuses data %s with 413 and publishes nothing', async (_name, data) => {
      const response = await call(
        tenantA,
        'POST',
        '/events',
        JSON.stringify({ type: 'blob.stored', data: data() }),
      );
      expect(response.statusCode).toBe(413);
      expect(response.headers['content-type']).toBe('application/json');
      expect(json(response).error).toEqual({
        code: 'payload_too_large',
        message: expect.stringMatching(
          /^the event is \d+ bytes? over the limit: .* at most 262144 are allowed$/,
        ),
      });
      expect(await fanoutQueueDepth()).toBe(0);
    });

    it('refuses a request body over the cap before parsing it', async () => {
      const response = await call(tenantA, 'POST', '/events', 'x'.repeat(MAX_REQUEST_BODY_BYTES + 1));
      expect(response.statusCode).toBe(413);
      expect(json(response).error).toEqual({
        code: 'payload_too_large',
        message: `the request body must not exceed ${MAX_REQUEST_BODY_BYTES} bytes`,
      });
      expect(await fanoutQueueDepth()).toBe(0);
    });
  });
});
